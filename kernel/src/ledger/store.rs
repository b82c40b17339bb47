//! The storage trait every ledger backend implements, and the conformance contract.

use std::ops::ControlFlow;

use super::columns::ColumnRow;
use super::{LedgerEntry, LedgerError, LedgerQuery, NewEntry, PreparedEntry};

/// The last entry of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// `seq` of the last entry.
    pub seq: u64,
    /// Its `entry_hash`.
    pub entry_hash: String,
}

/// Why a stored record could not be split into body and hash ([`RawRecord::defect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordFault {
    /// An incomplete last record (a JSONL line without its newline), as a crash mid-append
    /// leaves it.
    Torn,
    /// A record that is not an entry at all (junk line, undecodable row).
    Junk,
}

/// One stored record as it is on disk, for verification: the canonical bytes that were hashed
/// (entry without `entry_hash`) and the stored `entry_hash`.
#[derive(Debug, Clone)]
pub struct RawRecord<'a> {
    /// Position as stored (`seq` column, or 0-based line number for JSONL).
    pub position: u64,
    /// The stored canonical bytes of the entry without `entry_hash`, or the raw line for
    /// JSONL (see the backend's docs).
    pub body: &'a [u8],
    /// The stored `entry_hash` (as text; may be malformed on a corrupt store).
    pub entry_hash: &'a str,
    /// Set when the record could not even be split into body and hash (junk or torn JSONL
    /// line, undecodable row): which fault, and what is wrong. `body` then holds the raw bytes.
    pub defect: Option<(RecordFault, &'a str)>,
    /// The values the store's queries filter on for this record (SQLite columns, the JSONL
    /// index, the in-memory entry), in [`super::columns::COLUMNS`] order; verification
    /// compares each with the hashed body. `None` only for stores that keep no such values
    /// (raw records built by hand).
    pub columns: Option<ColumnRow<'a>>,
}

/// What a transaction closure sees: the chain as it is under the store's write lock.
pub trait TxnView {
    /// The chain head, `None` for an empty ledger.
    fn head(&self) -> Option<ChainHead>;
    /// Entries matching `q`, read inside the transaction (so no other writer interleaves).
    fn query(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, LedgerError>;
}

/// The closure a [`LedgerStore::transact`] call runs under the write lock: it sees the chain
/// and returns the entries to append (or an error to append nothing).
pub type TxnFn<'a> = dyn FnMut(&dyn TxnView) -> Result<Vec<NewEntry>, LedgerError> + 'a;

/// A ledger backend.
///
/// Contract (checked by the conformance suite for every backend):
/// * appends are atomic: after a crash an append either fully happened or not at all;
/// * `append_batch` and `transact` append all their entries or none, contiguously;
/// * reading the head and appending happen under one exclusive lock (across threads and
///   processes), so `seq` is dense and every `previous_hash` is the previous `entry_hash`;
/// * an append that returned `Ok` is durable per the store's [`crate::plane::Durability`];
/// * stored entries are never updated or deleted.
pub trait LedgerStore: Send + Sync {
    /// The ledger's name (`HOT/governance`).
    fn name(&self) -> &str;

    /// Appends one entry.
    fn append(&self, entry: NewEntry) -> Result<LedgerEntry, LedgerError> {
        let mut v = self.append_batch(vec![entry])?;
        v.pop().ok_or_else(|| LedgerError::InvalidEntry("append returned nothing".into()))
    }

    /// Appends entries in one transaction.
    fn append_batch(&self, entries: Vec<NewEntry>) -> Result<Vec<LedgerEntry>, LedgerError> {
        // Cloned per run: a backend may run the closure again (see `transact`).
        self.transact(&mut |_| Ok(entries.clone()))
    }

    /// Appends entries prepared ahead of the write lock ([`NewEntry::prepare`]) in one
    /// transaction: the same entries as [`LedgerStore::append_batch`] of theirs, with the
    /// metadata rendered before the lock is taken (by backends that keep the rendering; the
    /// default gives it up).
    fn append_prepared(&self, entries: Vec<PreparedEntry>) -> Result<Vec<LedgerEntry>, LedgerError> {
        self.append_batch(entries.into_iter().map(PreparedEntry::into_entry).collect())
    }

    /// Runs `f` under the write lock with a view of the current chain, then appends the
    /// entries it returns in the same transaction. If `f` returns an error nothing is appended.
    /// This is how the budgeter checks a limit and logs its reservation atomically.
    ///
    /// `f` may run more than once: a networked backend (PostgreSQL) whose connection was lost
    /// before the commit runs the whole transaction again on a fresh view. So `f` must return
    /// the entries it means every time (never hand out a value it moved out the first time).
    fn transact(&self, f: &mut TxnFn<'_>) -> Result<Vec<LedgerEntry>, LedgerError>;

    /// The chain head.
    fn head(&self) -> Result<Option<ChainHead>, LedgerError>;

    /// Number of entries.
    fn len(&self) -> Result<u64, LedgerError> {
        Ok(self.head()?.map_or(0, |h| h.seq + 1))
    }

    /// Whether the ledger is empty.
    fn is_empty(&self) -> Result<bool, LedgerError> {
        Ok(self.len()? == 0)
    }

    /// The entry at `seq`.
    fn get(&self, seq: u64) -> Result<Option<LedgerEntry>, LedgerError>;

    /// Entries matching `q`, in `q.order`, at most `q.limit`.
    fn query(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, LedgerError>;

    /// Visits every stored record in order, from the start, with its stored bytes, for
    /// verification. Stops early when `f` returns `Break`.
    fn scan_raw(&self, f: &mut dyn FnMut(RawRecord<'_>) -> ControlFlow<()>) -> Result<(), LedgerError>;
}
