//! AEF → OTLP JSON lines (the OpenTelemetry collector file-exporter format: one
//! `ExportTraceServiceRequest` per line). Mapping (`docs/otel-mapping.md`): `sid` → trace,
//! `id` → span, `pid` → parent span; `session.start`…`session.end` → the session's root span;
//! `tool.call` + `tool.result` → one CLIENT span; `message`, `error` and extensions →
//! zero-length spans. Ids are derived by hashing (SHA-256) so re-exporting gives the same ids;
//! per the OTLP JSON encoding they are lower-case hex, 64-bit integers are decimal strings and
//! enums are integers. Memory: open sessions (at most `Limits::max_sessions`), pending tool
//! calls (at most `Limits::max_pending_calls`) and one batch of spans per open session.

use std::collections::{HashMap, VecDeque};
use std::io::Write;

use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::entry::is_base_field;
use crate::limits::Limits;

const KIND_INTERNAL: u8 = 1;
const KIND_CLIENT: u8 = 3;
const STATUS_ERROR: u8 = 2;

/// The 16-byte trace id of session `sid`, hex-encoded.
pub fn trace_id(sid: &str) -> String {
    hashed_id(&["aef-trace", sid], 16)
}

/// The 8-byte span id of entry `id` of session `sid`, hex-encoded.
pub fn span_id(sid: &str, id: &str) -> String {
    hashed_id(&["aef-span", sid, id], 8)
}

fn hashed_id(parts: &[&str], len: usize) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let mut bytes = digest[..len].to_vec();
    if bytes.iter().all(|b| *b == 0) {
        bytes[len - 1] = 1; // an all-zero id is invalid in OTLP
    }
    const_hex::encode(bytes)
}

fn nanos(ms: i64) -> String {
    (i128::from(ms) * 1_000_000).max(0).to_string()
}

fn attr(key: &str, v: &Value) -> Value {
    let value = match v {
        Value::String(s) => json!({"stringValue": s}),
        Value::Bool(b) => json!({"boolValue": b}),
        Value::Number(n) => match n.as_i64() {
            Some(i) => json!({"intValue": i.to_string()}),
            None => json!({"doubleValue": n.as_f64()}),
        },
        other => json!({"stringValue": other.to_string()}),
    };
    json!({"key": key, "value": value})
}

/// Counts of one export.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    /// Entries read.
    pub entries: u64,
    /// Lines skipped (not an entry with `id`, `ts`, `type` and `sid`).
    pub skipped: u64,
    /// Spans written.
    pub spans: u64,
    /// Request lines written.
    pub requests: u64,
    /// Tool calls that never got a result (written as spans without an end).
    pub unmatched_calls: u64,
}

#[derive(Debug, Default)]
struct SessionState {
    root: Option<(String, i64, Vec<Value>)>,
    agent: Option<String>,
    last_ts: i64,
    batch: Vec<Value>,
}

#[derive(Debug)]
struct OpenCall {
    sid: String,
    entry: Value,
}

/// Streams AEF entries into OTLP JSON request lines.
#[derive(Debug)]
pub struct OtlpExporter<W: Write> {
    out: W,
    limits: Limits,
    sessions: HashMap<String, SessionState>,
    calls: HashMap<(String, String), OpenCall>,
    call_order: VecDeque<(String, String)>,
    report: ExportReport,
}

impl<W: Write> OtlpExporter<W> {
    /// An exporter writing to `out`.
    pub fn new(out: W, limits: Limits) -> OtlpExporter<W> {
        OtlpExporter {
            out,
            limits,
            sessions: HashMap::new(),
            calls: HashMap::new(),
            call_order: VecDeque::new(),
            report: ExportReport::default(),
        }
    }

