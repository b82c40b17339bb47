//! AEF entries as typed values: the base fields every entry carries and one body per core type,
//! plus extension bodies. Owns the wire shape (one JSON object per line, base fields first); never
//! reads or validates input (see `validate`). Serialization only: input is validated as JSON
//! against the schema, so unknown fields of other producers are never lost to a typed decode.

use serde::Serialize;
use serde_json::{Map, Value};

/// The schema version written in the `v` field of every entry.
pub const AEF_VERSION: u8 = 1;

/// The six core entry types, in the order the spec lists them.
pub const CORE_TYPES: [&str; 6] = ["session.start", "session.end", "message", "tool.call", "tool.result", "error"];

/// One AEF entry: base fields plus a typed body.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Entry id, unique within the session.
    pub id: String,
    /// Unix time in milliseconds.
    pub ts: i64,
    /// Session id.
    pub sid: String,
    /// Parent entry id.
    pub pid: Option<String>,
    /// Sequence number within the session.
    pub seq: Option<u64>,
    /// The type-specific fields.
    pub body: Body,
}

/// The type-specific part of an entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// `session.start`
    SessionStart(SessionStart),
    /// `session.end`
    SessionEnd(SessionEnd),
    /// `message`
    Message(Message),
    /// `tool.call`
    ToolCall(ToolCall),
    /// `tool.result`
    ToolResult(ToolResult),
    /// `error`
    Error(ErrorEvent),
    /// A namespaced extension type.
    Extension(Extension),
}

impl Body {
    /// The `type` field this body is written with.
    pub fn type_name(&self) -> &str {
        match self {
            Body::SessionStart(_) => "session.start",
            Body::SessionEnd(_) => "session.end",
            Body::Message(_) => "message",
            Body::ToolCall(_) => "tool.call",
            Body::ToolResult(_) => "tool.result",
            Body::Error(_) => "error",
            Body::Extension(e) => &e.type_name,
        }
    }
}

/// `session.start`: who ran the session, where, with what.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct SessionStart {
    /// The agent or tool (`claude-code`, `codex`, `gemini-cli`, `cp-kernel`).
    pub agent: String,
    /// The agent's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Working directory or project.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// The model the session started with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Anything else the source said about the session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<Map<String, Value>>,
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Ended normally.
    Complete,
    /// Ended with an error.
    Error,
    /// Ran out of time.
    Timeout,
    /// The user stopped it.
    UserAbort,
    /// The source does not say (a log that simply stops).
    Unknown,
}

/// `session.end`: the status and a computed summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionEnd {
    /// How the session ended.
    pub status: Status,
    /// Counts over the session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
}

/// The summary of a session.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    /// `message` entries.
    pub messages: u64,
    /// `tool.call` entries.
    pub tool_calls: u64,
    /// `error` entries.
    pub errors: u64,
    /// Last minus first timestamp, in milliseconds.
    pub duration_ms: u64,
    /// Tokens summed over all messages (and usage reports).
    pub tokens: Tokens,
}

/// Token counts, as OpenTelemetry counts them (AEF spec §4): `input` includes cache reads and
/// cache writes, `output` includes reasoning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Tokens {
    /// All input tokens, cache reads and writes included.
    pub input: u64,
    /// All output tokens, reasoning included.
    pub output: u64,
    /// Input tokens read from the cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached: Option<u64>,
    /// Input tokens written to the cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_write: Option<u64>,
    /// Reasoning (thought) tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<u64>,
}

impl Tokens {
    /// Adds `other` field by field (saturating); an optional field is present in the sum when it
    /// is present in either side.
    pub fn add(&mut self, other: &Tokens) {
        fn opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
            match (a, b) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0).saturating_add(b.unwrap_or(0))),
            }
        }
        self.input = self.input.saturating_add(other.input);
        self.output = self.output.saturating_add(other.output);
        self.cached = opt(self.cached, other.cached);
        self.cache_write = opt(self.cache_write, other.cache_write);
        self.reasoning = opt(self.reasoning, other.reasoning);
    }

    /// The counts with the AEF invariants enforced on inconsistent source data: cache reads and
    /// writes are cut to fit in `input`, reasoning to fit in `output`.
    pub fn clamped(mut self) -> Tokens {
        if let Some(c) = self.cached.as_mut() {
            *c = (*c).min(self.input);
        }
        let room = self.input - self.cached.unwrap_or(0);
        if let Some(w) = self.cache_write.as_mut() {
            *w = (*w).min(room);
        }
        if let Some(r) = self.reasoning.as_mut() {
            *r = (*r).min(self.output);
        }
        self
    }

    /// True when every count is zero or absent.
    pub fn is_zero(&self) -> bool {
        self.input == 0
            && self.output == 0
            && self.cached.unwrap_or(0) == 0
            && self.cache_write.unwrap_or(0) == 0
            && self.reasoning.unwrap_or(0) == 0
    }

    /// Reads a `tokens` object of an AEF entry; `None` unless `input` and `output` are counts.
    pub fn from_value(v: &Value) -> Option<Tokens> {
        let n = |k: &str| v.get(k).and_then(Value::as_u64);
        Some(Tokens {
            input: n("input")?,
            output: n("output")?,
            cached: n("cached"),
            cache_write: n("cache_write"),
            reasoning: n("reasoning"),
        })
    }
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The user (or the harness speaking for the user).
    User,
    /// The model.
    Assistant,
    /// System or developer instructions.
    System,
}

/// The content of a message: plain text or content blocks (`text`, `thinking`, `tool_use`,
/// `tool_result`, or any other block with a `type`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Content blocks, each a JSON object with a `type`.
    Blocks(Vec<Value>),
}

