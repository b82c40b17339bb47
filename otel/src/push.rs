//! OTLP/HTTP push: protobuf (default) or JSON bodies to `{endpoint}/v1/traces` and
//! `/v1/metrics`, gzip, retries with exponential backoff on 429/502/503/504 and connection
//! errors honouring `Retry-After`, any other status reported and not retried, and partial-success
//! responses reported.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::{ExportMetricsServiceRequest, ExportMetricsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::metrics::v1::MetricsData;
use opentelemetry_proto::tonic::trace::v1::TracesData;
use prost::Message;
use serde::Serialize;

use cp_kernel::Clock;

use crate::config::PushConfig;
use crate::error::OtelError;
use crate::export::{metrics_json, traces_json};

/// The default endpoint of OTLP/HTTP.
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4318";
/// Largest response body read (bytes): responses are status messages.
const MAX_RESPONSE_BYTES: u64 = 1 << 20;

/// Body encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Protocol {
    /// `http/protobuf` (`application/x-protobuf`).
    Protobuf,
    /// `http/json` (`application/json`).
    Json,
}

impl Protocol {
    /// Parses `http/protobuf` or `http/json` (`grpc` is not supported by this exporter).
    pub fn parse(s: &str) -> Result<Self, OtelError> {
        match s.trim() {
            "http/protobuf" | "" => Ok(Self::Protobuf),
            "http/json" => Ok(Self::Json),
            other => Err(OtelError::Usage(format!(
                "protocol {other:?}: expected http/protobuf or http/json (grpc is not supported)"
            ))),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }
}

/// Where and how to push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Base URL (`/v1/traces` and `/v1/metrics` are appended).
    pub base: String,
    /// Body encoding.
    pub protocol: Protocol,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Endpoint {
    /// From the values of `OTEL_EXPORTER_OTLP_ENDPOINT`, `…_PROTOCOL` and `…_HEADERS` (each
    /// optional; absent or empty values take the defaults).
    pub fn from_values(
        endpoint: Option<&str>,
        protocol: Option<&str>,
        headers: Option<&str>,
    ) -> Result<Self, OtelError> {
        let base = endpoint.filter(|s| !s.trim().is_empty()).unwrap_or(DEFAULT_ENDPOINT).trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(OtelError::Usage(format!("endpoint {base:?}: expected an http:// or https:// URL")));
        }
        let protocol = Protocol::parse(protocol.unwrap_or(""))?;
        let mut hs = Vec::new();
        for part in headers.unwrap_or("").split(',').filter(|p| !p.trim().is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                return Err(OtelError::Usage(format!("header {part:?}: expected key=value")));
            };
            hs.push((percent_decode(k.trim()), percent_decode(v.trim())));
        }
        Ok(Self { base: base.to_string(), protocol, headers: hs })
    }

    fn url(&self, signal: Signal) -> String {
        format!("{}{}", self.base, signal.path())
    }
}

/// What is pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `/v1/traces`
    Traces,
    /// `/v1/metrics`
    Metrics,
}

impl Signal {
    fn path(self) -> &'static str {
        match self {
            Self::Traces => "/v1/traces",
            Self::Metrics => "/v1/metrics",
        }
    }
}

/// The outcome of one delivered request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// Attempts made (1 = no retry).
    pub attempts: u32,
    /// Body bytes sent (after gzip) on the successful attempt.
    pub bytes: u64,
    /// Spans or data points the receiver rejected (partial success).
    pub rejected: i64,
    /// The receiver's partial-success message, if any.
    pub message: String,
}

/// Why a request was not delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushFailure {
    /// The receiver answered a status that is not retried (400, 401, 413, …).
    Refused {
        /// HTTP status.
        status: u16,
        /// Start of the response body.
        body: String,
    },
    /// Retryable failures until `max_attempts`.
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
}

impl std::fmt::Display for PushFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused { status, body } => write!(f, "the receiver refused the batch with HTTP {status}: {body}"),
            Self::GaveUp { attempts, last } => write!(f, "gave up after {attempts} attempt(s): {last}"),
        }
    }
}

/// An OTLP/HTTP client with retries.
pub struct Pusher {
    endpoint: Endpoint,
    cfg: PushConfig,
    clock: Arc<dyn Clock>,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Pusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pusher").field("endpoint", &self.endpoint.base).finish()
    }
}

enum Attempt {
    Done(Vec<u8>, bool),
    Retry(String, Option<u64>),
    Refused(u16, String),
}