    /// Takes one entry.
    pub fn add(&mut self, e: &Value) -> std::io::Result<()> {
        let (Some(id), Some(ts), Some(t), Some(sid)) = (
            e.get("id").and_then(Value::as_str),
            e.get("ts").and_then(Value::as_i64),
            e.get("type").and_then(Value::as_str),
            e.get("sid").and_then(Value::as_str),
        ) else {
            self.report.skipped += 1;
            return Ok(());
        };
        self.report.entries += 1;
        if !self.sessions.contains_key(sid) && self.sessions.len() >= self.limits.max_sessions {
            self.flush_all()?;
        }
        let s = self.sessions.entry(sid.to_string()).or_default();
        s.last_ts = s.last_ts.max(ts);
        match t {
            "session.start" => {
                s.agent = e.get("agent").and_then(Value::as_str).map(str::to_string);
                let mut attrs = vec![attr("session.id", &Value::from(sid))];
                for (k, name) in [
                    ("agent", "aef.agent"),
                    ("version", "aef.version"),
                    ("workspace", "aef.workspace"),
                    ("model", "gen_ai.request.model"),
                ] {
                    if let Some(v) = e.get(k) {
                        attrs.push(attr(name, v));
                    }
                }
                s.root = Some((id.to_string(), ts, attrs));
                Ok(())
            }
            "session.end" => self.end_session(sid, e, ts),
            "tool.call" => self.open_call(sid, e),
            "tool.result" => self.close_call(sid, e),
            _ => {
                let span = self.point_span(sid, e, t, ts);
                self.push_span(sid, span)
            }
        }
    }

    fn parent(&self, sid: &str, e: &Value) -> Option<String> {
        if let Some(p) = e.get("pid").and_then(Value::as_str) {
            return Some(span_id(sid, p));
        }
        let root = self.sessions.get(sid)?.root.as_ref()?;
        Some(span_id(sid, &root.0))
    }

    fn base_span(&self, sid: &str, e: &Value, name: &str, kind: u8, start: i64, end: i64) -> Map<String, Value> {
        let id = e.get("id").and_then(Value::as_str).unwrap_or_default();
        let mut span = Map::new();
        span.insert("traceId".into(), Value::from(trace_id(sid)));
        span.insert("spanId".into(), Value::from(span_id(sid, id)));
        if let Some(p) = self.parent(sid, e) {
            span.insert("parentSpanId".into(), Value::from(p));
        }
        span.insert("name".into(), Value::from(name));
        span.insert("kind".into(), Value::from(kind));
        span.insert("startTimeUnixNano".into(), Value::from(nanos(start)));
        span.insert("endTimeUnixNano".into(), Value::from(nanos(end.max(start))));
        let mut attrs = vec![attr("aef.type", e.get("type").unwrap_or(&Value::Null)), attr("aef.id", &Value::from(id))];
        if let Some(seq) = e.get("seq") {
            attrs.push(attr("aef.seq", seq));
        }
        span.insert("attributes".into(), Value::Array(attrs));
        span
    }

    fn point_span(&self, sid: &str, e: &Value, t: &str, ts: i64) -> Value {
        let mut extra = Vec::new();
        let (name, mut status, mut events) = (t.to_string(), None, Vec::new());
        let name = match t {
            "message" => {
                let role = e.get("role").and_then(Value::as_str).unwrap_or("user");
                extra.push(attr("aef.message.role", &Value::from(role)));
                let model = e.get("model").and_then(Value::as_str);
                if let Some(m) = model {
                    extra.push(attr("gen_ai.response.model", &Value::from(m)));
                }
                if let Some(tok) = e.get("tokens") {
                    extra.push(attr("gen_ai.operation.name", &Value::from("chat")));
                    for (k, key) in [
                        ("input", "gen_ai.usage.input_tokens"),
                        ("output", "gen_ai.usage.output_tokens"),
                        ("cached", "gen_ai.usage.cache_read.input_tokens"),
                        ("cache_write", "gen_ai.usage.cache_creation.input_tokens"),
                        ("reasoning", "aef.usage.reasoning_tokens"),
                    ] {
                        if let Some(v) = tok.get(k) {
                            extra.push(attr(key, v));
                        }
                    }
                }
                let content = e.get("content").cloned().unwrap_or(Value::Null);
                events.push(json!({"timeUnixNano": nanos(ts), "name": format!("gen_ai.{role}.message"), "attributes": [attr("content", &content)]}));
                match (role, model) {
                    ("assistant", Some(m)) => format!("chat {m}"),
                    _ => format!("message {role}"),
                }
            }
            "error" => {
                let msg = e.get("message").cloned().unwrap_or(Value::Null);
                status = Some(json!({"code": STATUS_ERROR, "message": msg.as_str().unwrap_or_default()}));
                let mut ev = vec![attr("exception.message", &msg)];
                if let Some(c) = e.get("code") {
                    ev.push(attr("exception.type", c));
                }
                events.push(json!({"timeUnixNano": nanos(ts), "name": "exception", "attributes": ev}));
                name
            }
            _ => {
                if let Some(o) = e.as_object() {
                    for (k, v) in o.iter().filter(|(k, _)| !is_base_field(k)) {
                        extra.push(attr(&format!("aef.ext.{k}"), v));
                    }
                }
                name
            }
        };
        let mut span = self.base_span(sid, e, &name, KIND_INTERNAL, ts, ts);
        if let Some(Value::Array(a)) = span.get_mut("attributes") {
            a.extend(extra);
        }
        if !events.is_empty() {
            span.insert("events".into(), Value::Array(std::mem::take(&mut events)));
        }
        if let Some(s) = status.take() {
            span.insert("status".into(), s);
        }
        Value::Object(span)
    }

