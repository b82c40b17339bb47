//! Parsing YAML/JSON documents into JSON values, and document errors.
//!
//! PROVISIONAL location support: parse errors carry line/column; schema violations carry the
//! instance path (line/column of a violation is added by the schema work).

use std::path::{Path, PathBuf};

use serde_json::Value;

/// One schema violation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// JSON pointer of the offending value (`/pipeline/2/config/max_entries`).
    pub instance_path: String,
    /// 1-based line of the offending value, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What was expected.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "{l}:{c}: {}: {}", display_path(&self.instance_path), self.message),
            _ => write!(f, "{}: {}", display_path(&self.instance_path), self.message),
        }
    }
}

fn display_path(p: &str) -> &str {
    if p.is_empty() { "(root)" } else { p }
}

/// Why a document was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentError {
    /// The file could not be read.
    #[error(transparent)]
    Io(#[from] crate::fsx::FsError),
    /// The document is not valid YAML/JSON (or breached a parser budget).
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// The document violates its schema.
    #[error("{} does not match schema {schema}: {}", path.display(), violations.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Schema name.
        schema: String,
        /// Every violation found.
        violations: Vec<Violation>,
    },
    /// The document matches the schema but does not decode into the typed config.
    #[error("{}: {message}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What is wrong (includes the field path).
        message: String,
    },
    /// No schema of that name is loaded.
    #[error("unknown schema {0:?}")]
    UnknownSchema(String),
}

/// Parses `text` (YAML or JSON — JSON is YAML; files ending `.json` use the JSON parser) into a
/// JSON value, with the YAML parser's budgets on.
pub fn parse_document(path: &Path, text: &str) -> Result<Value, DocumentError> {
    let is_json = path.extension().is_some_and(|e| e == "json");
    if is_json {
        return serde_json::from_str(text).map_err(|e| DocumentError::Parse {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        });
    }
    serde_saphyr::from_str::<Value>(text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line() as usize, l.column() as usize));
        DocumentError::Parse { path: path.to_path_buf(), line, column, message: e.to_string() }
    })
}
