//! The cost-fact projector of one tenant: a thread that writes the cost facts of stored events
//! to the tenant's cost ledger, in event order, after their requests were answered — one
//! `COST_FACTS` entry per event-store entry (`metadata.event_seq` = that entry's seq,
//! `metadata.facts` = one fact per event). A cost fact is a function of its stored event
//! (amount, time, attribution), so the event store is the durability point of an ingest: facts
//! the projector had not written when the process died are written at the next open
//! ([`write_facts`] from the event store), and [`write_facts`] skips every entry whose facts are
//! already stored, so neither a restart nor two processes projecting the same events ever store
//! a fact twice. The one-fact `COST_FACT` entries of the first versions are read as well.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use serde_json::{Value, json};

use cp_kernel::{ChainHead, LedgerQuery, LedgerStore, NewEntry, Order, Provenance, event};

use crate::entries::IdEvent;
use crate::error::OpsError;
use crate::event::Event;
use crate::views::Attribution;

/// Event types of the cost facts, current first.
pub(crate) const FACT_TYPES: [&str; 2] = [event::COST_FACTS, event::COST_FACT];

/// An entry of the event store: its `seq` and its events.
#[derive(Debug, Clone)]
pub(crate) struct StoredEntry {
    /// The entry's `seq` in the event store.
    pub(crate) seq: u64,
    /// Its events with their ids.
    pub(crate) events: Vec<IdEvent>,
}

enum Msg {
    /// Entries stored by one group commit, in seq order.
    Facts(Vec<StoredEntry>),
    /// Answered once every fact sent before it is written (or failed).
    Flush(Sender<()>),
}

/// The projector thread of one tenant; dropping it writes what is queued, then stops it.
pub(crate) struct Projector {
    tx: Option<Sender<Msg>>,
    thread: Option<JoinHandle<()>>,
}

impl Projector {
    /// Starts the projector of `tenant` writing to `costs`.
    pub(crate) fn spawn(tenant: &str, costs: Arc<dyn LedgerStore>) -> Result<Self, OpsError> {
        let (tx, rx) = mpsc::channel();
        let tenant = tenant.to_string();
        let thread = std::thread::Builder::new()
            .name("ops-cost-facts".into())
            .spawn(move || run(&tenant, costs.as_ref(), &rx))
            .map_err(|e| OpsError::Serve(format!("could not start the cost-fact projector: {e}")))?;
        Ok(Self { tx: Some(tx), thread: Some(thread) })
    }

    /// Queues the facts of stored entries (in seq order).
    pub(crate) fn send(&self, events: Vec<StoredEntry>) {
        if let Some(tx) = &self.tx {
            // The thread only ends when `tx` is dropped, so the send cannot fail; were it to, the
            // facts are projected at the next open.
            let _ = tx.send(Msg::Facts(events));
        }
    }

    /// Waits until every fact queued so far is written.
    pub(crate) fn flush(&self) {
        let (done, wait) = mpsc::channel();
        if let Some(tx) = &self.tx
            && tx.send(Msg::Flush(done)).is_ok()
        {
            let _ = wait.recv();
        }
    }
}

