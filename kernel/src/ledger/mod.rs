//! The ledger: an ordered, append-only, SHA-256 hash-chained sequence of entries per ledger
//! name (`HOT/governance`, `HOT/packages`, `HO2/prompts`, …).
//!
//! Owns: the entry type ([`LedgerEntry`]), RFC 8785 canonical JSON ([`canonical`]), the
//! [`LedgerStore`] trait and its backends (SQLite default, JSONL, in-memory), queries,
//! verification, signed checkpoints, and reading Control Plane v2 (Python) ledgers.
//! Never does: modify or delete an entry once appended.
//!
//! Audit side: [`verify`] (re-hash stored bytes in parallel, check seq and links, report the
//! first bad `seq`), [`merkle`] + [`checkpoint`] (RFC 6962 root, Ed25519-signed checkpoints that
//! expose truncation and rewrites), [`cp2`] (Control Plane v2 Python ledgers: verify, import).
//!
//! Hashing: `entry_hash = SHA-256(0x00 ‖ JCS(entry without entry_hash))`; `previous_hash` of
//! entry 0 is 64 zeros. The bytes hashed are stored as written and verification re-hashes them.

#[cfg(feature = "bench")]
pub mod bench;
pub mod canonical;
mod copy;
pub use copy::{CopyReport, SealedSink, copy_ledger};
pub(crate) mod checkpoint;
pub(crate) mod columns;
pub mod cp2;
mod entry;
mod error;
pub mod event;
mod manifest;
mod memory;
pub mod merkle;
mod notes;
mod query;
mod remote;
mod scan;
mod set;
mod store;
pub(crate) mod verify;

pub use entry::{
    GENESIS_PREVIOUS_HASH, LedgerEntry, NewEntry, PreparedEntry, Provenance, SCHEMA_VERSION, compute_entry_hash,
};
pub use error::LedgerError;
pub use manifest::{MANIFEST_FILE as LEDGER_MANIFEST_FILE, MissingLedger, missing_ledgers};
pub use memory::MemoryStore;
pub use notes::{NoteRefused, PRINCIPAL_KEY as NOTE_PRINCIPAL_KEY, check_operator_note};
pub use query::{LedgerQuery, Order};
pub use set::{LedgerName, LedgerSet};
pub use store::{ChainHead, LedgerStore, RawRecord, RecordFault, TxnFn, TxnView};
mod jsonl;
pub use jsonl::{JsonlStore, RepairReport};
mod sqlite;
pub use sqlite::SqliteStore;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "postgres")]
pub use self::postgres::{PG_SCHEMA_VERSION, PgOptions, PgStore, PgTarget};

use std::path::Path;
use std::sync::Arc;

use crate::plane::{Durability, LedgerBackend};

/// Opens the store for one ledger file with the given backend (SQLite busy timeout: 5 s).
pub fn open_store(
    path: &Path,
    name: &str,
    backend: LedgerBackend,
    durability: Durability,
) -> Result<Arc<dyn LedgerStore>, LedgerError> {
    open_store_with(path, name, backend, durability, DEFAULT_BUSY_TIMEOUT_MS)
}

/// Default SQLite busy timeout in milliseconds (the layout's `ledger.busy_timeout_ms` default).
pub const DEFAULT_BUSY_TIMEOUT_MS: u64 = 5000;

/// Opens the store for one ledger file with the given backend; SQLite writers wait up to
/// `busy_timeout_ms` milliseconds for another process's write lock.
pub fn open_store_with(
    path: &Path,
    name: &str,
    backend: LedgerBackend,
    durability: Durability,
    busy_timeout_ms: u64,
) -> Result<Arc<dyn LedgerStore>, LedgerError> {
    Ok(match backend {
        LedgerBackend::Sqlite => {
            Arc::new(SqliteStore::open(path, name, durability, std::time::Duration::from_millis(busy_timeout_ms))?)
        }
        LedgerBackend::Jsonl => Arc::new(JsonlStore::open(path, name, durability)?),
        LedgerBackend::Postgres => {
            return Err(LedgerError::Backend(format!(
                "ledger {name}: a postgres ledger is not a file; open it through the plane (LedgerSet)"
            )));
        }
    })
}
