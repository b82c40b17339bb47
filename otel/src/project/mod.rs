//! The projection: ledger entries → OTLP spans and the two GenAI metrics. Pure and
//! deterministic: the same entries in the same order give the same messages (and bytes).
//!
//! Per routed prompt (`PROMPT_SENT` + its `PROMPT_RECEIVED` / `PROMPT_FAILED`): a root span
//! (`invoke_agent {agent}` or `chat`), one span per attention stage run (`retrieval …`,
//! `rerank …` for structuring), and the provider call `chat {model}` (CLIENT) with the GenAI
//! semantic-convention attributes of [`SEMCONV_VERSION`]. A refusal (`PROMPT_REJECTED`,
//! `ACCESS_DENIED`) is one span with error status and its code. Other entries are counted in
//! [`ProjectionStats::not_projected`], never dropped silently.

mod attrs;
mod metrics;
mod spans;

use std::collections::{BTreeMap, HashMap};

use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{MetricsData, ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, TracesData};
use serde::Serialize;

use cp_kernel::{LedgerEntry, event};

use crate::config::MetricsConfig;
use attrs::{meta_str, meta_u64, nanos, s};
use metrics::{MetricsAcc, Observation};

/// The GenAI semantic-conventions version the attributes follow (also the scope's schema URL).
pub const SEMCONV_VERSION: &str = "1.38.0";
/// Instrumentation scope name.
pub const SCOPE_NAME: &str = "cp-otel";

/// A ledger entry with the name of its ledger (`HO1/prompts`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SourcedEntry {
    /// Ledger name.
    pub ledger: String,
    /// The entry.
    pub entry: LedgerEntry,
}

/// What a projection needs besides the entries.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionOptions {
    /// `service.name` of the resource.
    pub service_name: String,
    /// Histogram buckets.
    pub metrics: MetricsConfig,
}

/// Counts of what a projection did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProjectionStats {
    /// Entries read.
    pub entries: u64,
    /// Spans produced.
    pub spans: u64,
    /// Routed prompts (a `PROMPT_SENT`) projected.
    pub prompts: u64,
    /// Of those, still in flight (no answer among the entries).
    pub in_flight: u64,
    /// Refusals (`PROMPT_REJECTED`, `ACCESS_DENIED`).
    pub refusals: u64,
    /// Answers whose `PROMPT_SENT` was not among the entries.
    pub orphans: u64,
    /// Entries that are not spans, by event type.
    pub not_projected: BTreeMap<String, u64>,
}

/// Streaming projector: push entries in ledger order, take the spans of finished prompts, and
/// finish to flush prompts still in flight and get the metrics.
#[derive(Debug)]
pub struct Projector {
    opts: ProjectionOptions,
    pending: HashMap<String, SourcedEntry>,
    pending_order: Vec<String>,
    ready: Vec<Vec<Span>>,
    metrics: MetricsAcc,
    stats: ProjectionStats,
}

impl Projector {
    /// A projector with `opts`.
    pub fn new(opts: ProjectionOptions) -> Self {
        Self {
            opts,
            pending: HashMap::new(),
            pending_order: Vec::new(),
            ready: Vec::new(),
            metrics: MetricsAcc::default(),
            stats: ProjectionStats::default(),
        }
    }

    /// Projects one entry.
    pub fn push(&mut self, se: SourcedEntry) {
        self.stats.entries += 1;
        match se.entry.event_type.as_str() {
            event::PROMPT_SENT => {
                self.pending_order.push(se.entry.id.clone());
                self.pending.insert(se.entry.id.clone(), se);
            }
            event::PROMPT_RECEIVED | event::PROMPT_FAILED => self.answer(&se),
            event::PROMPT_REJECTED | event::ACCESS_DENIED => {
                self.stats.refusals += 1;
                self.emit(vec![spans::refusal_span(&se)]);
            }
            other => *self.stats.not_projected.entry(other.to_string()).or_default() += 1,
        }
    }

    fn answer(&mut self, ans: &SourcedEntry) {
        self.observe(ans);
        let sent = ans.entry.parent_event_id.as_deref().and_then(|id| self.pending.remove(id));
        match sent {
            Some(sent) => {
                self.pending_order.retain(|id| *id != sent.entry.id);
                self.stats.prompts += 1;
                self.emit(spans::prompt_spans(&sent, Some(ans)));
            }
            None => {
                self.stats.orphans += 1;
                self.emit(vec![spans::orphan_answer_span(ans)]);
            }
        }
    }

    fn observe(&mut self, ans: &SourcedEntry) {
        let e = &ans.entry;
        let mut a = vec![("gen_ai.operation.name", "chat".to_string())];
        if let Some(p) = meta_str(e, "provider") {
            a.push(("gen_ai.provider.name", p.to_string()));
        }
        if let Some(m) = meta_str(e, "model") {
            a.push(("gen_ai.response.model", m.to_string()));
        }
        let failed = e.event_type == event::PROMPT_FAILED;
        if failed {
            a.push(("error.type", meta_str(e, "error_code").unwrap_or("PROMPT_FAILED").to_string()));
        }
        let o = Observation {
            attrs: a,
            input_tokens: if failed { None } else { meta_u64(e, "input_tokens") },
            output_tokens: if failed { None } else { meta_u64(e, "output_tokens") },
            duration_s: meta_u64(e, "latency_ms").unwrap_or(0) as f64 / 1000.0,
            at: nanos(&e.timestamp),
        };
        self.metrics.record(&o, &self.opts.metrics.token_usage_buckets, &self.opts.metrics.duration_buckets_s);
    }