/// `message`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// What it says.
    pub content: Content,
    /// Tokens of the model response this message is (assistant messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Tokens>,
    /// The model that wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The subagent (sidechain) it belongs to; absent for the main agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subagent: Option<String>,
}

/// `tool.call`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolCall {
    /// Tool name.
    pub tool: String,
    /// Arguments (an object; a source's unparsable argument string is kept as `{"raw": …}`).
    pub args: Map<String, Value>,
    /// The source's call id, which the matching `tool.result` repeats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// The subagent it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subagent: Option<String>,
}

/// The error part of a failed `tool.result`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolError {
    /// A code, when the source gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What went wrong.
    pub message: String,
}

/// `tool.result`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolResult {
    /// Tool name.
    pub tool: String,
    /// The call id of the matching `tool.call`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    /// What the tool returned.
    pub result: Value,
    /// Whether the tool succeeded.
    pub success: bool,
    /// Time from the call to the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ToolError>,
    /// The subagent it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subagent: Option<String>,
}

/// `error`
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorEvent {
    /// A code, when the source gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// What went wrong.
    pub message: String,
    /// A stack trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// Whether the agent carried on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recoverable: Option<bool>,
}

/// An extension entry: a namespaced type and its fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Extension {
    /// `vendor.category.type`.
    pub type_name: String,
    /// The extension's own fields (base fields in here are ignored on write).
    pub fields: Map<String, Value>,
}

impl Entry {
    /// A new entry with no parent and no sequence number.
    pub fn new(id: impl Into<String>, ts: i64, sid: impl Into<String>, body: Body) -> Entry {
        Entry { id: id.into(), ts, sid: sid.into(), pid: None, seq: None, body }
    }

    /// Sets the parent id.
    pub fn with_pid(mut self, pid: Option<String>) -> Entry {
        self.pid = pid;
        self
    }

    /// Sets the sequence number.
    pub fn with_seq(mut self, seq: u64) -> Entry {
        self.seq = Some(seq);
        self
    }

    /// The `type` field.
    pub fn type_name(&self) -> &str {
        self.body.type_name()
    }

    /// The entry as one JSON object (base fields first).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Writes a body's required fields, then its present optional ones, into the entry's map.
macro_rules! fields {
    ($m:ident, $b:ident; $($req:ident),* ; $($opt:ident),*) => {{
        $( $m.serialize_entry(stringify!($req), &$b.$req)?; )*
        $( if let Some(v) = &$b.$opt { $m.serialize_entry(stringify!($opt), v)?; } )*
    }};
}

/// Base fields first, then the body's fields. Written by hand rather than with `flatten` so the
/// key order is fixed and no intermediate map is built.
impl Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("v", &AEF_VERSION)?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("ts", &self.ts)?;
        m.serialize_entry("type", self.type_name())?;
        m.serialize_entry("sid", &self.sid)?;
        if let Some(pid) = &self.pid {
            m.serialize_entry("pid", pid)?;
        }
        if let Some(seq) = self.seq {
            m.serialize_entry("seq", &seq)?;
        }
        match &self.body {
            Body::SessionStart(b) => fields!(m, b; agent; version, workspace, model, meta),
            Body::SessionEnd(b) => fields!(m, b; status; summary),
            Body::Message(b) => fields!(m, b; role, content; tokens, model, subagent),
            Body::ToolCall(b) => fields!(m, b; tool, args; call_id, subagent),
            Body::ToolResult(b) => fields!(m, b; tool, result, success; call_id, duration_ms, error, subagent),
            Body::Error(b) => fields!(m, b; message; code, stack, recoverable),
            Body::Extension(e) => {
                for (k, v) in &e.fields {
                    if !is_base_field(k) {
                        m.serialize_entry(k, v)?;
                    }
                }
            }
        }
        m.end()
    }
}

/// The base field names, which a body may not override.
pub fn is_base_field(k: &str) -> bool {
    matches!(k, "v" | "id" | "ts" | "type" | "sid" | "pid" | "seq")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_fields_come_first_and_body_follows() {
        let e = Entry::new(
            "m1",
            5,
            "s",
            Body::Message(Message {
                role: Role::User,
                content: Content::Text("hi".into()),
                tokens: None,
                model: None,
                subagent: None,
            }),
        )
        .with_pid(Some("p".into()))
        .with_seq(3);
        let s = serde_json::to_string(&e).unwrap();
        assert_eq!(
            s,
            r#"{"v":1,"id":"m1","ts":5,"type":"message","sid":"s","pid":"p","seq":3,"role":"user","content":"hi"}"#
        );
    }

    #[test]
    fn extension_fields_cannot_override_base_fields() {
        let mut fields = Map::new();
        fields.insert("id".into(), Value::from("evil"));
        fields.insert("x".into(), Value::from(1));
        let e = Entry::new("e1", 1, "s", Body::Extension(Extension { type_name: "acme.a.b".into(), fields }));
        let v = e.to_value();
        assert_eq!(v["id"], "e1");
        assert_eq!(v["x"], 1);
        assert_eq!(v["type"], "acme.a.b");
    }

    #[test]
    fn tokens_add_keeps_optional_fields_present_on_either_side() {
        let mut a = Tokens { input: 1, output: 2, cached: Some(1), cache_write: None, reasoning: None };
        a.add(&Tokens { input: 3, output: 4, cached: None, cache_write: Some(2), reasoning: None });
        assert_eq!(a, Tokens { input: 4, output: 6, cached: Some(1), cache_write: Some(2), reasoning: None });
        assert!(!a.is_zero());
        assert!(Tokens::default().is_zero());
    }
}
