//! Codex CLI → AEF: rollout JSONL (`{timestamp, type, payload}` lines) and the `codex exec
//! --json` event stream (`thread.started`, `item.completed`, `turn.completed {usage}`, …); the
//! adapter tells them apart line by line. Format and mapping: `docs/formats/codex.md`.
//!
//! Tokens come from the deltas of `token_count.info.total_token_usage`: a total equal to the last
//! counted one (a UI or rate-limit refresh) or lower in any field (history replayed on resume)
//! counts nothing, and lines older than the session's own start (a fork's replayed parent
//! history) only move the baseline. A delta is attached to the model response it closes;
//! when no response is open it is written as an `aef.usage.report`.
//!
//! Memory bound: the open model response (the items of one response), and
//! `Limits::max_pending_calls` pending tool calls.

use serde_json::{Map, Value};

use super::{
    Adapter, AdapterKind, AdapterOptions, EntrySink, PendingCall, PendingCalls, args_object, one, parse_object,
    plain_text, str_field, text_block, thinking_block,
};
use crate::entry::{
    Body, Content, ErrorEvent, Extension, Message, Role, SessionStart, Status, Tokens, ToolCall, ToolError, ToolResult,
};
use crate::session::{SessionRecorder, USAGE_REPORT_TYPE};
use crate::time::parse_rfc3339_ms;

/// Top-level `type`s of rollout lines.
pub(crate) const ROLLOUT_TYPES: [&str; 5] = ["session_meta", "turn_context", "response_item", "event_msg", "compacted"];

/// `type`s of the `codex exec --json` stream.
pub(crate) const EXEC_TYPES: [&str; 9] = [
    "thread.started",
    "turn.started",
    "turn.completed",
    "turn.failed",
    "item.started",
    "item.updated",
    "item.completed",
    "error",
    "thread.completed",
];

/// The agent name written in `session.start`.
pub(crate) const AGENT: &str = "codex";

/// Entries held back before the first `turn_context` names the model.
const HELD_BEFORE_START: usize = 16;

/// Cumulative usage as Codex reports it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Totals {
    input: u64,
    cached: u64,
    output: u64,
    reasoning: u64,
}

impl Totals {
    fn from_value(v: &Value) -> Totals {
        Totals {
            input: super::count(Some(v), "input_tokens"),
            cached: super::count(Some(v), "cached_input_tokens"),
            output: super::count(Some(v), "output_tokens"),
            reasoning: super::count(Some(v), "reasoning_output_tokens"),
        }
    }

    fn dominates(&self, o: &Totals) -> bool {
        self.input >= o.input && self.cached >= o.cached && self.output >= o.output && self.reasoning >= o.reasoning
    }

    fn max(&self, o: &Totals) -> Totals {
        Totals {
            input: self.input.max(o.input),
            cached: self.cached.max(o.cached),
            output: self.output.max(o.output),
            reasoning: self.reasoning.max(o.reasoning),
        }
    }

    /// Codex counts `input_tokens` including cached input and `output_tokens` including
    /// reasoning: the AEF meaning, field for field.
    fn minus(&self, o: &Totals) -> Tokens {
        Tokens {
            input: self.input - o.input,
            output: self.output - o.output,
            cached: Some(self.cached - o.cached),
            cache_write: None,
            reasoning: Some(self.reasoning - o.reasoning),
        }
        .clamped()
    }
}

/// The model response being assembled.
#[derive(Debug)]
struct OpenResponse {
    id: String,
    ts: i64,
    blocks: Vec<Value>,
    calls: Vec<(String, Value, i64)>,
}

/// The Codex adapter.
#[derive(Debug)]
pub struct CodexAdapter {
    options: AdapterOptions,
    session: Option<SessionRecorder>,
    start: Option<(String, SessionStart, i64)>,
    session_start_ms: Option<i64>,
    model: Option<String>,
    open: Option<OpenResponse>,
    pending: PendingCalls,
    counted: Option<Totals>,
    held: Vec<(String, i64, Option<String>, Body)>,
    replayed: u64,
    status: Status,
    last_ts: Option<i64>,
}

