//! The two GenAI client metrics as OTLP histograms (delta temporality over the projected
//! window): `gen_ai.client.token.usage` (per token type) and `gen_ai.client.operation.duration`.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, metric::Data,
};

use super::attrs::s;

/// Attribute set of one data point, as sorted `(key, value)` pairs.
type Key = Vec<(String, String)>;

#[derive(Debug, Clone, Default)]
struct Hist {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    buckets: Vec<u64>,
}

impl Hist {
    fn record(&mut self, bounds: &[f64], v: f64) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; bounds.len() + 1];
            self.min = v;
            self.max = v;
        }
        let i = bounds.iter().position(|b| v <= *b).unwrap_or(bounds.len());
        self.buckets[i] += 1;
        self.count += 1;
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }
}

/// Accumulates the metric points of a projection.
#[derive(Debug, Clone, Default)]
pub(crate) struct MetricsAcc {
    tokens: BTreeMap<Key, Hist>,
    duration: BTreeMap<Key, Hist>,
    start: Option<u64>,
    end: u64,
}

/// One operation to record.
pub(crate) struct Observation<'a> {
    pub(crate) attrs: Vec<(&'a str, String)>,
    pub(crate) input_tokens: Option<u64>,
    pub(crate) output_tokens: Option<u64>,
    pub(crate) duration_s: f64,
    pub(crate) at: u64,
}

impl MetricsAcc {
    /// Records one operation.
    pub(crate) fn record(&mut self, o: &Observation<'_>, token_bounds: &[f64], duration_bounds: &[f64]) {
        let base: Key = {
            let mut k: Key = o.attrs.iter().map(|(a, b)| ((*a).to_string(), b.clone())).collect();
            k.sort();
            k
        };
        for (kind, v) in [("input", o.input_tokens), ("output", o.output_tokens)] {
            let Some(v) = v else { continue };
            let mut k = base.clone();
            k.push(("gen_ai.token.type".into(), kind.into()));
            k.sort();
            self.tokens.entry(k).or_default().record(token_bounds, v as f64);
        }
        self.duration.entry(base).or_default().record(duration_bounds, o.duration_s);
        self.start = Some(self.start.map_or(o.at, |s| s.min(o.at)));
        self.end = self.end.max(o.at);
    }

    /// Whether nothing was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.duration.is_empty()
    }

    /// The two metrics (none when nothing was recorded).
    pub(crate) fn metrics(&self, token_bounds: &[f64], duration_bounds: &[f64]) -> Vec<Metric> {
        if self.is_empty() {
            return Vec::new();
        }
        let start = self.start.unwrap_or(0);
        vec![
            histogram(
                "gen_ai.client.token.usage",
                "Number of input and output tokens used.",
                "{token}",
                &self.tokens,
                token_bounds,
                (start, self.end),
            ),
            histogram(
                "gen_ai.client.operation.duration",
                "GenAI operation duration.",
                "s",
                &self.duration,
                duration_bounds,
                (start, self.end),
            ),
        ]
    }
}

fn histogram(
    name: &str,
    description: &str,
    unit: &str,
    points: &BTreeMap<Key, Hist>,
    bounds: &[f64],
    (start, end): (u64, u64),
) -> Metric {
    let data_points = points
        .iter()
        .map(|(k, h)| HistogramDataPoint {
            attributes: k.iter().map(|(a, b)| s(a, b.clone())).collect::<Vec<KeyValue>>(),
            start_time_unix_nano: start,
            time_unix_nano: end,
            count: h.count,
            sum: Some(h.sum),
            bucket_counts: h.buckets.clone(),
            explicit_bounds: bounds.to_vec(),
            min: Some(h.min),
            max: Some(h.max),
            ..Default::default()
        })
        .collect();
    Metric {
        name: name.into(),
        description: description.into(),
        unit: unit.into(),
        data: Some(Data::Histogram(Histogram {
            data_points,
            aggregation_temporality: AggregationTemporality::Delta as i32,
        })),
        ..Default::default()
    }
}
