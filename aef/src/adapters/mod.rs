//! Adapters: one per source log format, each turning source lines into AEF entries behind one
//! streaming interface ([`Adapter`]). An adapter sees one line at a time and keeps only bounded
//! state (the open model response, pending tool calls, a replacement window; see `Limits`), so a
//! log of any size converts in constant memory and a growing log converts as it is written.
//! Adapters never read files or print: the driver (`convert`) feeds them lines and writes what
//! they emit. Malformed or unknown source lines become [`Diagnostic`]s with their line number.

pub(crate) mod claude_code;
pub(crate) mod codex;
pub(crate) mod gemini;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::entry::Entry;
use crate::limits::Limits;
use crate::time::{Clock, SystemClock};

/// The adapters this build knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdapterKind {
    /// Claude Code session JSONL.
    ClaudeCode,
    /// Codex CLI rollout JSONL and the `codex exec --json` stream.
    Codex,
    /// Gemini CLI chat recording JSONL and the legacy single-JSON session file.
    Gemini,
}

/// What `aef adapters` lists about an adapter.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct AdapterInfo {
    /// The adapter.
    pub kind: AdapterKind,
    /// Its `--adapter` name.
    pub name: &'static str,
    /// What it reads.
    pub reads: &'static str,
    /// Where the tool writes such logs.
    pub location: &'static str,
}

/// Every adapter, in the order `aef adapters` lists them.
pub const ADAPTERS: [AdapterInfo; 3] = [
    AdapterInfo {
        kind: AdapterKind::ClaudeCode,
        name: "claude-code",
        reads: "Claude Code session JSONL (user, assistant, system lines; subagent transcripts)",
        location: "~/.claude/projects/<project>/<sessionId>.jsonl",
    },
    AdapterInfo {
        kind: AdapterKind::Codex,
        name: "codex",
        reads: "Codex CLI rollout JSONL, and the `codex exec --json` event stream",
        location: "$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl",
    },
    AdapterInfo {
        kind: AdapterKind::Gemini,
        name: "gemini",
        reads: "Gemini CLI chat recording JSONL ($set, $rewindTo), and legacy session-*.json files",
        location: "~/.gemini/tmp/<project hash>/chats/",
    },
];

impl AdapterKind {
    /// The `--adapter` name.
    pub fn name(self) -> &'static str {
        match self {
            AdapterKind::ClaudeCode => "claude-code",
            AdapterKind::Codex => "codex",
            AdapterKind::Gemini => "gemini",
        }
    }

    /// The adapter of an `--adapter` name.
    pub fn from_name(name: &str) -> Option<AdapterKind> {
        ADAPTERS.iter().find(|a| a.name == name).map(|a| a.kind)
    }

    /// A fresh adapter of this kind.
    pub fn build(self, options: AdapterOptions) -> Box<dyn Adapter> {
        match self {
            AdapterKind::ClaudeCode => Box::new(claude_code::ClaudeCodeAdapter::new(options)),
            AdapterKind::Codex => Box::new(codex::CodexAdapter::new(options)),
            AdapterKind::Gemini => Box::new(gemini::GeminiAdapter::new(options)),
        }
    }
}

/// Settings every adapter takes.
#[derive(Debug, Clone)]
pub struct AdapterOptions {
    /// Memory bounds.
    pub limits: Limits,
    /// "Now", for sources whose lines carry no time.
    pub clock: Arc<dyn Clock>,
}

impl Default for AdapterOptions {
    fn default() -> AdapterOptions {
        AdapterOptions { limits: Limits::default(), clock: Arc::new(SystemClock) }
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A line that is not what the format says (not JSON, a required field missing): skipped;
    /// fatal under `--strict`.
    Malformed,
    /// A line of a type the adapter does not know: skipped; fatal under `--strict`.
    Unknown,
    /// Something converted with a caveat (a late replacement, a forgotten pending call).
    Warning,
}

/// Something an adapter says about a source line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Source line number, from 1 (0: about the input as a whole).
    pub line: u64,
    /// How bad.
    pub severity: Severity,
    /// What happened.
    pub message: String,
}

