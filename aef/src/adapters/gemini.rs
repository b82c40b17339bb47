//! Gemini CLI → AEF: the chat recording JSONL (a metadata line, then message records keyed by
//! `id` where a later record with the same `id` replaces the earlier one, `{"$set": …}` metadata
//! updates and `{"$rewindTo": id}` truncation) and the legacy single-JSON session file. Format
//! and mapping: `docs/formats/gemini.md`.
//!
//! Replacement and rewind need lookahead: the adapter keeps the newest `Limits::gemini_window`
//! records open and writes a record once that many newer records follow it (or at the end of
//! input), so every replacement or rewind within the window is exact. One that reaches further
//! back is reported; a rewind past the window is written as an `aef.history.rewind` entry.
//!
//! Memory bound: `gemini_window` records, `max_aliases` remembered written ids; a legacy file is
//! one JSON document, parsed whole, refused beyond `Limits::max_document_bytes`.

use std::collections::{HashMap, VecDeque};

use serde_json::{Map, Value};

use super::{
    Adapter, AdapterKind, AdapterOptions, BoundedMap, EntrySink, one, plain_text, str_field, text_block, thinking_block,
};
use crate::entry::{
    Body, Content, ErrorEvent, Extension, Message, Role, SessionStart, Status, Tokens, ToolCall, ToolError, ToolResult,
};
use crate::session::SessionRecorder;
use crate::time::parse_rfc3339_ms;

/// The agent name written in `session.start`.
pub(crate) const AGENT: &str = "gemini-cli";

#[derive(Debug)]
enum Mode {
    Start,
    Jsonl,
    Legacy { text: String, start_line: u64, too_big: bool },
}

#[derive(Debug)]
struct Record {
    id: String,
    line: u64,
    fields: Map<String, Value>,
}

/// The Gemini adapter.
#[derive(Debug)]
pub struct GeminiAdapter {
    options: AdapterOptions,
    mode: Mode,
    session: Option<SessionRecorder>,
    subagent: Option<String>,
    window: VecDeque<Record>,
    /// Position of each open record's id, counted from the first record ever opened.
    index: HashMap<String, u64>,
    /// Position of `window[0]`.
    front: u64,
    written: BoundedMap<()>,
    last_ts: Option<i64>,
    status: Status,
}

impl GeminiAdapter {
    /// A new adapter.
    pub fn new(options: AdapterOptions) -> GeminiAdapter {
        GeminiAdapter {
            written: BoundedMap::new(options.limits.max_aliases),
            options,
            mode: Mode::Start,
            session: None,
            subagent: None,
            window: VecDeque::new(),
            index: HashMap::new(),
            front: 0,
            last_ts: None,
            status: Status::Unknown,
        }
    }

    fn observe(&mut self, ts: Option<i64>) -> i64 {
        let ts = ts.or(self.last_ts).unwrap_or_else(|| self.options.clock.now_ms());
        self.last_ts = Some(self.last_ts.map_or(ts, |l| l.max(ts)));
        ts
    }

    fn start_session(&mut self, meta: &Map<String, Value>, out: &mut EntrySink) {
        let sid = str_field(meta, "sessionId").unwrap_or("unknown").to_string();
        let ts = self.observe(str_field(meta, "startTime").and_then(parse_rfc3339_ms));
        if str_field(meta, "kind") == Some("subagent") {
            self.subagent = Some(sid.clone());
        }
        let mut m = Map::new();
        for k in ["projectHash", "kind", "summary"] {
            if let Some(v) = meta.get(k) {
                m.insert(k.to_string(), v.clone());
            }
        }
        let start = SessionStart { agent: AGENT.into(), meta: (!m.is_empty()).then_some(m), ..SessionStart::default() };
        let mut rec = SessionRecorder::new(sid.clone());
        out.push(rec.entry(format!("{sid}:start"), ts, None, Body::SessionStart(start)));
        self.session = Some(rec);
    }

