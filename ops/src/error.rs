//! Errors of the operations service.

use std::path::PathBuf;

/// What can go wrong loading the config, reading or writing the stores, or serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpsError {
    /// A plane path could not be resolved.
    #[error(transparent)]
    Plane(#[from] cp_kernel::PlaneError),
    /// A schema could not be loaded.
    #[error(transparent)]
    Schema(#[from] cp_kernel::SchemaError),
    /// A document failed its schema or could not be decoded.
    #[error(transparent)]
    Document(#[from] cp_kernel::DocumentError),
    /// A ledger could not be read or written.
    #[error(transparent)]
    Ledger(#[from] cp_kernel::LedgerError),
    /// The auth secret could not be read.
    #[error(transparent)]
    Auth(#[from] cp_kernel::AuthError),
    /// The router config (auth section, prompt ledger) could not be loaded.
    #[error(transparent)]
    Router(#[from] cp_kernel::RouterError),
    /// A config value the schema cannot check.
    #[error("{}: {message}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong (with the field path).
        message: String,
    },
    /// A command-line or request value is wrong.
    #[error("{0}")]
    Usage(String),
    /// The listener could not be bound or the server failed.
    #[error("{0}")]
    Serve(String),
}