    fn open_call(&mut self, sid: &str, e: &Value) -> std::io::Result<()> {
        let key = call_key(e.get("call_id"), e.get("id"));
        let k = (sid.to_string(), key);
        if self.calls.insert(k.clone(), OpenCall { sid: sid.to_string(), entry: e.clone() }).is_none() {
            self.call_order.push_back(k);
        }
        while self.calls.len() > self.limits.max_pending_calls {
            let Some(old) = self.call_order.pop_front() else { break };
            if let Some(c) = self.calls.remove(&old) {
                self.unmatched(c)?;
            }
        }
        Ok(())
    }

    fn close_call(&mut self, sid: &str, result: &Value) -> std::io::Result<()> {
        let by_call = (sid.to_string(), call_key(result.get("call_id"), None));
        let by_pid = (sid.to_string(), call_key(None, result.get("pid")));
        let call = self.calls.remove(&by_call).or_else(|| self.calls.remove(&by_pid));
        if self.call_order.len() > self.calls.len().saturating_mul(2) + 16 {
            let calls = &self.calls;
            self.call_order.retain(|k| calls.contains_key(k));
        }
        let Some(call) = call else {
            let ts = result.get("ts").and_then(Value::as_i64).unwrap_or_default();
            let span = self.point_span(sid, result, "tool.result", ts);
            return self.push_span(sid, span);
        };
        let span = self.tool_span(sid, &call.entry, Some(result));
        self.push_span(sid, span)
    }

    fn unmatched(&mut self, c: OpenCall) -> std::io::Result<()> {
        self.report.unmatched_calls += 1;
        let span = self.tool_span(&c.sid, &c.entry, None);
        self.push_span(&c.sid, span)
    }

    fn tool_span(&self, sid: &str, call: &Value, result: Option<&Value>) -> Value {
        let tool = call.get("tool").and_then(Value::as_str).unwrap_or("unknown");
        let start = call.get("ts").and_then(Value::as_i64).unwrap_or_default();
        let end = result.and_then(|r| r.get("ts")).and_then(Value::as_i64).unwrap_or(start);
        let mut span = self.base_span(sid, call, &format!("execute_tool {tool}"), KIND_CLIENT, start, end);
        let mut extra = vec![
            attr("gen_ai.operation.name", &Value::from("execute_tool")),
            attr("gen_ai.tool.name", &Value::from(tool)),
        ];
        if let Some(c) = call.get("call_id") {
            extra.push(attr("gen_ai.tool.call.id", c));
        }
        extra.push(attr("aef.tool.args", call.get("args").unwrap_or(&Value::Null)));
        match result {
            Some(r) => {
                extra.push(attr("aef.tool.result_id", r.get("id").unwrap_or(&Value::Null)));
                extra.push(attr("aef.tool.result", r.get("result").unwrap_or(&Value::Null)));
                if r.get("success").and_then(Value::as_bool) == Some(false) {
                    let msg =
                        r.get("error").and_then(|e| e.get("message")).and_then(Value::as_str).unwrap_or("tool failed");
                    span.insert("status".into(), json!({"code": STATUS_ERROR, "message": msg}));
                    extra.push(attr("error.type", &Value::from("tool_error")));
                }
            }
            None => extra.push(attr("aef.tool.result_missing", &Value::from(true))),
        }
        if let Some(Value::Array(a)) = span.get_mut("attributes") {
            a.extend(extra);
        }
        Value::Object(span)
    }

