//! Errors of the ledger module.

use std::path::PathBuf;

use crate::fsx::FsError;

/// Errors of ledger storage, queries and verification.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// A filesystem operation failed.
    #[error(transparent)]
    Io(#[from] FsError),
    /// SQLite failed.
    #[error("sqlite error on ledger {ledger}")]
    Sqlite {
        /// Ledger name.
        ledger: String,
        /// Cause.
        #[source]
        source: rusqlite::Error,
    },
    /// A stored record could not be decoded.
    #[error("ledger {ledger}: corrupt record at seq {seq}: {message}")]
    Corrupt {
        /// Ledger name.
        ledger: String,
        /// Position (or line number - 1 for JSONL).
        seq: u64,
        /// What is wrong.
        message: String,
    },
    /// An entry to append is invalid (e.g. metadata not an object, bad event type).
    #[error("invalid entry: {0}")]
    InvalidEntry(String),
    /// The ledger name is not of the form `TIER/name`.
    #[error("invalid ledger name {0:?} (expected TIER/name, e.g. HOT/governance)")]
    InvalidName(String),
    /// A ledger does not exist.
    #[error("no ledger named {0}")]
    NotFound(String),
    /// The plane's manifest lists the ledger but its file is gone (deleted or moved): it is not
    /// re-created empty.
    #[error(
        "ledger {name} is missing: the plane's ledger manifest lists it but {} does not exist; \
         restore the file from a backup (it is not re-created empty)", path.display()
    )]
    Missing {
        /// Ledger name.
        name: String,
        /// The file expected.
        path: PathBuf,
    },
    /// The ledger database stayed locked by another process through every attempt (the
    /// layout's `ledger.busy_timeout_ms` each, `ledger.busy_retries` further attempts); nothing
    /// was written. Code `LEDGER_UNAVAILABLE`.
    #[error(
        "LEDGER_UNAVAILABLE: ledger {ledger} stayed locked by another process through {attempts} attempts \
         (waiting {wait_ms} ms each); nothing was written"
    )]
    Unavailable {
        /// Ledger name.
        ledger: String,
        /// Attempts made.
        attempts: u32,
        /// Wait per attempt, in milliseconds.
        wait_ms: u64,
        /// The last SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The append was aborted by the caller's transaction closure.
    #[error("append aborted: {0}")]
    Aborted(String),
    /// A ledger file could not be locked.
    #[error("cannot lock ledger file {}", path.display())]
    Lock {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A ledger backend is misconfigured or not available in this build (bad connection
    /// string or schema name, PostgreSQL support not compiled in, schema of a newer kernel).
    #[error("ledger backend: {0}")]
    Backend(String),
    /// PostgreSQL failed.
    #[cfg(feature = "postgres")]
    #[error("postgres error on ledger {ledger}: {source}")]
    Postgres {
        /// Ledger name.
        ledger: String,
        /// Cause.
        #[source]
        source: postgres::Error,
    },
    /// The PostgreSQL server stayed unreachable (or another host held the ledger lock) through
    /// every attempt (the layout's `ledger.busy_timeout_ms` each, `ledger.busy_retries` further
    /// attempts); nothing was written. Code `LEDGER_UNAVAILABLE`.
    #[cfg(feature = "postgres")]
    #[error(
        "LEDGER_UNAVAILABLE: ledger {ledger}: the postgres server did not answer through {attempts} attempts \
         (waiting {wait_ms} ms each); nothing was written: {source}"
    )]
    PostgresUnavailable {
        /// Ledger name.
        ledger: String,
        /// Attempts made.
        attempts: u32,
        /// Wait per attempt, in milliseconds.
        wait_ms: u64,
        /// The last error.
        #[source]
        source: postgres::Error,
    },
}

impl LedgerError {
    /// Whether the ledger could not be reached through every attempt (a SQLite database locked
    /// by another process, a PostgreSQL server that did not answer): retryable, nothing written.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable { .. } => true,
            #[cfg(feature = "postgres")]
            Self::PostgresUnavailable { .. } => true,
            _ => false,
        }
    }
}