    fn first_line(&mut self, n: u64, line: &[u8], out: &mut EntrySink) {
        match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(o)) if o.get("messages").is_some_and(Value::is_array) => {
                self.mode = Mode::Jsonl;
                self.legacy_document(n, o, out);
            }
            Ok(Value::Object(o)) if o.contains_key("sessionId") => {
                self.mode = Mode::Jsonl;
                self.start_session(&o, out);
            }
            Ok(_) => out.malformed(n, "the first line is not the session metadata (no \"sessionId\")"),
            // a pretty-printed legacy file: its first line is an unfinished object
            Err(e) if e.is_eof() && line.trim_ascii_start().starts_with(b"{") => {
                self.mode = Mode::Legacy { text: String::new(), start_line: n, too_big: false };
                self.legacy_line(line);
            }
            Err(e) => out.malformed(n, format!("not JSON: column {}: {e}", e.column())),
        }
    }

    fn legacy_line(&mut self, line: &[u8]) {
        let max = self.options.limits.max_document_bytes;
        if let Mode::Legacy { text, too_big, .. } = &mut self.mode {
            if text.len() + line.len() + 1 > max {
                *too_big = true;
                text.clear();
            } else if !*too_big {
                text.push_str(&String::from_utf8_lossy(line));
                text.push('\n');
            }
        }
    }

    fn legacy_document(&mut self, n: u64, doc: Map<String, Value>, out: &mut EntrySink) {
        self.start_session(&doc, out);
        let Some(Value::Array(messages)) = doc.get("messages") else { return };
        for m in messages {
            match m {
                Value::Object(fields) => {
                    let id = str_field(fields, "id").unwrap_or_default().to_string();
                    self.write_record(Record { id, line: n, fields: fields.clone() }, out);
                }
                _ => out.malformed(n, "a message of the session file is not an object"),
            }
        }
        if let Some(ts) = str_field(&doc, "lastUpdated").and_then(parse_rfc3339_ms) {
            self.observe(Some(ts));
        }
    }

    fn jsonl_line(&mut self, n: u64, line: &[u8], out: &mut EntrySink) {
        let Some(o) = super::parse_object(n, line, out) else { return };
        if let Some(set) = o.get("$set") {
            if let Some(ts) = set.get("lastUpdated").and_then(Value::as_str).and_then(parse_rfc3339_ms) {
                self.observe(Some(ts));
            }
            return;
        }
        if let Some(target) = o.get("$rewindTo") {
            return match target.as_str() {
                Some(t) => self.rewind(n, t, out),
                None => out.malformed(n, "$rewindTo is not a message id"),
            };
        }
        let (Some(id), Some(_)) = (str_field(&o, "id"), str_field(&o, "type")) else {
            return out.malformed(n, "record without \"id\" and \"type\"");
        };
        let id = id.to_string();
        if let Some(slot) = self.index.get(&id).and_then(|p| self.window.get_mut((p - self.front) as usize)) {
            slot.fields = o;
            slot.line = n;
            return;
        }
        if self.written.get(&id).is_some() {
            return out.warn(
                n,
                format!(
                    "record {id} replaced after it was written (beyond the window of {}); the new version is ignored",
                    self.options.limits.gemini_window
                ),
            );
        }
        self.index.insert(id.clone(), self.front + self.window.len() as u64);
        self.window.push_back(Record { id, line: n, fields: o });
        while self.window.len() > self.options.limits.gemini_window {
            if let Some(r) = self.pop_front() {
                self.write_record(r, out);
            }
        }
    }

    fn rewind(&mut self, n: u64, target: &str, out: &mut EntrySink) {
        if let Some(pos) = self.index.get(target).map(|p| (p - self.front) as usize) {
            for r in self.window.drain(pos + 1..) {
                self.index.remove(&r.id);
            }
            return;
        }
        if self.written.get(target).is_some() {
            let dropped = self.window.len();
            self.front += dropped as u64;
            self.window.clear();
            self.index.clear();
            out.warn(n, format!("rewind to {target}, which was already written (beyond the window); entries after it stay in the output, voided by an aef.history.rewind entry"));
            let mut fields = one("to", Value::from(target));
            fields.insert("dropped".into(), Value::from(dropped));
            let ts = self.observe(None);
            let id = format!("rewind-L{n}");
            self.emit(id, ts, None, Body::Extension(Extension { type_name: "aef.history.rewind".into(), fields }), out);
            return;
        }
        out.warn(n, format!("rewind to unknown message {target}; ignored"));
    }

    fn pop_front(&mut self) -> Option<Record> {
        let r = self.window.pop_front()?;
        self.index.remove(&r.id);
        self.front += 1;
        Some(r)
    }

    fn emit(&mut self, id: String, ts: i64, pid: Option<String>, body: Body, out: &mut EntrySink) {
        if let Some(rec) = self.session.as_mut() {
            out.push(rec.entry(id, ts, pid, body));
        }
    }

    fn write_record(&mut self, r: Record, out: &mut EntrySink) {
        let mut f = r.fields;
        let ts = self.observe(str_field(&f, "timestamp").and_then(parse_rfc3339_ms));
        let id = if r.id.is_empty() { format!("L{}", r.line) } else { r.id };
        self.written.insert(id.clone(), ());
        let text = match f.remove("content") {
            Some(Value::String(s)) => s,
            Some(v) => plain_text(&v),
            None => String::new(),
        };
        let sub = self.subagent.clone();
        let body = match str_field(&f, "type").unwrap_or_default() {
            "user" => Body::Message(Message {
                role: Role::User,
                content: Content::Text(text),
                tokens: None,
                model: None,
                subagent: sub,
            }),
            "gemini" | "model" => return self.model_turn(id, ts, &mut f, text, out),
            "info" | "warning" => Body::Message(Message {
                role: Role::System,
                content: Content::Text(text),
                tokens: None,
                model: None,
                subagent: sub,
            }),
            "error" => {
                self.status = Status::Error;
                Body::Error(ErrorEvent { code: None, message: text, stack: None, recoverable: Some(true) })
            }
            other => return out.unknown(r.line, format!("unknown Gemini message type {other:?}")),
        };
        self.emit(id, ts, None, body, out);
    }

    fn model_turn(&mut self, id: String, ts: i64, f: &mut Map<String, Value>, text: String, out: &mut EntrySink) {
        let mut blocks = Vec::new();
        if let Some(Value::Array(thoughts)) = f.get("thoughts") {
            for t in thoughts {
                let subject = t.get("subject").and_then(Value::as_str).unwrap_or_default();
                let description = t.get("description").and_then(Value::as_str).unwrap_or_default();
                let joined =
                    [subject, description].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(": ");
                blocks.push(thinking_block(&joined));
            }
        }
        if !text.is_empty() {
            blocks.push(text_block(&text));
        }
        let body = Body::Message(Message {
            role: Role::Assistant,
            content: Content::Blocks(blocks),
            tokens: f.get("tokens").map(gemini_tokens),
            model: str_field(f, "model").map(str::to_string),
            subagent: self.subagent.clone(),
        });
        self.emit(id.clone(), ts, None, body, out);
        let Some(Value::Array(calls)) = f.remove("toolCalls") else { return };
        for (i, c) in calls.into_iter().enumerate() {
            self.tool_call(&id, i, ts, c, out);
        }
    }

    fn tool_call(&mut self, msg_id: &str, i: usize, msg_ts: i64, mut c: Value, out: &mut EntrySink) {
        let call_id = c.get("id").and_then(Value::as_str).map(str::to_string);
        let entry_id = format!("{msg_id}:call{i}");
        let tool = c.get("name").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or("unknown").to_string();
        let ts = c.get("timestamp").and_then(Value::as_str).and_then(parse_rfc3339_ms).unwrap_or(msg_ts);
        let body = Body::ToolCall(ToolCall {
            tool: tool.clone(),
            args: super::args_owned(c.get_mut("args").map(Value::take)),
            call_id: call_id.clone(),
            subagent: self.subagent.clone(),
        });
        self.emit(entry_id.clone(), ts, Some(msg_id.to_string()), body, out);
        let status = c.get("status").and_then(Value::as_str).unwrap_or_default().to_string();
        let status = status.as_str();
        if !matches!(status, "success" | "error" | "cancelled") && c.get("result").is_none() {
            return;
        }
        let success = status == "success" || (status.is_empty() && c.get("result").is_some());
        let result = match c.get_mut("result").map(Value::take) {
            Some(r) if !r.is_null() => r,
            _ => c.get("resultDisplay").cloned().unwrap_or(Value::Null),
        };
        let error = (!success).then(|| ToolError {
            code: (!status.is_empty()).then(|| status.to_string()),
            message: c
                .get("resultDisplay")
                .map(plain_text)
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| plain_text(&result)),
        });
        let body = Body::ToolResult(ToolResult {
            tool,
            call_id,
            result,
            success,
            duration_ms: None,
            error,
            subagent: self.subagent.clone(),
        });
        self.emit(format!("{entry_id}:result"), ts, Some(entry_id), body, out);
    }
}