    fn end_session(&mut self, sid: &str, e: &Value, ts: i64) -> std::io::Result<()> {
        let s = self.sessions.entry(sid.to_string()).or_default();
        let (root_id, start, mut attrs) = s.root.take().unwrap_or_else(|| {
            let id = e.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
            (id, ts, vec![attr("session.id", &Value::from(sid))])
        });
        let status = e.get("status").and_then(Value::as_str).unwrap_or("unknown");
        attrs.push(attr("aef.status", &Value::from(status)));
        if let Some(Value::Object(sum)) = e.get("summary") {
            for (k, v) in sum {
                match v {
                    Value::Object(tok) => {
                        tok.iter().for_each(|(tk, tv)| attrs.push(attr(&format!("aef.summary.tokens.{tk}"), tv)))
                    }
                    v => attrs.push(attr(&format!("aef.summary.{k}"), v)),
                }
            }
        }
        let span = self.root_span(sid, &root_id, start, ts, attrs, status == "error");
        self.push_span(sid, span)?;
        self.flush_session(sid)
    }

    fn root_span(&self, sid: &str, root_id: &str, start: i64, end: i64, attrs: Vec<Value>, failed: bool) -> Value {
        let agent = self.sessions.get(sid).and_then(|s| s.agent.clone()).unwrap_or_else(|| "agent".into());
        let mut span = json!({
            "traceId": trace_id(sid), "spanId": span_id(sid, root_id), "name": format!("session {agent}"),
            "kind": KIND_INTERNAL, "startTimeUnixNano": nanos(start), "endTimeUnixNano": nanos(end.max(start)),
            "attributes": attrs,
        });
        if failed {
            span["status"] = json!({"code": STATUS_ERROR, "message": "session ended with an error"});
        }
        span
    }

    fn push_span(&mut self, sid: &str, span: Value) -> std::io::Result<()> {
        let s = self.sessions.entry(sid.to_string()).or_default();
        s.batch.push(span);
        if s.batch.len() >= self.limits.otlp_batch_spans {
            self.write_batch(sid)?;
        }
        Ok(())
    }

    fn write_batch(&mut self, sid: &str) -> std::io::Result<()> {
        let Some(s) = self.sessions.get_mut(sid) else { return Ok(()) };
        if s.batch.is_empty() {
            return Ok(());
        }
        let spans = std::mem::take(&mut s.batch);
        let service = s.agent.clone().unwrap_or_else(|| "aef".into());
        self.report.spans += spans.len() as u64;
        self.report.requests += 1;
        let request = json!({"resourceSpans": [{
            "resource": {"attributes": [attr("service.name", &Value::from(service)), attr("session.id", &Value::from(sid))]},
            "scopeSpans": [{"scope": {"name": "aef", "version": env!("CARGO_PKG_VERSION")}, "spans": spans}],
        }]});
        serde_json::to_writer(&mut self.out, &request)?;
        self.out.write_all(b"\n")
    }

    fn flush_session(&mut self, sid: &str) -> std::io::Result<()> {
        // in call order, so the output is the same bytes on every run
        let open: Vec<(String, String)> =
            self.call_order.iter().filter(|k| k.0 == sid && self.calls.contains_key(*k)).cloned().collect();
        for k in open {
            if let Some(c) = self.calls.remove(&k) {
                self.unmatched(c)?;
            }
        }
        self.write_batch(sid)?;
        self.sessions.remove(sid);
        Ok(())
    }

    fn flush_all(&mut self) -> std::io::Result<()> {
        let mut sids: Vec<String> = self.sessions.keys().cloned().collect();
        sids.sort();
        for sid in sids {
            let root = self.sessions.get_mut(&sid).and_then(|s| s.root.take().map(|r| (r, s.last_ts)));
            if let Some(((id, start, attrs), last)) = root {
                let span = self.root_span(&sid, &id, start, last, attrs, false);
                self.push_span(&sid, span)?;
            }
            self.flush_session(&sid)?;
        }
        Ok(())
    }

