//! An in-memory ledger store: for tests and embedders that need no persistence. It follows
//! the same [`LedgerStore`] contract (minus durability) and passes the conformance suite.

use std::ops::ControlFlow;
use std::sync::Mutex;

use super::columns::columns_of_entry;
use super::{
    ChainHead, GENESIS_PREVIOUS_HASH, LedgerEntry, LedgerError, LedgerQuery, LedgerStore, Order, PreparedEntry,
    RawRecord, TxnFn, TxnView,
};

/// A ledger held in memory.
#[derive(Debug)]
pub struct MemoryStore {
    name: String,
    entries: Mutex<Vec<(LedgerEntry, Vec<u8>)>>,
}

impl MemoryStore {
    /// An empty ledger named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), entries: Mutex::new(Vec::new()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(LedgerEntry, Vec<u8>)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct View<'a>(&'a [(LedgerEntry, Vec<u8>)]);

impl TxnView for View<'_> {
    fn head(&self) -> Option<ChainHead> {
        self.0.last().map(|(e, _)| ChainHead { seq: e.seq, entry_hash: e.entry_hash.clone() })
    }
    fn query(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, LedgerError> {
        Ok(run_query(self.0.iter().map(|(e, _)| e), q))
    }
}

/// Reference query semantics over an iterator in `seq` order.
pub(crate) fn run_query<'a>(it: impl DoubleEndedIterator<Item = &'a LedgerEntry>, q: &LedgerQuery) -> Vec<LedgerEntry> {
    let limit = q.limit.unwrap_or(usize::MAX);
    match q.order {
        Order::Asc => it.filter(|e| q.matches(e)).take(limit).cloned().collect(),
        Order::Desc => it.rev().filter(|e| q.matches(e)).take(limit).cloned().collect(),
    }
}

/// Seals `new` entries (plain or prepared) after `head`, assigning ids and timestamps.
pub(crate) fn seal_all<E: Into<PreparedEntry>>(
    head: Option<ChainHead>,
    new: Vec<E>,
) -> Result<Vec<(LedgerEntry, Vec<u8>)>, LedgerError> {
    let (mut seq, mut prev) = match head {
        Some(h) => (h.seq + 1, h.entry_hash),
        None => (0, GENESIS_PREVIOUS_HASH.to_string()),
    };
    let mut out = Vec::with_capacity(new.len());
    for n in new {
        let n: PreparedEntry = n.into();
        if n.entry().event_type.is_empty() {
            return Err(LedgerError::InvalidEntry("event_type is empty".into()));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let ts = now_rfc3339();
        let (e, body) = LedgerEntry::seal_prepared(n, seq, id, ts, prev);
        prev = e.entry_hash.clone();
        seq += 1;
        out.push((e, body));
    }
    Ok(out)
}

/// The current time as RFC 3339 UTC with nanoseconds (`2026-11-22T05:03:04.123456789Z`).
pub(crate) fn now_rfc3339() -> String {
    format!("{:.9}", jiff::Timestamp::now())
}

impl LedgerStore for MemoryStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn transact(&self, f: &mut TxnFn<'_>) -> Result<Vec<LedgerEntry>, LedgerError> {
        let mut g = self.lock();
        let new = f(&View(&g))?;
        let head = View(&g).head();
        let sealed = seal_all(head, new)?;
        let out = sealed.iter().map(|(e, _)| e.clone()).collect();
        g.extend(sealed);
        Ok(out)
    }

    fn head(&self) -> Result<Option<ChainHead>, LedgerError> {
        Ok(View(&self.lock()).head())
    }

    fn get(&self, seq: u64) -> Result<Option<LedgerEntry>, LedgerError> {
        Ok(self.lock().get(seq as usize).map(|(e, _)| e.clone()))
    }

    fn query(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, LedgerError> {
        Ok(run_query(self.lock().iter().map(|(e, _)| e), q))
    }

    fn scan_raw(&self, f: &mut dyn FnMut(RawRecord<'_>) -> ControlFlow<()>) -> Result<(), LedgerError> {
        for (i, (e, body)) in self.lock().iter().enumerate() {
            let columns = Some(columns_of_entry(e));
            if f(RawRecord { position: i as u64, body, entry_hash: &e.entry_hash, defect: None, columns }).is_break() {
                break;
            }
        }
        Ok(())
    }
}