impl CodexAdapter {
    /// A new adapter.
    pub fn new(options: AdapterOptions) -> CodexAdapter {
        CodexAdapter {
            pending: PendingCalls::new(options.limits.max_pending_calls),
            options,
            session: None,
            start: None,
            session_start_ms: None,
            model: None,
            open: None,
            counted: None,
            held: Vec::new(),
            replayed: 0,
            status: Status::Unknown,
            last_ts: None,
        }
    }

    fn ts_of(&mut self, o: &Map<String, Value>) -> i64 {
        let ts = str_field(o, "timestamp")
            .and_then(parse_rfc3339_ms)
            .or(self.last_ts)
            .unwrap_or_else(|| self.options.clock.now_ms());
        self.last_ts = Some(self.last_ts.map_or(ts, |l| l.max(ts)));
        ts
    }

    /// Writes the pending `session.start` (held until the model is known or content begins).
    fn begin(&mut self, out: &mut EntrySink) -> bool {
        if let Some((sid, mut start, ts)) = self.start.take() {
            if start.model.is_none() {
                start.model = self.model.clone();
            }
            let mut rec = SessionRecorder::new(sid.clone());
            out.push(rec.entry(format!("{sid}:start"), ts, None, Body::SessionStart(start)));
            for (id, ts, pid, body) in self.held.drain(..) {
                out.push(rec.entry(id, ts, pid, body));
            }
            self.session = Some(rec);
        }
        self.session.is_some()
    }

    /// Entries made before the model is known wait (at most `HELD_BEFORE_START` of them) so
    /// `session.start` can name the model of the first `turn_context`.
    fn emit(&mut self, id: String, ts: i64, pid: Option<String>, body: Body, out: &mut EntrySink) {
        if self.session.is_none() && self.start.is_some() && self.model.is_none() && self.held.len() < HELD_BEFORE_START
        {
            self.held.push((id, ts, pid, body));
            return;
        }
        if self.begin(out)
            && let Some(rec) = self.session.as_mut()
        {
            out.push(rec.entry(id, ts, pid, body));
        }
    }

    fn sid(&self) -> String {
        self.session
            .as_ref()
            .map(|r| r.sid().to_string())
            .or_else(|| self.start.as_ref().map(|s| s.0.clone()))
            .unwrap_or_default()
    }

    fn line_id(&self, n: u64) -> String {
        format!("{}:L{n}", self.sid())
    }

    fn open_response(&mut self, n: u64, ts: i64) -> &mut OpenResponse {
        let id = self.line_id(n);
        self.open.get_or_insert_with(|| OpenResponse { id, ts, blocks: Vec::new(), calls: Vec::new() })
    }

    fn close_response(&mut self, tokens: Option<Tokens>, out: &mut EntrySink) {
        let Some(r) = self.open.take() else { return };
        let body = Body::Message(Message {
            role: Role::Assistant,
            content: Content::Blocks(r.blocks),
            tokens,
            model: self.model.clone(),
            subagent: None,
        });
        self.emit(r.id.clone(), r.ts, None, body, out);
        for (id, call, ts) in r.calls {
            self.emit_call(id, ts, Some(r.id.clone()), call, out);
        }
    }

    fn emit_call(&mut self, id: String, ts: i64, pid: Option<String>, call: Value, out: &mut EntrySink) {
        let tool = call.get("name").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or("unknown").to_string();
        let call_id = call.get("call_id").and_then(Value::as_str).map(str::to_string);
        if let Some(c) = &call_id
            && self.pending.insert(c.clone(), PendingCall { entry_id: id.clone(), tool: tool.clone(), ts })
        {
            out.warn(0, "too many pending tool calls: the oldest was forgotten");
        }
        let args = match call.get("arguments") {
            Some(a) => args_object(Some(a)),
            None => args_object(call.get("input").map(|i| Value::Object(one("input", i.clone()))).as_ref()),
        };
        self.emit(id, ts, pid, Body::ToolCall(ToolCall { tool, args, call_id, subagent: None }), out);
    }