/// Gemini tokens → AEF: `input` already includes `cached`; `tool` (tool-use prompt tokens) is
/// input too; `thoughts` are not part of Gemini's `output`, so AEF output adds them and reports
/// them as reasoning.
fn gemini_tokens(t: &Value) -> Tokens {
    let thoughts = super::count(Some(t), "thoughts");
    Tokens {
        input: super::count(Some(t), "input").saturating_add(super::count(Some(t), "tool")),
        output: super::count(Some(t), "output").saturating_add(thoughts),
        cached: super::opt_count(Some(t), "cached"),
        cache_write: None,
        reasoning: super::opt_count(Some(t), "thoughts"),
    }
    .clamped()
}

impl Adapter for GeminiAdapter {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Gemini
    }

    fn push_line(&mut self, line_no: u64, line: &[u8], out: &mut EntrySink) {
        match self.mode {
            Mode::Legacy { .. } => self.legacy_line(line),
            _ if line.iter().all(u8::is_ascii_whitespace) => {}
            Mode::Start => self.first_line(line_no, line, out),
            Mode::Jsonl if self.session.is_none() => self.first_line(line_no, line, out),
            Mode::Jsonl => self.jsonl_line(line_no, line, out),
        }
    }

    fn finish(&mut self, out: &mut EntrySink) {
        if let Mode::Legacy { text, start_line, too_big } = std::mem::replace(&mut self.mode, Mode::Jsonl) {
            if too_big {
                out.malformed(
                    start_line,
                    format!("session file larger than {} bytes; refused", self.options.limits.max_document_bytes),
                );
            } else {
                match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(doc)) => self.legacy_document(start_line, doc, out),
                    Ok(_) => out.malformed(start_line, "session file is not a JSON object"),
                    Err(e) => out.malformed(
                        start_line + e.line().saturating_sub(1) as u64,
                        format!("session file is not JSON: {e}"),
                    ),
                }
            }
        }
        while let Some(r) = self.pop_front() {
            self.write_record(r, out);
        }
        let ts = self.observe(None);
        if let Some(rec) = self.session.as_mut() {
            let sid = rec.sid().to_string();
            out.push(rec.end(format!("{sid}:end"), ts, self.status));
        }
        self.session = None;
    }
}
