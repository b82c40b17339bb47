//! The ingest contract: one agent run/step/model-call event, its validation, and the three body
//! forms (one object, an array, NDJSON). Validation is all or nothing: the first problem is
//! reported with its field path (`/3/latency_ms` for the fourth event of a batch) and no event
//! of the request is accepted.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::LimitsConfig;

/// Run status. `completed` and `failed` are accepted as synonyms of `success` and `failure`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The run (step, call) started and has not finished.
    Started,
    /// It finished successfully.
    Success,
    /// It failed.
    Failure,
}

impl Status {
    /// Parses the wire value (with the synonyms).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "started" => Some(Self::Started),
            "success" | "completed" => Some(Self::Success),
            "failure" | "failed" => Some(Self::Failure),
            _ => None,
        }
    }

    /// The canonical wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }
}

/// Optional string fields, in the order of the contract.
pub const OPTIONAL_STRINGS: [&str; 19] = [
    "tenant_id",
    "workspace_id",
    "project_id",
    "run_id",
    "step_id",
    "step_type",
    "model_call_id",
    "trace_id",
    "span_id",
    "parent_span_id",
    "provider",
    "model",
    "price_book_version",
    "budget_scope",
    "budget_result",
    "policy_id",
    "policy_decision",
    "error_type",
    "id",
];

/// Optional token counts.
pub const TOKEN_FIELDS: [&str; 4] = ["input_tokens", "output_tokens", "cached_tokens", "total_tokens"];

/// Required fields.
pub const REQUIRED: [&str; 6] = ["timestamp", "agent_id", "workflow_id", "status", "latency_ms", "cost_usd"];

/// A validated event. Optional fields absent from the input are absent here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Event time, normalised to RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    /// Event time (Unix ms).
    pub ts_ms: i64,
    /// Agent.
    pub agent_id: String,
    /// Workflow.
    pub workflow_id: String,
    /// Status.
    pub status: Status,
    /// Latency (ms).
    pub latency_ms: u64,
    /// Cost (USD).
    pub cost_usd: f64,
    /// Optional string fields by name (see [`OPTIONAL_STRINGS`]).
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, String>,
    /// Optional token counts by name (see [`TOKEN_FIELDS`]).
    #[serde(default)]
    pub tokens: std::collections::BTreeMap<String, u64>,
}

impl Event {
    /// An optional string field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// The key a run is counted under: `run_id`, else the event id.
    pub fn run_key(&self, event_id: &str) -> String {
        self.field("run_id").map_or_else(|| format!("event:{event_id}"), |r| format!("run:{r}"))
    }
}

/// A rejected request: machine code, message, field path (JSON pointer; empty for the body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invalid {
    /// Machine-readable code (`malformed_json`, `invalid_utf8`, `missing_field`, …).
    pub code: &'static str,
    /// What is wrong and what was expected.
    pub message: String,
    /// JSON pointer of the offending field (`/3/latency_ms`), empty for the whole body.
    pub field: String,
}

impl Invalid {
    fn new(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), field: field.into() }
    }
}

/// Splits a request body into JSON values: one object, an array of objects, or NDJSON (one
/// object per non-empty line). The prefix of each value's field paths is its index (`/3`),
/// except for a single object (empty prefix).
pub fn split_body(body: &[u8], limits: &LimitsConfig) -> Result<Vec<(String, Value)>, Invalid> {
    let text = std::str::from_utf8(body).map_err(|e| {
        Invalid::new("invalid_utf8", "", format!("the body is not UTF-8 (at byte {})", e.valid_up_to()))
    })?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(Invalid::new("empty_body", "", "the body is empty; expected a JSON event, array or NDJSON"));
    }
    let values: Vec<(String, Value)> = match serde_json::from_str::<Value>(trimmed) {
        Ok(Value::Array(a)) => a.into_iter().enumerate().map(|(i, v)| (format!("/{i}"), v)).collect(),
        Ok(v) => vec![(String::new(), v)],
        Err(e) if trimmed.contains('\n') && !trimmed.starts_with('[') => ndjson(trimmed, &e)?,
        Err(e) => return Err(Invalid::new("malformed_json", "", format!("the body is not JSON: {e}"))),
    };
    if values.is_empty() {
        return Err(Invalid::new("empty_body", "", "the array is empty; expected at least one event"));
    }
    if values.len() > limits.max_events_per_request {
        return Err(Invalid::new(
            "too_many_events",
            "",
            format!(
                "{} events in one request, at most {} (limits.max_events_per_request)",
                values.len(),
                limits.max_events_per_request
            ),
        ));
    }
    Ok(values)
}

fn ndjson(text: &str, whole: &serde_json::Error) -> Result<Vec<(String, Value)>, Invalid> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| {
            Invalid::new(
                "malformed_json",
                format!("/{}", out.len()),
                format!("line {} is not JSON: {e} (the body as one document: {whole})", n + 1),
            )
        })?;
        out.push((format!("/{}", out.len()), v));
    }
    Ok(out)
}

/// Validates every value; the first problem rejects all of them.
pub fn validate_all(values: Vec<(String, Value)>, limits: &LimitsConfig) -> Result<Vec<Event>, Invalid> {
    values.into_iter().map(|(p, v)| validate(&p, v, limits)).collect()
}