    fn emit_result(
        &mut self,
        id: String,
        ts: i64,
        call_id: Option<String>,
        result: Value,
        success: bool,
        out: &mut EntrySink,
    ) {
        let pending = call_id.as_deref().and_then(|c| self.pending.take(c));
        let error = (!success).then(|| ToolError { code: None, message: plain_text(&result) });
        let body = Body::ToolResult(ToolResult {
            tool: pending.as_ref().map_or_else(|| "unknown".to_string(), |p| p.tool.clone()),
            call_id,
            result,
            success,
            duration_ms: pending.as_ref().and_then(|p| u64::try_from(ts - p.ts).ok()),
            error,
            subagent: None,
        });
        let pid = pending.map(|p| p.entry_id);
        self.emit(id, ts, pid, body, out);
    }

    /// Counts a `total_token_usage`: deltas only, never an unchanged or lower total.
    fn totals(&mut self, n: u64, total: Totals, replay: bool, out: &mut EntrySink) {
        let Some(prev) = self.counted else {
            self.counted = Some(total);
            if !replay && total != Totals::default() {
                self.usage(n, total.minus(&Totals::default()), out);
            }
            return;
        };
        if total == prev || !total.dominates(&prev) {
            if replay {
                self.counted = Some(prev.max(&total));
            }
            return;
        }
        self.counted = Some(total);
        if !replay {
            self.usage(n, total.minus(&prev), out);
        }
    }

    fn usage(&mut self, n: u64, tokens: Tokens, out: &mut EntrySink) {
        if self.open.is_some() {
            return self.close_response(Some(tokens), out);
        }
        let mut fields = one("tokens", serde_json::to_value(tokens).unwrap_or(Value::Null));
        if let Some(m) = &self.model {
            fields.insert("model".into(), Value::from(m.as_str()));
        }
        let ts = self.last_ts.unwrap_or_default();
        let id = self.line_id(n);
        self.emit(id, ts, None, Body::Extension(Extension { type_name: USAGE_REPORT_TYPE.into(), fields }), out);
    }

    fn rollout(&mut self, n: u64, o: &Map<String, Value>, out: &mut EntrySink) {
        let t = str_field(o, "type").unwrap_or_default();
        let ts = self.ts_of(o);
        let Some(payload) = o.get("payload").and_then(Value::as_object) else {
            return out.malformed(n, format!("{t} line without a \"payload\" object"));
        };
        if t == "session_meta" {
            return self.session_meta(n, payload, ts, out);
        }
        if self.start.is_none() && self.session.is_none() {
            return out.malformed(n, format!("{t} line before the session_meta line"));
        }
        let replay = self
            .session_start_ms
            .is_some_and(|s| str_field(o, "timestamp").and_then(parse_rfc3339_ms).is_some_and(|l| l < s));
        match t {
            "turn_context" => {
                if let Some(m) = str_field(payload, "model") {
                    self.model = Some(m.to_string());
                    self.begin(out);
                }
            }
            "event_msg" => self.event(n, payload, ts, replay, out),
            _ if replay => self.replayed += 1,
            "response_item" => self.item(n, payload, ts, out),
            _ => {
                self.close_response(None, out);
                let summary = str_field(payload, "message").unwrap_or_default();
                let body = Body::Extension(Extension {
                    type_name: "aef.context.compacted".into(),
                    fields: one("summary", Value::from(summary)),
                });
                let id = self.line_id(n);
                self.emit(id, ts, None, body, out);
            }
        }
    }