impl Pusher {
    /// A pusher to `endpoint` with `cfg`; backoff waits go through `clock`.
    pub fn new(endpoint: Endpoint, cfg: PushConfig, clock: Arc<dyn Clock>) -> Self {
        let agent_cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_millis(cfg.timeout_ms)))
            .build();
        Self { endpoint, cfg, clock, agent: ureq::Agent::new_with_config(agent_cfg) }
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The encoded (not yet compressed) body of `traces`.
    pub fn traces_body(&self, traces: &TracesData) -> Vec<u8> {
        match self.endpoint.protocol {
            Protocol::Protobuf => {
                ExportTraceServiceRequest { resource_spans: traces.resource_spans.clone() }.encode_to_vec()
            }
            Protocol::Json => traces_json(traces).into_bytes(),
        }
    }

    /// The encoded (not yet compressed) body of `metrics`.
    pub fn metrics_body(&self, metrics: &MetricsData) -> Vec<u8> {
        match self.endpoint.protocol {
            Protocol::Protobuf => {
                ExportMetricsServiceRequest { resource_metrics: metrics.resource_metrics.clone() }.encode_to_vec()
            }
            Protocol::Json => metrics_json(metrics).into_bytes(),
        }
    }

    /// Sends an encoded body of `signal`, retrying as configured.
    pub fn send(&self, signal: Signal, body: &[u8]) -> Result<Delivery, PushFailure> {
        let payload = if self.cfg.gzip { gzip(body) } else { body.to_vec() };
        let r = self.cfg.retry;
        let mut backoff = r.initial_backoff_ms;
        let mut last = String::new();
        for attempt in 1..=r.max_attempts.max(1) {
            match self.attempt(signal, &payload) {
                Attempt::Done(resp, json) => {
                    let (rejected, message) = partial(signal, &resp, json);
                    return Ok(Delivery { attempts: attempt, bytes: payload.len() as u64, rejected, message });
                }
                Attempt::Refused(status, body) => return Err(PushFailure::Refused { status, body }),
                Attempt::Retry(why, retry_after) => {
                    tracing::warn!(attempt, %why, "OTLP push failed; will retry");
                    last = why;
                    if attempt == r.max_attempts.max(1) {
                        break;
                    }
                    let wait = retry_after.map_or(backoff, |ra| ra.min(r.max_retry_after_ms));
                    self.clock.sleep_ms(wait);
                    backoff = backoff.saturating_mul(2).min(r.max_backoff_ms);
                }
            }
        }
        Err(PushFailure::GaveUp { attempts: r.max_attempts.max(1), last })
    }

    fn attempt(&self, signal: Signal, payload: &[u8]) -> Attempt {
        let mut req =
            self.agent.post(self.endpoint.url(signal)).header("Content-Type", self.endpoint.protocol.content_type());
        if self.cfg.gzip {
            req = req.header("Content-Encoding", "gzip");
        }
        for (k, v) in &self.endpoint.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let mut resp = match req.send(payload) {
            Ok(r) => r,
            Err(e) => return Attempt::Retry(e.to_string(), None),
        };
        let status = resp.status().as_u16();
        let retry_after =
            resp.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| self.retry_after_ms(v));
        let json = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let mut body = Vec::new();
        let _ = resp.body_mut().as_reader().take(MAX_RESPONSE_BYTES).read_to_end(&mut body);
        match status {
            200..=299 => Attempt::Done(body, json),
            429 | 502 | 503 | 504 => Attempt::Retry(format!("HTTP {status}"), retry_after),
            _ => Attempt::Refused(status, excerpt(&body)),
        }
    }

    /// `Retry-After` as milliseconds from now: delay-seconds or an HTTP date.
    fn retry_after_ms(&self, v: &str) -> Option<u64> {
        if let Ok(secs) = v.trim().parse::<u64>() {
            return Some(secs.saturating_mul(1000));
        }
        let at = jiff::fmt::rfc2822::parse(v.trim()).ok()?.timestamp().as_millisecond();
        let now = i64::try_from(self.clock.now_ms()).unwrap_or(i64::MAX);
        Some(u64::try_from(at.saturating_sub(now)).unwrap_or(0))
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(body);
    enc.finish().unwrap_or_default()
}

/// The start of an error body: the `google.rpc.Status` message of a protobuf body is not
/// decoded; printable text is shown as is.
fn excerpt(body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(body).chars().filter(|c| !c.is_control()).take(300).collect();
    if text.trim().is_empty() { "(no body)".into() } else { text }
}

/// The partial-success part of a 2xx response: rejected count and message.
fn partial(signal: Signal, body: &[u8], json: bool) -> (i64, String) {
    if body.is_empty() {
        return (0, String::new());
    }
    if json {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let p = &v["partialSuccess"];
        let key = if signal == Signal::Traces { "rejectedSpans" } else { "rejectedDataPoints" };
        let n = p[key].as_i64().or_else(|| p[key].as_str().and_then(|s| s.parse().ok())).unwrap_or(0);
        return (n, p["errorMessage"].as_str().unwrap_or("").to_string());
    }
    match signal {
        Signal::Traces => ExportTraceServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map_or((0, String::new()), |p| (p.rejected_spans, p.error_message)),
        Signal::Metrics => ExportMetricsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map_or((0, String::new()), |p| (p.rejected_data_points, p.error_message)),
    }
}
