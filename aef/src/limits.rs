//! The bounds every streaming command keeps to, in one document. Defaults live here and in
//! `aef/schema/limits.schema.json` (a test keeps them equal); `aef --limits FILE` reads a JSON
//! document validated against that schema. Owns no I/O beyond decoding the given text.

use serde::{Deserialize, Serialize};

/// The limits schema, as shipped in `aef/schema/limits.schema.json`.
pub const LIMITS_SCHEMA: &str = include_str!("../schema/limits.schema.json");

/// Memory and reporting bounds. Every field has a default; see the schema for each one's meaning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Longest input line held in memory, in bytes (default 33 554 432 = 32 MiB); a longer line
    /// is skipped and reported.
    pub max_line_bytes: usize,
    /// Problems reported per invalid entry (default 20); the rest are counted.
    pub max_problems_per_entry: usize,
    /// Distinct entry types counted by name in a summary (default 1 000); more are counted as
    /// `(other)`.
    pub max_types: usize,
    /// Tool calls awaiting their result that an adapter or exporter remembers (default 10 000); the
    /// oldest is forgotten past that (its result then lacks the tool name's link and duration).
    pub max_pending_calls: usize,
    /// Gemini: message records kept open for a later replacement or rewind (default 256). A
    /// record is written once this many newer records follow it, or at the end of input.
    pub gemini_window: usize,
    /// Gemini legacy single-JSON session files larger than this are refused, in bytes (default
    /// 268 435 456 = 256 MiB): the whole document is parsed at once.
    pub max_document_bytes: usize,
    /// Claude Code: entry-id aliases remembered for merged response lines (default 4 096).
    pub max_aliases: usize,
    /// Sessions tracked at once by `info` and `export` (default 100 000).
    pub max_sessions: usize,
    /// Spans per OTLP request line written by `export` (default 512).
    pub otlp_batch_spans: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_line_bytes: 32 * 1024 * 1024,
            max_problems_per_entry: 20,
            max_types: 1000,
            max_pending_calls: 10_000,
            gemini_window: 256,
            max_document_bytes: 256 * 1024 * 1024,
            max_aliases: 4096,
            max_sessions: 100_000,
            otlp_batch_spans: 512,
        }
    }
}

/// Why a limits document was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LimitsError {
    /// Not JSON.
    #[error("limits document is not JSON (line {line}, column {column})")]
    NotJson {
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// Does not match the schema.
    #[error("limits document is invalid at {path}: {message}")]
    Invalid {
        /// JSON pointer of the first bad value.
        path: String,
        /// What was expected.
        message: String,
    },
}

impl Limits {
    /// Decodes a limits document after validating it against the limits schema.
    pub fn from_json(text: &str) -> Result<Limits, LimitsError> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| LimitsError::NotJson {
            line: e.line(),
            column: e.column(),
            source: e,
        })?;
        let schema: serde_json::Value = serde_json::from_str(LIMITS_SCHEMA).map_err(|e| LimitsError::NotJson {
            line: e.line(),
            column: e.column(),
            source: e,
        })?;
        let validator = crate::schema::compile("limits", &schema)
            .map_err(|e| LimitsError::Invalid { path: String::new(), message: e.to_string() })?;
        if let Some(e) = validator.iter_errors(&value).next() {
            return Err(LimitsError::Invalid { path: e.instance_path().to_string(), message: e.to_string() });
        }
        serde_json::from_value(value).map_err(|e| LimitsError::Invalid { path: String::new(), message: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_defaults_equal_the_struct_defaults() {
        let schema: serde_json::Value = serde_json::from_str(LIMITS_SCHEMA).unwrap();
        let defaults = serde_json::to_value(Limits::default()).unwrap();
        let props = schema["properties"].as_object().unwrap();
        assert_eq!(props.len(), defaults.as_object().unwrap().len(), "schema and struct name the same fields");
        for (k, p) in props {
            assert_eq!(p["default"], defaults[k], "default of {k}");
        }
        assert_eq!(Limits::from_json("{}").unwrap(), Limits::default());
    }

    #[test]
    fn bad_documents_name_the_field() {
        let e = Limits::from_json(r#"{"gemini_window": 0}"#).unwrap_err();
        assert!(matches!(&e, LimitsError::Invalid { path, .. } if path == "/gemini_window"), "{e}");
        let e = Limits::from_json(r#"{"nope": 1}"#).unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
        assert!(matches!(Limits::from_json("{"), Err(LimitsError::NotJson { .. })));
        let l = Limits::from_json(r#"{"gemini_window": 3}"#).unwrap();
        assert_eq!(l.gemini_window, 3);
    }
}