    fn session_meta(&mut self, n: u64, p: &Map<String, Value>, ts: i64, out: &mut EntrySink) {
        let Some(id) = str_field(p, "id") else {
            return out.malformed(n, "session_meta without an \"id\"");
        };
        if self.start.is_some() || self.session.is_some() {
            if id != self.sid() {
                self.replayed += 1;
            }
            return;
        }
        let mut meta = Map::new();
        for k in ["originator", "model_provider", "git", "source"] {
            if let Some(v) = p.get(k) {
                meta.insert(k.to_string(), v.clone());
            }
        }
        let started = str_field(p, "timestamp").and_then(parse_rfc3339_ms);
        self.session_start_ms = started;
        let start = SessionStart {
            agent: AGENT.into(),
            version: str_field(p, "cli_version").map(str::to_string),
            workspace: str_field(p, "cwd").map(str::to_string),
            model: None,
            meta: (!meta.is_empty()).then_some(meta),
        };
        self.start = Some((id.to_string(), start, started.unwrap_or(ts)));
    }

    fn item(&mut self, n: u64, p: &Map<String, Value>, ts: i64, out: &mut EntrySink) {
        let kind = str_field(p, "type").unwrap_or_default();
        match kind {
            "message" => {
                let role = str_field(p, "role").unwrap_or_default();
                let blocks: Vec<Value> = match p.get("content") {
                    Some(Value::Array(parts)) => parts.iter().map(|part| text_block(&plain_text(part))).collect(),
                    Some(Value::String(s)) => vec![text_block(s)],
                    _ => Vec::new(),
                };
                if role == "assistant" {
                    self.open_response(n, ts).blocks.extend(blocks);
                    return;
                }
                self.close_response(None, out);
                let text = blocks.iter().map(plain_text).collect::<Vec<_>>().join("\n");
                let injected = text.trim_start().starts_with('<');
                let role = if role == "user" && !injected { Role::User } else { Role::System };
                let id = self.line_id(n);
                let body = Body::Message(Message {
                    role,
                    content: Content::Blocks(blocks),
                    tokens: None,
                    model: None,
                    subagent: None,
                });
                self.emit(id, ts, None, body, out);
            }
            "reasoning" => {
                let text = p.get("summary").map(plain_text).unwrap_or_default();
                if !text.is_empty() {
                    self.open_response(n, ts).blocks.push(thinking_block(&text));
                }
            }
            "function_call" | "custom_tool_call" | "local_shell_call" | "web_search_call" => {
                let mut call = Value::Object(p.clone());
                if kind == "local_shell_call" || kind == "web_search_call" {
                    let name = kind.trim_end_matches("_call");
                    call["name"] = Value::from(name);
                    call["arguments"] = p.get("action").cloned().unwrap_or(Value::Null);
                }
                let id = self.line_id(n);
                self.open_response(n, ts).calls.push((id, call, ts));
            }
            "function_call_output" | "custom_tool_call_output" => {
                self.close_response(None, out);
                let (result, success) = output_of(p.get("output"));
                let call_id = str_field(p, "call_id").map(str::to_string);
                let id = self.line_id(n);
                self.emit_result(id, ts, call_id, result, success, out);
            }
            other => out.unknown(n, format!("unknown response_item type {other:?}")),
        }
    }

    fn event(&mut self, n: u64, p: &Map<String, Value>, ts: i64, replay: bool, out: &mut EntrySink) {
        match str_field(p, "type").unwrap_or_default() {
            "token_count" => {
                if let Some(total) = p.get("info").and_then(|i| i.get("total_token_usage")) {
                    self.totals(n, Totals::from_value(total), replay, out);
                }
            }
            _ if replay => self.replayed += 1,
            "turn_aborted" => self.status = Status::UserAbort,
            "task_complete" => {
                self.close_response(None, out);
                self.status = Status::Complete;
            }
            "task_started" => self.status = Status::Unknown,
            "error" | "stream_error" => {
                let recoverable = str_field(p, "type") == Some("stream_error");
                let body = Body::Error(ErrorEvent {
                    code: None,
                    message: str_field(p, "message").unwrap_or_default().to_string(),
                    stack: None,
                    recoverable: Some(recoverable),
                });
                if !recoverable {
                    self.status = Status::Error;
                }
                let id = self.line_id(n);
                self.emit(id, ts, None, body, out);
            }
            // user_message, agent_message and agent_reasoning repeat response items; the rest
            // are UI events.
            _ => {}
        }
    }