/// Where an adapter puts what it makes: entries in order, and diagnostics. The driver drains it
/// after every line, so it holds at most one line's worth.
#[derive(Debug, Default)]
pub struct EntrySink {
    /// Entries, in output order.
    pub entries: Vec<Entry>,
    /// Diagnostics, in order.
    pub diagnostics: Vec<Diagnostic>,
}

impl EntrySink {
    /// Adds an entry.
    pub fn push(&mut self, e: Entry) {
        self.entries.push(e);
    }

    /// Reports a skipped malformed line.
    pub fn malformed(&mut self, line: u64, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic { line, severity: Severity::Malformed, message: message.into() });
    }

    /// Reports a skipped line of an unknown type.
    pub fn unknown(&mut self, line: u64, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic { line, severity: Severity::Unknown, message: message.into() });
    }

    /// Reports a caveat.
    pub fn warn(&mut self, line: u64, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic { line, severity: Severity::Warning, message: message.into() });
    }
}

/// A streaming converter from one source format to AEF.
///
/// The driver calls `push_line` for every line in order (line numbers from 1, the line ending
/// removed) and `finish` once at the end of input. An adapter emits an entry as soon as the
/// source lines that decide it have been seen; what it must hold back to get token accounting
/// right is bounded by `Limits` and documented on each adapter.
pub trait Adapter: Send {
    /// Which adapter this is.
    fn kind(&self) -> AdapterKind;
    /// Takes one source line.
    fn push_line(&mut self, line_no: u64, line: &[u8], out: &mut EntrySink);
    /// Ends the input: flushes what is held back and writes `session.end`.
    fn finish(&mut self, out: &mut EntrySink);
}

/// Picks the adapter for a log from its first bytes (a few lines are enough); `None` when no
/// adapter recognises it.
pub fn detect(sample: &[u8]) -> Option<AdapterKind> {
    let text = String::from_utf8_lossy(sample);
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty()).peekable();
    let first = lines.peek().copied()?;
    if first == "{"
        || (first.starts_with('{') && serde_json::from_str::<Value>(first).is_err() && first.contains("\"sessionId\""))
    {
        return Some(AdapterKind::Gemini);
    }
    for line in lines.take(50) {
        let Ok(Value::Object(o)) = serde_json::from_str::<Value>(line) else { continue };
        if let Some(kind) = detect_object(&o) {
            return Some(kind);
        }
    }
    None
}

fn detect_object(o: &Map<String, Value>) -> Option<AdapterKind> {
    let t = o.get("type").and_then(Value::as_str).unwrap_or_default();
    if o.contains_key("payload") && codex::ROLLOUT_TYPES.contains(&t) {
        return Some(AdapterKind::Codex);
    }
    if codex::EXEC_TYPES.contains(&t) && !o.contains_key("sid") {
        return Some(AdapterKind::Codex);
    }
    if o.contains_key("projectHash") || o.contains_key("$rewindTo") || o.contains_key("$set") {
        return Some(AdapterKind::Gemini);
    }
    let claude_shape = o.contains_key("uuid") || o.contains_key("leafUuid") || o.contains_key("messageId");
    if claude_shape && claude_code::LINE_TYPES.contains(&t) {
        return Some(AdapterKind::ClaudeCode);
    }
    None
}

/// A tool call waiting for its result.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PendingCall {
    /// The `tool.call` entry's id.
    pub(crate) entry_id: String,
    /// Tool name.
    pub(crate) tool: String,
    /// When it was called.
    pub(crate) ts: i64,
}

/// Pending calls by source call id, forgetting the oldest past a bound.
#[derive(Debug, Default)]
pub(crate) struct PendingCalls {
    map: HashMap<String, PendingCall>,
    order: VecDeque<String>,
    max: usize,
}

impl PendingCalls {
    pub(crate) fn new(max: usize) -> PendingCalls {
        PendingCalls { map: HashMap::new(), order: VecDeque::new(), max: max.max(1) }
    }

