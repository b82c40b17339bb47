//! Claude Code session JSONL → AEF (format and mapping: `docs/formats/claude-code.md`).
//!
//! One API response is written as several lines sharing `message.id` (one per content block,
//! or streaming snapshots), each repeating the input and cache counts while `output_tokens`
//! grows. The adapter holds the lines of the response being written (one open response per
//! thread: main agent or a sidechain) and emits it as one `message` plus its `tool.call`s when
//! another line of that thread arrives or the input ends, with the usage of its last (largest)
//! record. A line of an already-emitted response that shows more output adds the difference as an
//! `aef.usage.report`, so every `message.id` counts once with its largest usage.
//!
//! Memory bound: the open responses (one per thread, each the lines of one API response),
//! `Limits::max_pending_calls` pending tool calls, and `Limits::max_aliases` remembered line ids
//! and counted responses.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{
    Adapter, AdapterKind, AdapterOptions, BoundedMap, EntrySink, PendingCall, PendingCalls, args_object, one,
    parse_object, plain_text, str_field,
};
use crate::entry::{
    Body, Content, ErrorEvent, Extension, Message, Role, SessionStart, Status, Tokens, ToolCall, ToolError, ToolResult,
};
use crate::session::{SessionRecorder, USAGE_REPORT_TYPE};
use crate::time::parse_rfc3339_ms;

/// Line types Claude Code writes (the ones not listed are reported as unknown and skipped).
pub(crate) const LINE_TYPES: [&str; 9] = [
    "user",
    "assistant",
    "system",
    "summary",
    "file-history-snapshot",
    "queue-operation",
    "last-prompt",
    "progress",
    "attachment",
];

/// The agent name written in `session.start`.
pub(crate) const AGENT: &str = "claude-code";

/// One API response being assembled.
#[derive(Debug)]
struct OpenResponse {
    msg_id: String,
    entry_id: String,
    pid: Option<String>,
    ts: i64,
    model: Option<String>,
    blocks: Vec<Value>,
    calls: Vec<(String, Value, i64)>,
    tokens: Option<Tokens>,
    line_ids: Vec<String>,
    subagent: Option<String>,
}

/// The Claude Code adapter.
#[derive(Debug)]
pub struct ClaudeCodeAdapter {
    options: AdapterOptions,
    session: Option<SessionRecorder>,
    subagent_file: Option<String>,
    open: HashMap<String, OpenResponse>,
    pending: PendingCalls,
    aliases: BoundedMap<String>,
    counted: BoundedMap<Tokens>,
    last_ts: Option<i64>,
}