    fn exec(&mut self, n: u64, o: &Map<String, Value>, out: &mut EntrySink) {
        let ts = self.ts_of(o);
        let t = str_field(o, "type").unwrap_or_default();
        if t == "thread.started" {
            let Some(id) = str_field(o, "thread_id") else {
                return out.malformed(n, "thread.started without a \"thread_id\"");
            };
            if self.start.is_none() && self.session.is_none() {
                let start = SessionStart {
                    agent: AGENT.into(),
                    meta: Some(one("source", Value::from("exec"))),
                    ..SessionStart::default()
                };
                self.start = Some((id.to_string(), start, ts));
            }
            return;
        }
        if self.start.is_none() && self.session.is_none() {
            return out.malformed(n, format!("{t} line before thread.started"));
        }
        match t {
            "item.started" | "item.completed" => self.exec_item(n, o.get("item"), ts, t == "item.completed", out),
            "turn.completed" => {
                let u = o.get("usage");
                let tokens = Tokens {
                    input: super::count(u, "input_tokens"),
                    output: super::count(u, "output_tokens"),
                    cached: super::opt_count(u, "cached_input_tokens"),
                    cache_write: None,
                    reasoning: super::opt_count(u, "reasoning_output_tokens"),
                }
                .clamped();
                self.status = Status::Complete;
                self.usage(n, tokens, out);
            }
            "turn.failed" | "error" => {
                self.close_response(None, out);
                let message = o
                    .get("error")
                    .map_or_else(|| str_field(o, "message").unwrap_or_default().to_string(), plain_message);
                self.status = Status::Error;
                let id = self.line_id(n);
                self.emit(
                    id,
                    ts,
                    None,
                    Body::Error(ErrorEvent { code: None, message, stack: None, recoverable: Some(false) }),
                    out,
                );
            }
            _ => {}
        }
    }

    fn exec_item(&mut self, n: u64, item: Option<&Value>, ts: i64, completed: bool, out: &mut EntrySink) {
        let Some(item) = item.and_then(Value::as_object) else {
            return out.malformed(n, "item event without an \"item\" object");
        };
        let item_id = str_field(item, "id").map_or_else(|| self.line_id(n), |i| format!("{}:{i}", self.sid()));
        match str_field(item, "type").unwrap_or_default() {
            "agent_message" if completed => {
                let text = str_field(item, "text").unwrap_or_default();
                self.open_response(n, ts).blocks.push(text_block(text));
            }
            "reasoning" if completed => {
                let text = str_field(item, "text").unwrap_or_default();
                self.open_response(n, ts).blocks.push(thinking_block(text));
            }
            "error" if completed => {
                let message = str_field(item, "message").unwrap_or_default().to_string();
                self.emit(
                    item_id,
                    ts,
                    None,
                    Body::Error(ErrorEvent { code: None, message, stack: None, recoverable: Some(true) }),
                    out,
                );
            }
            "command_execution" | "file_change" | "mcp_tool_call" | "web_search" => {
                self.exec_tool(item_id, item, ts, completed, out)
            }
            "agent_message" | "reasoning" | "error" | "todo_list" => {}
            other => out.unknown(n, format!("unknown exec item type {other:?}")),
        }
    }