    /// Remembers a call; answers whether an older one had to be forgotten.
    pub(crate) fn insert(&mut self, call_id: String, call: PendingCall) -> bool {
        if self.map.insert(call_id.clone(), call).is_none() {
            self.order.push_back(call_id);
        }
        let mut evicted = false;
        while self.map.len() > self.max {
            match self.order.pop_front() {
                Some(old) => evicted |= self.map.remove(&old).is_some(),
                None => break,
            }
        }
        evicted
    }

    pub(crate) fn contains(&self, call_id: &str) -> bool {
        self.map.contains_key(call_id)
    }

    pub(crate) fn take(&mut self, call_id: &str) -> Option<PendingCall> {
        let call = self.map.remove(call_id)?;
        if self.order.len() > self.map.len().saturating_mul(2) + 16 {
            let map = &self.map;
            self.order.retain(|k| map.contains_key(k));
        }
        Some(call)
    }
}

/// A bounded map that forgets its oldest key past a bound (id aliases, counted responses).
#[derive(Debug, Default)]
pub(crate) struct BoundedMap<V> {
    map: HashMap<String, V>,
    order: VecDeque<String>,
    max: usize,
}

impl<V> BoundedMap<V> {
    pub(crate) fn new(max: usize) -> BoundedMap<V> {
        BoundedMap { map: HashMap::new(), order: VecDeque::new(), max: max.max(1) }
    }

    pub(crate) fn insert(&mut self, k: String, v: V) {
        if self.map.insert(k.clone(), v).is_none() {
            self.order.push_back(k);
        }
        while self.map.len() > self.max {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
    }

    pub(crate) fn get(&self, k: &str) -> Option<&V> {
        self.map.get(k)
    }

    pub(crate) fn get_mut(&mut self, k: &str) -> Option<&mut V> {
        self.map.get_mut(k)
    }
}

/// Parses one source line as a JSON object, reporting anything else as malformed.
pub(crate) fn parse_object(line_no: u64, line: &[u8], out: &mut EntrySink) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(o)) => Some(o),
        Ok(_) => {
            out.malformed(line_no, "not a JSON object");
            None
        }
        Err(e) => {
            out.malformed(line_no, format!("not JSON: column {}: {e}", e.column()));
            None
        }
    }
}

/// A non-empty string field of an object (an empty string counts as absent).
pub(crate) fn str_field<'a>(o: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    o.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A source content block made valid as an AEF content block: an object with a non-empty string
/// `type`, and the fields that type requires with the right types. Anything else is kept as
/// `{"type": "unknown", "value": …}`.
pub(crate) fn content_block(block: Value) -> Value {
    let kind = block.get("type").and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_string);
    let (Some(kind), Value::Object(mut o)) = (kind, block.clone()) else {
        let mut m = one("type", Value::from("unknown"));
        m.insert("value".into(), block);
        return Value::Object(m);
    };
    match kind.as_str() {
        "text" | "thinking" if !o.get("text").is_some_and(Value::is_string) => {
            let t = o.get("text").map(plain_text).unwrap_or_default();
            o.insert("text".into(), Value::from(t));
        }
        "tool_use" => {
            for k in ["id", "name"] {
                if !o.get(k).is_some_and(Value::is_string) {
                    let v = o.get(k).map(plain_text).unwrap_or_default();
                    o.insert(k.into(), Value::from(v));
                }
            }
            let input = args_object(o.get("input"));
            o.insert("input".into(), Value::Object(input));
        }
        "tool_result" => {
            if !o.get("tool_use_id").is_some_and(Value::is_string) {
                let v = o.get("tool_use_id").map(plain_text).unwrap_or_default();
                o.insert("tool_use_id".into(), Value::from(v));
            }
            o.entry("content").or_insert(Value::Null);
            if o.get("is_error").is_some_and(|v| !v.is_boolean()) {
                o.remove("is_error");
            }
        }
        _ => {}
    }
    Value::Object(o)
}

/// An unsigned count field, 0 when absent or not a count.
pub(crate) fn count(v: Option<&Value>, k: &str) -> u64 {
    v.and_then(|v| v.get(k)).and_then(Value::as_u64).unwrap_or(0)
}

/// A present unsigned count field.
pub(crate) fn opt_count(v: Option<&Value>, k: &str) -> Option<u64> {
    v.and_then(|v| v.get(k)).and_then(Value::as_u64)
}