impl ClaudeCodeAdapter {
    /// A new adapter.
    pub fn new(options: AdapterOptions) -> ClaudeCodeAdapter {
        let limits = &options.limits;
        ClaudeCodeAdapter {
            pending: PendingCalls::new(limits.max_pending_calls),
            aliases: BoundedMap::new(limits.max_aliases),
            counted: BoundedMap::new(limits.max_aliases),
            options,
            session: None,
            subagent_file: None,
            open: HashMap::new(),
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

    fn parent(&self, o: &Map<String, Value>) -> Option<String> {
        let p = str_field(o, "parentUuid")?;
        Some(self.aliases.get(p).cloned().unwrap_or_else(|| p.to_string()))
    }

    /// Starts the session on the first line that names one.
    fn ensure_session(&mut self, o: &Map<String, Value>, ts: i64, out: &mut EntrySink) -> bool {
        if self.session.is_some() {
            return true;
        }
        let Some(session_id) = str_field(o, "sessionId") else { return false };
        let sidechain = o.get("isSidechain").and_then(Value::as_bool).unwrap_or(false);
        let agent_id = str_field(o, "agentId");
        let mut meta = Map::new();
        let sid = match (sidechain, agent_id) {
            (true, Some(a)) => {
                self.subagent_file = Some(a.to_string());
                meta.insert("parent_sid".into(), Value::from(session_id));
                meta.insert("agent_id".into(), Value::from(a));
                format!("{session_id}.agent-{a}")
            }
            _ => session_id.to_string(),
        };
        for k in ["gitBranch", "entrypoint", "userType", "slug"] {
            if let Some(v) = o.get(k) {
                meta.insert(k.to_string(), v.clone());
            }
        }
        let mut rec = SessionRecorder::new(sid.clone());
        let start = SessionStart {
            agent: AGENT.into(),
            version: str_field(o, "version").map(str::to_string),
            workspace: str_field(o, "cwd").map(str::to_string),
            model: None,
            meta: (!meta.is_empty()).then_some(meta),
        };
        out.push(rec.entry(format!("{sid}:start"), ts, None, Body::SessionStart(start)));
        self.session = Some(rec);
        true
    }

    fn subagent(&self, o: &Map<String, Value>) -> Option<String> {
        if !o.get("isSidechain").and_then(Value::as_bool).unwrap_or(false) {
            return None;
        }
        Some(
            str_field(o, "agentId")
                .map(str::to_string)
                .or_else(|| self.subagent_file.clone())
                .unwrap_or_else(|| "sidechain".into()),
        )
    }

    fn thread_key(o: &Map<String, Value>) -> String {
        let side = o.get("isSidechain").and_then(Value::as_bool).unwrap_or(false);
        format!("{side}:{}", str_field(o, "agentId").unwrap_or(""))
    }

    fn line(&mut self, n: u64, mut o: Map<String, Value>, out: &mut EntrySink) {
        let t = str_field(&o, "type").unwrap_or_default().to_string();
        match t.as_str() {
            "assistant" | "user" | "system" => {}
            "" => return out.malformed(n, "line has no \"type\""),
            t if LINE_TYPES.contains(&t) => return,
            other => return out.unknown(n, format!("unknown Claude Code line type {other:?}")),
        }
        let ts = self.ts_of(&o);
        if !self.ensure_session(&o, ts, out) {
            return out.malformed(n, format!("{t} line before any line with a \"sessionId\""));
        }
        let thread = Self::thread_key(&o);
        if t != "assistant" {
            self.close_thread(&thread, out);
        }
        let msg = match o.remove("message") {
            Some(Value::Object(m)) => Some(m),
            _ => None,
        };
        match t.as_str() {
            "assistant" => self.assistant(n, &o, msg, ts, thread, out),
            "user" => self.user(n, &o, msg, ts, out),
            _ => self.system(&o, ts, out),
        }
    }

    fn assistant(
        &mut self,
        n: u64,
        o: &Map<String, Value>,
        msg: Option<Map<String, Value>>,
        ts: i64,
        thread: String,
        out: &mut EntrySink,
    ) {
        let Some(mut msg) = msg else {
            return out.malformed(n, "assistant line without a \"message\" object");
        };
        if o.get("isApiErrorMessage").and_then(Value::as_bool).unwrap_or(false) {
            self.close_thread(&thread, out);
            let code = o.get("apiErrorStatus").map(|v| v.to_string().trim_matches('"').to_string());
            let message = plain_text(msg.get("content").unwrap_or(&Value::Null));
            let body = Body::Error(ErrorEvent {
                code: code.or(Some("api_error".into())),
                message,
                stack: None,
                recoverable: Some(true),
            });
            let id = str_field(o, "uuid").map_or_else(|| format!("line-{n}"), str::to_string);
            let pid = self.parent(o);
            return self.emit(id, ts, pid, body, out);
        }
        let line_id = str_field(o, "uuid").map_or_else(|| format!("line-{n}"), str::to_string);
        let msg_id = str_field(&msg, "id").map_or_else(|| line_id.clone(), str::to_string);
        let tokens = msg.get("usage").map(usage_tokens);
        if self.open.get(&thread).is_some_and(|r| r.msg_id != msg_id) {
            self.close_thread(&thread, out);
        }
        if !self.open.contains_key(&thread) && self.counted.get(&msg_id).is_some() {
            return self.late_line(&msg_id, &line_id, msg, tokens, ts, out);
        }
        let pid = self.parent(o);
        let subagent = self.subagent(o);
        let resp = self.open.entry(thread).or_insert_with(|| OpenResponse {
            msg_id,
            entry_id: line_id.clone(),
            pid,
            ts,
            model: None,
            blocks: Vec::new(),
            calls: Vec::new(),
            tokens: None,
            line_ids: Vec::new(),
            subagent,
        });
        if let Some(m) = str_field(&msg, "model") {
            resp.model = Some(m.to_string());
        }
        if let Some(t) = tokens
            && resp.tokens.is_none_or(|old| t.output >= old.output)
        {
            resp.tokens = Some(t);
        }
        resp.line_ids.push(line_id.clone());
        add_blocks(resp, &line_id, ts, msg.remove("content"));
    }

    /// A line of a response that was already emitted: its new tool calls are emitted, and output
    /// beyond what was counted is reported as usage.
    fn late_line(
        &mut self,
        msg_id: &str,
        line_id: &str,
        mut msg: Map<String, Value>,
        tokens: Option<Tokens>,
        ts: i64,
        out: &mut EntrySink,
    ) {
        let mut scratch = OpenResponse {
            msg_id: msg_id.to_string(),
            entry_id: line_id.to_string(),
            pid: None,
            ts,
            model: None,
            blocks: Vec::new(),
            calls: Vec::new(),
            tokens: None,
            line_ids: Vec::new(),
            subagent: None,
        };
        add_blocks(&mut scratch, line_id, ts, msg.remove("content"));
        let parent = self.aliases.get(msg_id).cloned();
        for (id, call, call_ts) in scratch.calls {
            self.emit_call(id, call_ts, parent.clone(), &call, None, out);
        }
        let Some(new) = tokens else { return };
        let Some(old) = self.counted.get_mut(msg_id) else { return };
        if new.output > old.output {
            let extra =
                Tokens { input: 0, output: new.output - old.output, cached: None, cache_write: None, reasoning: None };
            *old = new;
            let mut fields = one("tokens", serde_json::to_value(extra).unwrap_or(Value::Null));
            if let Some(m) = str_field(&msg, "model") {
                fields.insert("model".into(), Value::from(m));
            }
            let body = Body::Extension(Extension { type_name: USAGE_REPORT_TYPE.into(), fields });
            self.emit(format!("{line_id}:usage"), ts, parent, body, out);
        }
    }

    fn close_thread(&mut self, thread: &str, out: &mut EntrySink) {
        if let Some(resp) = self.open.remove(thread) {
            self.emit_response(resp, out);
        }
    }

    fn emit_response(&mut self, resp: OpenResponse, out: &mut EntrySink) {
        for alias in resp.line_ids.iter().skip(1) {
            self.aliases.insert(alias.clone(), resp.entry_id.clone());
        }
        self.aliases.insert(resp.msg_id.clone(), resp.entry_id.clone());
        self.counted.insert(resp.msg_id.clone(), resp.tokens.unwrap_or_default());
        let body = Body::Message(Message {
            role: Role::Assistant,
            content: Content::Blocks(resp.blocks),
            tokens: resp.tokens,
            model: resp.model,
            subagent: resp.subagent.clone(),
        });
        self.emit(resp.entry_id.clone(), resp.ts, resp.pid, body, out);
        for (id, call, call_ts) in resp.calls {
            self.emit_call(id, call_ts, Some(resp.entry_id.clone()), &call, resp.subagent.clone(), out);
        }
    }

    fn emit_call(
        &mut self,
        id: String,
        ts: i64,
        pid: Option<String>,
        block: &Value,
        subagent: Option<String>,
        out: &mut EntrySink,
    ) {
        let tool = block.get("name").and_then(Value::as_str).filter(|s| !s.is_empty()).unwrap_or("unknown").to_string();
        let call_id = block.get("id").and_then(Value::as_str).map(str::to_string);
        if let Some(c) = &call_id
            && self.pending.insert(c.clone(), PendingCall { entry_id: id.clone(), tool: tool.clone(), ts })
        {
            out.warn(0, "too many pending tool calls: the oldest was forgotten");
        }
        let body = Body::ToolCall(ToolCall { tool, args: args_object(block.get("input")), call_id, subagent });
        self.emit(id, ts, pid, body, out);
    }

    fn user(&mut self, n: u64, o: &Map<String, Value>, msg: Option<Map<String, Value>>, ts: i64, out: &mut EntrySink) {
        let Some(mut msg) = msg else {
            return out.malformed(n, "user line without a \"message\" object");
        };
        let id = str_field(o, "uuid").map_or_else(|| format!("line-{n}"), str::to_string);
        let pid = self.parent(o);
        let subagent = self.subagent(o);
        let content = msg.remove("content").unwrap_or(Value::Null);
        let blocks = match content {
            Value::String(s) => {
                let body = Body::Message(Message {
                    role: Role::User,
                    content: Content::Text(s),
                    tokens: None,
                    model: None,
                    subagent,
                });
                return self.emit(id, ts, pid, body, out);
            }
            Value::Array(b) => b,
            _ => return out.malformed(n, "user message content is neither text nor blocks"),
        };
        let (results, rest): (Vec<Value>, Vec<Value>) =
            blocks.into_iter().partition(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"));
        let split = results.len() + usize::from(!rest.is_empty()) > 1;
        if !rest.is_empty() {
            let mid = if split { format!("{id}#0") } else { id.clone() };
            let rest = rest.into_iter().map(super::content_block).collect();
            let body = Body::Message(Message {
                role: Role::User,
                content: Content::Blocks(rest),
                tokens: None,
                model: None,
                subagent: subagent.clone(),
            });
            self.emit(mid, ts, pid.clone(), body, out);
        }
        for (i, r) in results.into_iter().enumerate() {
            let rid = if split { format!("{id}#{}", i + 1) } else { id.clone() };
            self.tool_result(rid, ts, pid.clone(), r, subagent.clone(), out);
        }
    }

    fn tool_result(
        &mut self,
        id: String,
        ts: i64,
        pid: Option<String>,
        mut block: Value,
        subagent: Option<String>,
        out: &mut EntrySink,
    ) {
        let call_id = block.get("tool_use_id").and_then(Value::as_str).map(str::to_string);
        let pending = call_id.as_deref().and_then(|c| self.pending.take(c));
        let is_error = block.get("is_error").and_then(Value::as_bool).unwrap_or(false);
        let result = block.get_mut("content").map(Value::take).unwrap_or(Value::Null);
        let error = is_error.then(|| ToolError { code: None, message: plain_text(&result) });
        let body = Body::ToolResult(ToolResult {
            tool: pending.as_ref().map_or_else(|| "unknown".to_string(), |p| p.tool.clone()),
            call_id,
            result,
            success: !is_error,
            duration_ms: pending.as_ref().and_then(|p| u64::try_from(ts - p.ts).ok()),
            error,
            subagent,
        });
        let pid = pending.map(|p| p.entry_id).or(pid);
        self.emit(id, ts, pid, body, out);
    }

    fn system(&mut self, o: &Map<String, Value>, ts: i64, out: &mut EntrySink) {
        let id = str_field(o, "uuid").map_or_else(|| format!("system-{ts}"), str::to_string);
        let pid = self.parent(o);
        let text = str_field(o, "content").unwrap_or_default().to_string();
        let body = if str_field(o, "subtype") == Some("compact_boundary") {
            Body::Extension(Extension {
                type_name: "aef.context.compacted".into(),
                fields: one("summary", Value::from(text)),
            })
        } else if str_field(o, "level") == Some("error") {
            Body::Error(ErrorEvent {
                code: str_field(o, "subtype").map(str::to_string),
                message: text,
                stack: None,
                recoverable: Some(true),
            })
        } else {
            Body::Message(Message {
                role: Role::System,
                content: Content::Text(text),
                tokens: None,
                model: None,
                subagent: self.subagent(o),
            })
        };
        self.emit(id, ts, pid, body, out);
    }

    fn emit(&mut self, id: String, ts: i64, pid: Option<String>, body: Body, out: &mut EntrySink) {
        if let Some(rec) = self.session.as_mut() {
            out.push(rec.entry(id, ts, pid, body));
        }
    }
}

/// Adds a line's content blocks to the response: tool_use blocks by id (a repeat replaces), text
/// and thinking blocks unless already there (a growing snapshot replaces its prefix).
fn add_blocks(resp: &mut OpenResponse, line_id: &str, ts: i64, content: Option<Value>) {
    let blocks = match content {
        Some(Value::Array(b)) => b,
        Some(Value::String(s)) => vec![super::text_block(&s)],
        _ => return,
    };
    for block in blocks {
        let kind = block.get("type").and_then(Value::as_str).unwrap_or_default();
        if kind == "tool_use" {
            let cid = block.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
            if let Some(slot) =
                resp.calls.iter_mut().find(|(_, b, _)| b.get("id").and_then(Value::as_str) == Some(cid.as_str()))
            {
                slot.1 = block;
            } else {
                let id = if resp.calls.iter().any(|(id, _, _)| id == line_id) || line_id == resp.entry_id {
                    format!("{line_id}#{}", resp.calls.len() + 1)
                } else {
                    line_id.to_string()
                };
                resp.calls.push((id, block, ts));
            }
            continue;
        }
        let block = normalise_block(block);
        let text = block.get("text").and_then(Value::as_str).unwrap_or_default().to_string();
        if resp.blocks.contains(&block) {
            continue;
        }
        let grows = resp.blocks.last().is_some_and(|last| {
            last.get("type") == block.get("type")
                && last
                    .get("text")
                    .and_then(Value::as_str)
                    .is_some_and(|prev| !prev.is_empty() && text.starts_with(prev))
        });
        if grows {
            resp.blocks.pop();
        }
        resp.blocks.push(block);
    }
}

/// Claude's `thinking` blocks carry `thinking` (and a signature); AEF's carry `text`. Every
/// block is made a valid AEF content block.
fn normalise_block(block: Value) -> Value {
    match block.get("type").and_then(Value::as_str) {
        Some("thinking") => super::thinking_block(&block.get("thinking").map(plain_text).unwrap_or_default()),
        _ => super::content_block(block),
    }
}

/// Anthropic usage → AEF tokens: `input_tokens` excludes cache reads and writes, so AEF input is
/// their sum; output already includes extended thinking.
fn usage_tokens(u: &Value) -> Tokens {
    let reads = super::opt_count(Some(u), "cache_read_input_tokens");
    let writes = super::opt_count(Some(u), "cache_creation_input_tokens");
    let input = super::count(Some(u), "input_tokens");
    Tokens {
        input: input.saturating_add(reads.unwrap_or(0)).saturating_add(writes.unwrap_or(0)),
        output: super::count(Some(u), "output_tokens"),
        cached: reads,
        cache_write: writes,
        reasoning: None,
    }
    .clamped()
}

impl Adapter for ClaudeCodeAdapter {
    fn kind(&self) -> AdapterKind {
        AdapterKind::ClaudeCode
    }

    fn push_line(&mut self, line_no: u64, line: &[u8], out: &mut EntrySink) {
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        if let Some(o) = parse_object(line_no, line, out) {
            self.line(line_no, o, out);
        }
    }

    fn finish(&mut self, out: &mut EntrySink) {
        let mut threads: Vec<String> = self.open.keys().cloned().collect();
        threads.sort();
        for t in threads {
            self.close_thread(&t, out);
        }
        let ts = self.last_ts.unwrap_or_else(|| self.options.clock.now_ms());
        if let Some(rec) = self.session.as_mut() {
            let sid = rec.sid().to_string();
            out.push(rec.end(format!("{sid}:end"), ts, Status::Unknown));
        }
        self.session = None;
    }
}