    fn emit(&mut self, group: Vec<Span>) {
        self.stats.spans += group.len() as u64;
        self.ready.push(group);
    }

    /// The spans of finished prompts and refusals so far, one group per prompt, in order.
    pub fn take_ready(&mut self) -> Vec<Vec<Span>> {
        std::mem::take(&mut self.ready)
    }

    /// Ids of `PROMPT_SENT` entries still waiting for their answer, oldest first.
    pub fn pending(&self) -> &[String] {
        &self.pending_order
    }

    /// The `PROMPT_SENT` entries still waiting for their answer, oldest first (to persist).
    pub fn pending_entries(&self) -> Vec<SourcedEntry> {
        self.pending_order.iter().filter_map(|id| self.pending.get(id).cloned()).collect()
    }

    /// Puts back `PROMPT_SENT` entries saved by [`Projector::pending_entries`].
    pub fn restore_pending(&mut self, sent: Vec<SourcedEntry>) {
        for se in sent {
            self.pending_order.push(se.entry.id.clone());
            self.pending.insert(se.entry.id.clone(), se);
        }
    }

    /// The metrics accumulated since the last call (delta), resetting the accumulator.
    pub fn take_metrics(&mut self) -> MetricsData {
        let m = self.metrics_data();
        self.metrics = MetricsAcc::default();
        m
    }

    /// Flushes prompts still in flight (as spans marked `cp.in_flight`) and returns the
    /// remaining span groups, the metrics and the counts.
    pub fn finish(mut self) -> (Vec<Vec<Span>>, MetricsData, ProjectionStats) {
        for id in std::mem::take(&mut self.pending_order) {
            if let Some(sent) = self.pending.remove(&id) {
                self.stats.prompts += 1;
                self.stats.in_flight += 1;
                self.emit(spans::prompt_spans(&sent, None));
            }
        }
        let metrics = self.metrics_data();
        (std::mem::take(&mut self.ready), metrics, self.stats)
    }

    /// The metrics accumulated so far (empty when no answer was seen).
    pub fn metrics_data(&self) -> MetricsData {
        let m = self.metrics.metrics(&self.opts.metrics.token_usage_buckets, &self.opts.metrics.duration_buckets_s);
        if m.is_empty() {
            return MetricsData::default();
        }
        MetricsData {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(resource(&self.opts.service_name)),
                scope_metrics: vec![ScopeMetrics { scope: Some(scope()), metrics: m, schema_url: schema_url() }],
                schema_url: schema_url(),
            }],
        }
    }

    /// The options.
    pub fn options(&self) -> &ProjectionOptions {
        &self.opts
    }
}

/// The schema URL of [`SEMCONV_VERSION`].
pub fn schema_url() -> String {
    format!("https://opentelemetry.io/schemas/{SEMCONV_VERSION}")
}

/// The resource: `service.name`, the SDK triple and the pinned semantic-conventions version.
pub fn resource(service_name: &str) -> Resource {
    let attributes: Vec<KeyValue> = vec![
        s("service.name", service_name),
        s("telemetry.sdk.name", SCOPE_NAME),
        s("telemetry.sdk.language", "rust"),
        s("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
        s("cp.semconv.version", SEMCONV_VERSION),
    ];
    Resource { attributes, ..Default::default() }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope { name: SCOPE_NAME.into(), version: env!("CARGO_PKG_VERSION").into(), ..Default::default() }
}

/// Span groups as one `TracesData` message (one resource, one scope).
pub fn traces_data(service_name: &str, groups: Vec<Vec<Span>>) -> TracesData {
    let spans: Vec<Span> = groups.into_iter().flatten().collect();
    TracesData {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource(service_name)),
            scope_spans: vec![ScopeSpans { scope: Some(scope()), spans, schema_url: schema_url() }],
            schema_url: schema_url(),
        }],
    }
}

/// Splits span groups into batches of at most `max_spans` spans (a group is never split; a
/// group larger than `max_spans` is a batch of its own).
pub fn batches(groups: Vec<Vec<Span>>, max_spans: usize) -> Vec<Vec<Vec<Span>>> {
    let mut out: Vec<Vec<Vec<Span>>> = Vec::new();
    let mut n = 0usize;
    for g in groups {
        if out.is_empty() || (n + g.len() > max_spans && n > 0) {
            out.push(Vec::new());
            n = 0;
        }
        n += g.len();
        if let Some(last) = out.last_mut() {
            last.push(g);
        }
    }
    out
}

/// The whole projection of `entries`: traces (one message), metrics and counts.
pub fn project(
    entries: impl IntoIterator<Item = SourcedEntry>,
    opts: &ProjectionOptions,
) -> (TracesData, MetricsData, ProjectionStats) {
    let mut p = Projector::new(opts.clone());
    let mut groups = Vec::new();
    for e in entries {
        p.push(e);
        groups.extend(p.take_ready());
    }
    let (rest, metrics, stats) = p.finish();
    groups.extend(rest);
    (traces_data(&opts.service_name, groups), metrics, stats)
}