impl Drop for Projector {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The thread: writes what it finds queued (everything queued at that moment, in one
/// transaction) and answers flushes after the writes queued before them. Facts whose write
/// failed stay queued and are tried again with the next batch (and once more when the
/// projector stops), so the facts written are always a prefix of the stored events.
fn run(tenant: &str, costs: &dyn LedgerStore, rx: &Receiver<Msg>) {
    let mut pending: Vec<StoredEntry> = Vec::new();
    let mut known = None;
    while let Ok(first) = rx.recv() {
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(m) = next {
            match m {
                Msg::Facts(mut evs) => pending.append(&mut evs),
                Msg::Flush(done) => flushes.push(done),
            }
            next = rx.try_recv().ok();
        }
        write_pending(tenant, costs, &mut pending, &mut known);
        for done in flushes {
            let _ = done.send(());
        }
    }
    write_pending(tenant, costs, &mut pending, &mut known);
}

/// Writes `pending` and empties it; on an error logs it and keeps `pending` for the next try.
fn write_pending(tenant: &str, costs: &dyn LedgerStore, pending: &mut Vec<StoredEntry>, known: &mut Option<Known>) {
    if pending.is_empty() {
        return;
    }
    match write_facts(tenant, costs, pending, known) {
        Ok(_) => pending.clear(),
        Err(e) => tracing::error!(tenant, error = %e, count = pending.len(),
            "cost facts not written; tried again with the next ingest, and projected from the event store at the next open"),
    }
}

/// Writes the `COST_FACTS` of each of `entries` (in seq order) whose facts are not stored yet,
/// in one transaction of the cost ledger; returns how many entries it wrote. The check runs
/// under the ledger's write lock: facts are stored in event order, and every caller hands in
/// all the entries after the last facts it knows of (the projector keeps what it could not
/// write; an open projects everything after the last facts), so every event-store entry at or
/// below the last stored facts' `event_seq` has its facts.
///
/// `known` is what this writer learnt at its last call: when the cost ledger's head is still
/// the one it left, nobody else wrote since and the last facts are its own, so the check needs
/// no read of the ledger (a read decodes the last facts entry, all of its facts).
pub(crate) fn write_facts(
    tenant: &str,
    costs: &dyn LedgerStore,
    entries: &[StoredEntry],
    known: &mut Option<Known>,
) -> Result<usize, OpsError> {
    let (mut done, mut last, mut seen) = (None, None, None);
    let stored = costs.transact(&mut |view| {
        seen = view.head();
        done = match known.as_ref().filter(|k| seen.as_ref() == Some(&k.head)) {
            Some(k) => Some(k.covered),
            None => last_covered(view)?,
        };
        let fresh: Vec<&StoredEntry> = entries.iter().filter(|s| done.is_none_or(|d| s.seq > d)).collect();
        last = fresh.last().map(|s| s.seq);
        Ok(fresh.into_iter().map(|s| cost_facts(tenant, s)).collect())
    })?;
    let head = stored.last().map(|e| ChainHead { seq: e.seq, entry_hash: e.entry_hash.clone() }).or(seen);
    *known = head.zip(last.or(done)).map(|(head, covered)| Known { head, covered });
    Ok(stored.len())
}

/// What a writer of cost facts knows after its last write: the cost ledger's head then, and the
/// last event-store `seq` whose facts were stored.
#[derive(Debug, Clone)]
pub(crate) struct Known {
    head: ChainHead,
    covered: u64,
}

/// The event-store `seq` covered by the last facts of the cost ledger (read in `view`).
fn last_covered(view: &dyn cp_kernel::TxnView) -> Result<Option<u64>, cp_kernel::LedgerError> {
    let mut covered = None;
    for t in FACT_TYPES {
        let q = LedgerQuery {
            event_types: vec![t.to_string()],
            order: Order::Desc,
            limit: Some(1),
            ..LedgerQuery::default()
        };
        let seq = view.query(&q)?.first().and_then(|e| e.metadata.get("event_seq").and_then(Value::as_u64));
        covered = covered.max(seq);
    }
    Ok(covered)
}

/// The `COST_ADJUSTED` entry of a compensating `amount_usd` (signed) for event `event_id` at
/// `ts_ms`: its tenant and agent as provenance, the members of a fact ([`fact_members`]) and
/// `currency` USD.
pub(crate) fn adjustment_entry(
    tenant: &str,
    event_id: &str,
    amount_usd: f64,
    ts_ms: i64,
    attr: &Attribution,
) -> NewEntry {
    let mut n = NewEntry::new(event::COST_ADJUSTED)
        .submission(event_id)
        .decision("ADJUSTED")
        .provenance(Provenance {
            tenant_id: Some(tenant.to_string()),
            agent_id: Some(attr.agent_id.clone()),
            ..Provenance::default()
        })
        .meta("currency", "USD");
    n.metadata.extend(fact_members(event_id, amount_usd, ts_ms, attr));
    n
}

/// The members every reader of the cost ledger relies on, in a fact and in an adjustment:
/// `event_id`, the signed `amount_usd`, `ts_ms`, and the event's attribution (`workflow_id`,
/// `agent_id`, `budget_scope`).
fn fact_members(event_id: &str, amount_usd: f64, ts_ms: i64, attr: &Attribution) -> serde_json::Map<String, Value> {
    [
        ("event_id", json!(event_id)),
        ("amount_usd", json!(amount_usd)),
        ("ts_ms", json!(ts_ms)),
        ("workflow_id", json!(attr.workflow_id)),
        ("agent_id", json!(attr.agent_id)),
        ("budget_scope", json!(attr.scope)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The `COST_FACTS` entry of a stored event-store entry.
fn cost_facts(tenant: &str, s: &StoredEntry) -> NewEntry {
    NewEntry::new(event::COST_FACTS)
        .decision("RECORDED")
        .provenance(Provenance { tenant_id: Some(tenant.to_string()), ..Provenance::default() })
        .meta("event_seq", s.seq)
        .meta("currency", "USD")
        .meta("facts", Value::Array(s.events.iter().map(|(id, e)| fact(id, e)).collect()))
}

/// The cost fact of event `id`: `event_id`, the `amount_usd`, `ts_ms`, the attribution
/// (`workflow_id`, `agent_id`, `budget_scope`), and the run, model-call, provider, model,
/// price-book version and token counts the event names.
fn fact(id: &str, e: &Event) -> Value {
    let mut m = fact_members(id, e.cost_usd, e.ts_ms, &Attribution::of(e));
    for k in ["run_id", "model_call_id", "provider", "model", "price_book_version"] {
        if let Some(v) = e.field(k) {
            m.insert(k.to_string(), json!(v));
        }
    }
    if !e.tokens.is_empty() {
        m.insert("tokens".to_string(), json!(e.tokens));
    }
    Value::Object(m)
}

/// Calls `f` with (time, amount, attribution) of every fact of a cost-ledger entry —
/// `COST_FACTS`, `COST_FACT` or `COST_ADJUSTED` — and returns the event-store `seq` its facts
/// cover (none for an adjustment).
pub(crate) fn each_fact(e: &cp_kernel::LedgerEntry, f: &mut dyn FnMut(i64, f64, Attribution)) -> Option<u64> {
    let m = &e.metadata;
    let mut one = |fact: &serde_json::Map<String, Value>| {
        let usd = fact.get("amount_usd").and_then(Value::as_f64).unwrap_or(0.0);
        let ts = fact.get("ts_ms").and_then(Value::as_i64).unwrap_or(0);
        f(ts, usd, Attribution::of_fact(fact));
    };
    if e.event_type == event::COST_FACTS {
        let facts = m.get("facts").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        facts.iter().filter_map(Value::as_object).for_each(&mut one);
    } else {
        one(m);
    }
    (e.event_type != event::COST_ADJUSTED).then(|| m.get("event_seq").and_then(Value::as_u64)).flatten()
}

#[cfg(test)]
mod tests;