/// Tool arguments as an object: an object stays, a JSON string holding an object is parsed, and
/// anything else is kept under `raw`.
pub(crate) fn args_object(v: Option<&Value>) -> Map<String, Value> {
    match v {
        Some(Value::Object(o)) => o.clone(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(o)) => o,
            _ => one("raw", Value::String(s.clone())),
        },
        None | Some(Value::Null) => Map::new(),
        Some(other) => one("raw", other.clone()),
    }
}

/// [`args_object`] for an owned value (no copy of an object).
pub(crate) fn args_owned(v: Option<Value>) -> Map<String, Value> {
    match v {
        Some(Value::Object(o)) => o,
        Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
            Ok(Value::Object(o)) => o,
            _ => one("raw", Value::String(s)),
        },
        None | Some(Value::Null) => Map::new(),
        Some(other) => one("raw", other),
    }
}

/// A one-field object.
pub(crate) fn one(k: &str, v: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(k.to_string(), v);
    m
}

/// A `text` content block.
pub(crate) fn text_block(text: &str) -> Value {
    let mut m = one("type", Value::from("text"));
    m.insert("text".into(), Value::from(text));
    Value::Object(m)
}

/// A `thinking` content block.
pub(crate) fn thinking_block(text: &str) -> Value {
    let mut m = one("type", Value::from("thinking"));
    m.insert("text".into(), Value::from(text));
    Value::Object(m)
}

/// The text of a tool result or message content: a string, or the `text` of its blocks/parts.
pub(crate) fn plain_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(plain_text).filter(|s| !s.is_empty()).collect();
            parts.join("\n")
        }
        Value::Object(o) => o.get("text").and_then(Value::as_str).map(str::to_string).unwrap_or_default(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format_from_its_first_lines() {
        let claude = br#"{"type":"user","uuid":"u1","sessionId":"s","message":{"role":"user","content":"hi"}}"#;
        assert_eq!(detect(claude), Some(AdapterKind::ClaudeCode));
        let codex = br#"{"timestamp":"2025-01-01T00:00:00Z","type":"session_meta","payload":{"id":"x"}}"#;
        assert_eq!(detect(codex), Some(AdapterKind::Codex));
        assert_eq!(detect(br#"{"type":"thread.started","thread_id":"t"}"#), Some(AdapterKind::Codex));
        let gemini = br#"{"sessionId":"s","projectHash":"h","startTime":"2025-01-01T00:00:00Z"}"#;
        assert_eq!(detect(gemini), Some(AdapterKind::Gemini));
        assert_eq!(detect(b"{\n  \"sessionId\": \"s\",\n  \"messages\": []\n}"), Some(AdapterKind::Gemini));
        assert_eq!(detect(b"hello\n"), None);
        assert_eq!(detect(b""), None);
        assert_eq!(detect(br#"{"v":1,"id":"a","ts":1,"type":"error","sid":"s","message":"m"}"#), None);
    }

    #[test]
    fn pending_calls_forget_the_oldest_past_the_bound() {
        let mut p = PendingCalls::new(2);
        let call = |id: &str| PendingCall { entry_id: id.into(), tool: "t".into(), ts: 0 };
        assert!(!p.insert("a".into(), call("a")));
        assert!(!p.insert("b".into(), call("b")));
        assert!(p.insert("c".into(), call("c")));
        assert!(p.take("a").is_none());
        assert_eq!(p.take("c").unwrap().entry_id, "c");
    }

    #[test]
    fn args_are_always_objects() {
        assert_eq!(args_object(Some(&Value::from("{\"a\":1}")))["a"], 1);
        assert_eq!(args_object(Some(&Value::from("ls -l")))["raw"], "ls -l");
        assert_eq!(args_object(Some(&Value::from(3)))["raw"], 3);
        assert!(args_object(None).is_empty());
    }

    #[test]
    fn names_round_trip() {
        for a in ADAPTERS {
            assert_eq!(AdapterKind::from_name(a.name), Some(a.kind));
            assert_eq!(a.kind.name(), a.name);
        }
        assert_eq!(AdapterKind::from_name("nope"), None);
    }
}
