//! OTLP/JSON lines: the collector file-exporter format (one `ExportTraceServiceRequest` /
//! `ExportMetricsServiceRequest` JSON object per line; hex ids, 64-bit integers as strings).

use std::io::Write;

use opentelemetry_proto::tonic::metrics::v1::MetricsData;
use opentelemetry_proto::tonic::trace::v1::TracesData;
use serde::Serialize;

use cp_kernel::Plane;

use crate::config::OtelConfig;
use crate::error::OtelError;
use crate::project::{ProjectionOptions, ProjectionStats, Projector, batches, traces_data};
use crate::select::{Selection, for_each_page};

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// Projection counts.
    pub stats: ProjectionStats,
    /// Trace lines written.
    pub trace_lines: u64,
    /// Metric lines written (0 or 1).
    pub metric_lines: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// One line of OTLP/JSON for `traces`.
pub fn traces_json(traces: &TracesData) -> String {
    serde_json::to_string(traces).unwrap_or_default()
}

/// One line of OTLP/JSON for `metrics`.
pub fn metrics_json(metrics: &MetricsData) -> String {
    serde_json::to_string(metrics).unwrap_or_default()
}

/// The projection options of `cfg` with `service_name`.
pub fn projection_options(cfg: &OtelConfig, service_name: &str) -> ProjectionOptions {
    ProjectionOptions { service_name: service_name.to_string(), metrics: cfg.metrics.clone() }
}

/// Writes the selected entries of `plane` as OTLP/JSON lines to `out`: trace lines of at most
/// `push.max_spans_per_batch` spans, then one metrics line when any prompt was answered.
pub fn export_json_lines(
    plane: &Plane,
    sel: &Selection,
    cfg: &OtelConfig,
    service_name: &str,
    out: &mut dyn Write,
    path: &std::path::Path,
) -> Result<ExportSummary, OtelError> {
    let mut p = Projector::new(projection_options(cfg, service_name));
    let mut sum = ExportSummary::default();
    let mut write = |line: String, sum: &mut ExportSummary| -> Result<(), OtelError> {
        out.write_all(line.as_bytes()).and_then(|()| out.write_all(b"\n")).map_err(|e| OtelError::io(path, e))?;
        sum.bytes += line.len() as u64 + 1;
        Ok(())
    };
    let max = cfg.push.max_spans_per_batch;
    let mut held = Vec::new();
    for_each_page(plane, sel, cfg.read_page_entries, &mut |page| {
        for e in page {
            p.push(e);
        }
        held.extend(p.take_ready());
        if held.iter().map(Vec::len).sum::<usize>() >= max {
            for b in batches(std::mem::take(&mut held), max) {
                write(traces_json(&traces_data(service_name, b)), &mut sum)?;
                sum.trace_lines += 1;
            }
        }
        Ok(())
    })?;
    let (rest, metrics, stats) = p.finish();
    held.extend(rest);
    for b in batches(held, max) {
        write(traces_json(&traces_data(service_name, b)), &mut sum)?;
        sum.trace_lines += 1;
    }
    if !metrics.resource_metrics.is_empty() {
        write(metrics_json(&metrics), &mut sum)?;
        sum.metric_lines = 1;
    }
    sum.stats = stats;
    Ok(sum)
}
