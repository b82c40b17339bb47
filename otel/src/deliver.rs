//! Pushing a selection: project it, batch it (`push.max_spans_per_batch`, a prompt's spans
//! together), send the trace batches and then the metrics, and report what was delivered.

use opentelemetry_proto::tonic::trace::v1::Span;
use serde::Serialize;

use cp_kernel::Plane;

use crate::config::OtelConfig;
use crate::error::OtelError;
use crate::export::projection_options;
use crate::project::{ProjectionStats, Projector, batches, traces_data};
use crate::push::{Delivery, Pusher, Signal};
use crate::select::{Selection, for_each_page};

/// What a push delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PushReport {
    /// Projection counts.
    pub stats: ProjectionStats,
    /// Trace requests delivered.
    pub trace_requests: u64,
    /// Metric requests delivered.
    pub metric_requests: u64,
    /// Spans delivered.
    pub spans: u64,
    /// Body bytes sent (after gzip).
    pub bytes: u64,
    /// Retries made (attempts beyond the first).
    pub retries: u64,
    /// Spans the receiver rejected in partial-success responses.
    pub rejected_spans: i64,
    /// Data points the receiver rejected in partial-success responses.
    pub rejected_points: i64,
    /// The receiver's partial-success messages.
    pub messages: Vec<String>,
}

impl PushReport {
    /// Adds one delivery of `signal` carrying `spans` spans.
    pub fn add(&mut self, signal: Signal, d: &Delivery, spans: u64) {
        self.bytes += d.bytes;
        self.retries += u64::from(d.attempts.saturating_sub(1));
        match signal {
            Signal::Traces => {
                self.trace_requests += 1;
                self.spans += spans;
                self.rejected_spans += d.rejected;
            }
            Signal::Metrics => {
                self.metric_requests += 1;
                self.rejected_points += d.rejected;
            }
        }
        if !d.message.is_empty() {
            self.messages.push(d.message.clone());
        }
    }
}

/// Sends one batch of span groups; returns the delivery.
pub fn send_spans(
    p: &Pusher,
    service_name: &str,
    batch: Vec<Vec<Span>>,
    report: &mut PushReport,
) -> Result<(), OtelError> {
    let n: usize = batch.iter().map(Vec::len).sum();
    let body = p.traces_body(&traces_data(service_name, batch));
    let d = p.send(Signal::Traces, &body).map_err(|f| {
        OtelError::Push(format!(
            "{f} ({} span(s) in {} request(s) delivered before)",
            report.spans, report.trace_requests
        ))
    })?;
    report.add(Signal::Traces, &d, n as u64);
    Ok(())
}

/// Projects the selection and pushes it: trace batches, then the metrics. Stops at the first
/// batch that is not delivered (the error says what was delivered before).
pub fn push_selection(
    plane: &Plane,
    sel: &Selection,
    cfg: &OtelConfig,
    service_name: &str,
    pusher: &Pusher,
) -> Result<PushReport, OtelError> {
    let mut proj = Projector::new(projection_options(cfg, service_name));
    let mut report = PushReport::default();
    let max = cfg.push.max_spans_per_batch;
    let mut held: Vec<Vec<Span>> = Vec::new();
    for_each_page(plane, sel, cfg.read_page_entries, &mut |page| {
        for e in page {
            proj.push(e);
        }
        held.extend(proj.take_ready());
        if held.iter().map(Vec::len).sum::<usize>() >= max {
            for b in batches(std::mem::take(&mut held), max) {
                send_spans(pusher, service_name, b, &mut report)?;
            }
        }
        Ok(())
    })?;
    let (rest, metrics, stats) = proj.finish();
    held.extend(rest);
    for b in batches(held, max) {
        send_spans(pusher, service_name, b, &mut report)?;
    }
    if !metrics.resource_metrics.is_empty() {
        let d = pusher
            .send(Signal::Metrics, &pusher.metrics_body(&metrics))
            .map_err(|f| OtelError::Push(format!("metrics: {f} ({} span(s) delivered before)", report.spans)))?;
        report.add(Signal::Metrics, &d, 0);
    }
    report.stats = stats;
    Ok(report)
}
