//! A read-only view of a ledger that ends at a recorded `seq`: what the attention pipeline saw
//! when a prompt was assembled. Entries appended later are invisible; writing is refused.

use std::ops::ControlFlow;
use std::sync::Arc;

use crate::ledger::{ChainHead, LedgerEntry, LedgerError, LedgerQuery, LedgerStore, Order, RawRecord, TxnFn};

/// `inner` up to and including `last_seq` (`None`: the ledger was empty).
pub struct BoundedStore {
    inner: Arc<dyn LedgerStore>,
    last_seq: Option<u64>,
}

impl std::fmt::Debug for BoundedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedStore").field("ledger", &self.inner.name()).field("last_seq", &self.last_seq).finish()
    }
}

impl BoundedStore {
    /// `inner` bounded at `last_seq`.
    pub fn new(inner: Arc<dyn LedgerStore>, last_seq: Option<u64>) -> Self {
        Self { inner, last_seq }
    }

    fn visible(&self, seq: u64) -> bool {
        self.last_seq.is_some_and(|l| seq <= l)
    }
}

impl LedgerStore for BoundedStore {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn transact(&self, _f: &mut TxnFn<'_>) -> Result<Vec<LedgerEntry>, LedgerError> {
        Err(LedgerError::Aborted(format!("{} is a read-only replay view", self.inner.name())))
    }

    fn head(&self) -> Result<Option<ChainHead>, LedgerError> {
        let Some(last) = self.last_seq else { return Ok(None) };
        match self.inner.head()? {
            Some(h) if h.seq <= last => Ok(Some(h)),
            None => Ok(None),
            Some(_) => Ok(self.inner.get(last)?.map(|e| ChainHead { seq: e.seq, entry_hash: e.entry_hash })),
        }
    }

    fn get(&self, seq: u64) -> Result<Option<LedgerEntry>, LedgerError> {
        if !self.visible(seq) {
            return Ok(None);
        }
        self.inner.get(seq)
    }

    /// The inner answer without the entries past the bound. Newest-first with a limit may have
    /// spent the limit on invisible entries: then the query runs again without the limit.
    fn query(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, LedgerError> {
        let first = self.inner.query(q)?;
        let n = first.len();
        let mut v: Vec<LedgerEntry> = first.into_iter().filter(|e| self.visible(e.seq)).collect();
        if q.order == Order::Desc && q.limit.is_some_and(|l| n >= l) && v.len() < n {
            let all = LedgerQuery { limit: None, ..q.clone() };
            v = self.inner.query(&all)?.into_iter().filter(|e| self.visible(e.seq)).collect();
            v.truncate(q.limit.unwrap_or(usize::MAX));
        }
        Ok(v)
    }

    fn scan_raw(&self, f: &mut dyn FnMut(RawRecord<'_>) -> ControlFlow<()>) -> Result<(), LedgerError> {
        let last = self.last_seq;
        self.inner.scan_raw(&mut |r: RawRecord<'_>| {
            if last.is_none_or(|l| r.position > l) {
                return ControlFlow::Break(());
            }
            f(r)
        })
    }
}
