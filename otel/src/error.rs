//! Errors of the telemetry crate.

use std::path::PathBuf;

/// What can go wrong reading, projecting, exporting or reporting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OtelError {
    /// A plane path could not be resolved.
    #[error(transparent)]
    Plane(#[from] cp_kernel::PlaneError),
    /// A schema could not be loaded.
    #[error(transparent)]
    Schema(#[from] cp_kernel::SchemaError),
    /// A document failed its schema or could not be decoded.
    #[error(transparent)]
    Document(#[from] cp_kernel::DocumentError),
    /// A ledger could not be read.
    #[error(transparent)]
    Ledger(#[from] cp_kernel::LedgerError),
    /// A config value the schema cannot check.
    #[error("{}: {message}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong (with the field path).
        message: String,
    },
    /// A command-line value is wrong (time range, tenant, endpoint, header).
    #[error("{0}")]
    Usage(String),
    /// A file could not be written or read.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        message: String,
    },
    /// The receiver refused or could not be reached after the retries.
    #[error("{0}")]
    Push(String),
}

impl OtelError {
    /// An I/O error on `path`.
    pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        Self::Io { path: path.to_path_buf(), message: e.to_string() }
    }
}