/// Validates one event object; `prefix` is its path in the body.
pub fn validate(prefix: &str, v: Value, limits: &LimitsConfig) -> Result<Event, Invalid> {
    let Value::Object(mut o) = v else {
        return Err(Invalid::new("not_an_object", prefix, format!("expected a JSON object, got {}", kind(&v))));
    };
    let path = |f: &'static str| At(prefix, f);
    if let Some(k) = o.keys().find(|k| !known(k)) {
        return Err(Invalid::new(
            "unknown_field",
            At(prefix, k),
            format!("unknown field {k:?}; see docs/OPS.md for the fields"),
        ));
    }
    let ts_text = required_string(&mut o, "timestamp", prefix, limits)?;
    let ts: jiff::Timestamp = ts_text.parse().map_err(|e| {
        Invalid::new(
            "invalid_value",
            path("timestamp"),
            format!("expected an RFC 3339 time such as 2026-12-03T10:00:00Z: {e}"),
        )
    })?;
    let status_text = required_string(&mut o, "status", prefix, limits)?;
    let status = Status::parse(&status_text).ok_or_else(|| {
        Invalid::new(
            "invalid_value",
            path("status"),
            format!("{status_text:?}: expected started, success, failure (or completed, failed)"),
        )
    })?;
    let latency_ms = integer(o.remove("latency_ms"), path("latency_ms"), limits.max_latency_ms, true)?.unwrap_or(0);
    let cost_usd = cost(o.remove("cost_usd"), path("cost_usd"), limits.max_cost_usd)?;
    let mut e = Event {
        timestamp: format!("{ts:.3}"),
        ts_ms: ts.as_millisecond(),
        agent_id: required_string(&mut o, "agent_id", prefix, limits)?,
        workflow_id: required_string(&mut o, "workflow_id", prefix, limits)?,
        status,
        latency_ms,
        cost_usd,
        fields: Default::default(),
        tokens: Default::default(),
    };
    for f in OPTIONAL_STRINGS {
        if let Some(s) = optional_string(o.remove(f), path(f), limits)? {
            e.fields.insert(f.to_string(), s);
        }
    }
    for f in TOKEN_FIELDS {
        if let Some(n) = integer(o.remove(f), path(f), limits.max_tokens, false)? {
            e.tokens.insert(f.to_string(), n);
        }
    }
    Ok(e)
}

/// Where a field is: its event's path in the body and the field's name. Rendered as a JSON
/// pointer (`/3/latency_ms`) only for an error, so valid input formats nothing.
#[derive(Debug, Clone, Copy)]
struct At<'a>(&'a str, &'a str);

impl From<At<'_>> for String {
    fn from(at: At<'_>) -> Self {
        format!("{}/{}", at.0, at.1)
    }
}

fn known(k: &str) -> bool {
    REQUIRED.contains(&k) || OPTIONAL_STRINGS.contains(&k) || TOKEN_FIELDS.contains(&k)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn required_string(o: &mut Map<String, Value>, f: &str, prefix: &str, l: &LimitsConfig) -> Result<String, Invalid> {
    let path = At(prefix, f);
    match o.remove(f) {
        None | Some(Value::Null) => Err(Invalid::new("missing_field", path, format!("{f} is required"))),
        v => {
            optional_string(v, path, l)?.ok_or_else(|| Invalid::new("missing_field", path, format!("{f} is required")))
        }
    }
}

fn optional_string(v: Option<Value>, path: At<'_>, l: &LimitsConfig) -> Result<Option<String>, Invalid> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            if s.trim().is_empty() {
                return Err(Invalid::new("invalid_value", path, "expected a non-empty string"));
            }
            if s.len() > l.max_string_bytes {
                return Err(Invalid::new(
                    "too_long",
                    path,
                    format!("{} bytes, at most {} (limits.max_string_bytes)", s.len(), l.max_string_bytes),
                ));
            }
            if s.chars().any(char::is_control) {
                return Err(Invalid::new("invalid_value", path, "control characters are not allowed"));
            }
            Ok(Some(s))
        }
        Some(other) => Err(Invalid::new("wrong_type", path, format!("expected a string, got {}", kind(&other)))),
    }
}

fn integer(v: Option<Value>, path: At<'_>, max: u64, required: bool) -> Result<Option<u64>, Invalid> {
    let v = match v {
        None | Some(Value::Null) if required => {
            return Err(Invalid::new("missing_field", path, format!("{} is required", path.1)));
        }
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let Value::Number(n) = &v else {
        return Err(Invalid::new("wrong_type", path, format!("expected an integer >= 0, got {}", kind(&v))));
    };
    let Some(x) = n.as_u64() else {
        return Err(Invalid::new("invalid_value", path, format!("{n}: expected an integer >= 0")));
    };
    if x > max {
        return Err(Invalid::new("out_of_range", path, format!("{x}: at most {max}")));
    }
    Ok(Some(x))
}

fn cost(v: Option<Value>, path: At<'_>, max: f64) -> Result<f64, Invalid> {
    let v = v.filter(|v| !v.is_null()).ok_or_else(|| Invalid::new("missing_field", path, "cost_usd is required"))?;
    let Value::Number(n) = &v else {
        return Err(Invalid::new("wrong_type", path, format!("expected a number >= 0, got {}", kind(&v))));
    };
    let x = n
        .as_f64()
        .filter(|x| x.is_finite())
        .ok_or_else(|| Invalid::new("invalid_value", path, "expected a finite number"))?;
    if x < 0.0 {
        return Err(Invalid::new("out_of_range", path, format!("{x}: expected a number >= 0")));
    }
    if x > max {
        return Err(Invalid::new("out_of_range", path, format!("{x}: at most {max} (limits.max_cost_usd)")));
    }
    Ok(x)
}

#[cfg(test)]
mod tests;