    fn exec_tool(&mut self, item_id: String, item: &Map<String, Value>, ts: i64, completed: bool, out: &mut EntrySink) {
        let (name, args) = match str_field(item, "type").unwrap_or_default() {
            "command_execution" => {
                ("shell".to_string(), one("command", item.get("command").cloned().unwrap_or(Value::Null)))
            }
            "file_change" => {
                ("apply_patch".to_string(), one("changes", item.get("changes").cloned().unwrap_or(Value::Null)))
            }
            "web_search" => ("web_search".to_string(), one("query", item.get("query").cloned().unwrap_or(Value::Null))),
            _ => (str_field(item, "tool").unwrap_or("mcp_tool").to_string(), args_object(item.get("arguments"))),
        };
        if !completed || !self.pending.contains(&item_id) {
            self.close_response(None, out);
            let call = serde_json::json!({"name": name, "call_id": item_id, "arguments": args});
            self.emit_call(format!("{item_id}:call"), ts, None, call, out);
        }
        if !completed {
            return;
        }
        let status = str_field(item, "status").unwrap_or("completed");
        let exit_ok = item.get("exit_code").and_then(Value::as_i64).is_none_or(|c| c == 0);
        let failed = item.get("error").is_some_and(|e| !e.is_null());
        let success = status == "completed" && exit_ok && !failed;
        let result = item
            .get("aggregated_output")
            .or_else(|| item.get("result"))
            .or_else(|| item.get("error"))
            .cloned()
            .unwrap_or(Value::Null);
        self.emit_result(format!("{item_id}:result"), ts, Some(item_id), result, success, out);
    }
}

/// A function call output: a string (sometimes JSON with `metadata.exit_code`) or an object
/// with `content` and `success`.
fn output_of(v: Option<&Value>) -> (Value, bool) {
    match v {
        Some(Value::Object(o)) => {
            let success = o.get("success").and_then(Value::as_bool).unwrap_or(true);
            (o.get("content").cloned().unwrap_or(Value::Object(o.clone())), success)
        }
        Some(Value::String(s)) => {
            let parsed = serde_json::from_str::<Value>(s).ok();
            let exit = parsed
                .as_ref()
                .and_then(|p| p.get("metadata"))
                .and_then(|m| m.get("exit_code"))
                .and_then(Value::as_i64);
            let text = parsed
                .as_ref()
                .and_then(|p| p.get("output"))
                .and_then(Value::as_str)
                .map_or_else(|| s.clone(), str::to_string);
            (Value::String(text), exit.is_none_or(|c| c == 0))
        }
        Some(other) => (other.clone(), true),
        None => (Value::Null, true),
    }
}

fn plain_message(v: &Value) -> String {
    v.get("message").and_then(Value::as_str).map_or_else(|| plain_text(v), str::to_string)
}

impl Adapter for CodexAdapter {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Codex
    }

    fn push_line(&mut self, line_no: u64, line: &[u8], out: &mut EntrySink) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let Some(o) = parse_object(line_no, line, out) else { return };
        let t = str_field(&o, "type").unwrap_or_default();
        if ROLLOUT_TYPES.contains(&t) {
            self.rollout(line_no, &o, out);
        } else if EXEC_TYPES.contains(&t) {
            self.exec(line_no, &o, out);
        } else if t.is_empty() {
            out.malformed(line_no, "line has no \"type\"");
        } else {
            out.unknown(line_no, format!("unknown Codex line type {t:?}"));
        }
    }

    fn finish(&mut self, out: &mut EntrySink) {
        self.close_response(None, out);
        if self.replayed > 0 {
            out.warn(0, format!("{} replayed parent-history lines were not converted again", self.replayed));
        }
        self.begin(out);
        let ts = self.last_ts.unwrap_or_else(|| self.options.clock.now_ms());
        if let Some(rec) = self.session.as_mut() {
            let sid = rec.sid().to_string();
            out.push(rec.end(format!("{sid}:end"), ts, self.status));
        }
        self.session = None;
    }
}
