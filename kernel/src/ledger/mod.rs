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

pub mod canonical;
pub mod checkpoint;
pub mod cp2;
mod entry;
mod error;
pub mod event;
mod memory;
pub mod merkle;
mod query;
mod set;
mod store;
pub mod verify;

pub use entry::{GENESIS_PREVIOUS_HASH, LedgerEntry, NewEntry, Provenance, SCHEMA_VERSION, compute_entry_hash};
pub use error::LedgerError;
pub use memory::MemoryStore;
pub use query::{LedgerQuery, Order};
pub use set::{LedgerName, LedgerSet};
pub use store::{ChainHead, LedgerStore, RawRecord, TxnFn, TxnView};
mod jsonl;
pub use jsonl::JsonlStore;

use std::path::Path;
use std::sync::Arc;

use crate::plane::{Durability, LedgerBackend};

/// Opens the store for one ledger file with the given backend.
pub fn open_store(
    path: &Path,
    name: &str,
    backend: LedgerBackend,
    durability: Durability,
) -> Result<Arc<dyn LedgerStore>, LedgerError> {
    // PROVISIONAL: both backends use the JSONL skeleton until the SQLite store lands.
    let _ = backend;
    Ok(Arc::new(JsonlStore::open(path, name, durability)?))
}
