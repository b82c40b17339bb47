//! Agent Event Format (AEF) v0.1: a normalised JSONL log of AI coding-agent sessions.
//!
//! * [`Entry`] and its bodies are the typed form of one AEF line; [`EntryWriter`] writes them as
//!   JSON lines and [`SessionRecorder`] numbers a session's entries and computes its
//!   `session.end` summary, so an exporter (the kernel's `cpctl aef export`) is a thin loop.
//! * [`Validator`] checks entries against `schema/core.schema.json` (the source of truth), the
//!   registered extension schemas ([`ExtensionRegistry`]) and the token rules;
//!   [`validate_stream`] does it for a whole `.jsonl` or `.jsonl.gz` stream in constant memory.
//! * [`Adapter`]s turn Claude Code, Codex CLI and Gemini CLI session logs into entries, one line
//!   at a time, each handling its tool's token-accounting traps; [`convert`] drives one over an
//!   [`Input`] (optionally following a growing file), [`detect`] picks one from content.
//! * [`InfoCollector`] summarises AEF streams; [`OtlpExporter`] maps them to OTLP JSON lines.
//!
//! The crate depends on nothing else of the workspace. It never prints (tracing only).

mod adapters;
mod convert;
mod entry;
mod info;
mod input;
mod limits;
mod otlp;
mod schema;
mod session;
mod time;
mod validate;
mod writer;

pub use adapters::{
    ADAPTERS, Adapter, AdapterInfo, AdapterKind, AdapterOptions, Diagnostic, EntrySink, Severity,
    claude_code::ClaudeCodeAdapter, codex::CodexAdapter, detect, gemini::GeminiAdapter,
};
pub use convert::{ConvertError, ConvertOptions, ConvertReport, FollowOptions, convert};
pub use entry::{
    AEF_VERSION, Body, CORE_TYPES, Content, Entry, ErrorEvent, Extension, Message, Role, SessionEnd, SessionStart,
    Status, Summary as SessionSummary, Tokens, ToolCall, ToolError, ToolResult, is_base_field,
};
pub use info::{Info, InfoCollector, SessionInfo};
pub use input::{Input, InputError, Line, Lines};
pub use limits::{LIMITS_SCHEMA, Limits, LimitsError};
pub use otlp::{ExportReport, OtlpExporter, span_id, trace_id};
pub use schema::{AEF_EXTENSIONS_SCHEMA, CORE_SCHEMA, CORE_SCHEMA_ID, ExtensionRegistry, SchemaError, core_value};
pub use session::{SessionRecorder, USAGE_REPORT_TYPE};
pub use time::{Clock, FixedClock, SystemClock, parse_rfc3339_ms};
pub use validate::{EntryKind, Finding, Problem, Summary, Validator, Verdict, classify, validate_stream};
pub use writer::{EntryWriter, WriteError};