    /// Writes everything still open (sessions without `session.end`, calls without a result)
    /// and returns the counts and the sink.
    pub fn finish(mut self) -> std::io::Result<(ExportReport, W)> {
        self.flush_all()?;
        self.out.flush()?;
        Ok((self.report, self.out))
    }
}

fn call_key(call_id: Option<&Value>, id: Option<&Value>) -> String {
    match (call_id.and_then(Value::as_str), id.and_then(Value::as_str)) {
        (Some(c), _) => format!("call:{c}"),
        (None, Some(i)) => format!("id:{i}"),
        (None, None) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_hex_of_the_right_length() {
        assert_eq!(trace_id("s").len(), 32);
        assert_eq!(span_id("s", "a").len(), 16);
        assert_eq!(span_id("s", "a"), span_id("s", "a"));
        assert_ne!(span_id("s", "a"), span_id("t", "a"));
        assert!(trace_id("s").chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }

    /// Regression: matched calls were never removed from the eviction order, so a long session
    /// grew memory by one key per tool call (79 MB on a 1.27 GB log).
    #[test]
    fn pending_call_bookkeeping_stays_bounded() {
        let mut x = OtlpExporter::new(std::io::sink(), Limits { max_pending_calls: 4, ..Limits::default() });
        for i in 0..1000 {
            let c = format!("c{i}");
            x.add(&json!({"v":1,"id":c,"ts":i,"type":"tool.call","sid":"s","tool":"t","args":{},"call_id":c})).unwrap();
            x.add(&json!({"v":1,"id":format!("r{i}"),"ts":i,"type":"tool.result","sid":"s","tool":"t","call_id":c,"result":1,"success":true})).unwrap();
            assert!(
                x.call_order.len() <= 2 * x.calls.len() + 17,
                "order {} calls {}",
                x.call_order.len(),
                x.calls.len()
            );
        }
        let (report, _) = x.finish().unwrap();
        assert_eq!((report.spans, report.unmatched_calls), (1000, 0));
    }

    #[test]
    fn export_is_deterministic_even_for_unmatched_calls() {
        let run = || {
            let mut x = OtlpExporter::new(Vec::new(), Limits::default());
            for i in 0..50 {
                let c = format!("c{i}");
                x.add(&json!({"v":1,"id":c,"ts":i,"type":"tool.call","sid":"s","tool":"t","args":{},"call_id":c}))
                    .unwrap();
            }
            x.add(&json!({"v":1,"id":"e","ts":99,"type":"session.end","sid":"s","status":"complete"})).unwrap();
            x.finish().unwrap()
        };
        let (a, out_a) = run();
        let (_, out_b) = run();
        assert_eq!(a.unmatched_calls, 50);
        assert_eq!(out_a, out_b);
    }

    #[test]
    fn call_and_result_make_one_client_span() {
        let mut x = OtlpExporter::new(Vec::new(), Limits::default());
        for e in [
            json!({"v":1,"id":"s0","ts":1,"type":"session.start","sid":"s","agent":"a"}),
            json!({"v":1,"id":"c","ts":2,"type":"tool.call","sid":"s","tool":"Read","args":{},"call_id":"k"}),
            json!({"v":1,"id":"r","ts":5,"type":"tool.result","sid":"s","tool":"Read","call_id":"k","result":"x","success":false,"error":{"message":"no"}}),
            json!({"v":1,"id":"e","ts":6,"type":"session.end","sid":"s","status":"complete"}),
        ] {
            x.add(&e).unwrap();
        }
        let (report, out) = x.finish().unwrap();
        assert_eq!(report.spans, 2);
        let line: Value = serde_json::from_slice(out.split(|b| *b == b'\n').next().unwrap()).unwrap();
        let spans = &line["resourceSpans"][0]["scopeSpans"][0]["spans"];
        let tool = &spans[0];
        assert_eq!(tool["kind"], KIND_CLIENT);
        assert_eq!(tool["startTimeUnixNano"], "2000000");
        assert_eq!(tool["endTimeUnixNano"], "5000000");
        assert_eq!(tool["status"]["code"], STATUS_ERROR);
        assert_eq!(tool["parentSpanId"], span_id("s", "s0"));
        assert_eq!(spans[1]["spanId"], span_id("s", "s0"));
    }
}
