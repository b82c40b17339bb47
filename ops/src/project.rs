//! The cost-fact projector of one tenant: a thread that writes the `COST_FACT` entries of
//! stored events to the tenant's cost ledger, in event order, after their requests were
//! answered. A cost fact is a function of its stored event (amount, time, attribution), so the
//! event store is the durability point of an ingest: facts the projector had not written when
//! the process died are written at the next open ([`write_facts`] from the event store), and
//! [`write_facts`] skips every event whose fact is already stored, so neither a restart nor two
//! processes projecting the same events ever store a fact twice.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use serde_json::{Value, json};

use cp_kernel::{LedgerQuery, LedgerStore, NewEntry, Order, Provenance, event};

use crate::error::OpsError;
use crate::event::Event;
use crate::views::Attribution;

/// A stored event: its id, the event, and the `seq` of its `OPS_EVENT` entry.
pub(crate) type StoredEvent = (String, Event, u64);

enum Msg {
    /// Events stored by one group commit, in seq order.
    Facts(Vec<StoredEvent>),
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

    /// Queues the facts of stored events (in seq order).
    pub(crate) fn send(&self, events: Vec<StoredEvent>) {
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
    let mut pending: Vec<StoredEvent> = Vec::new();
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
        write_pending(tenant, costs, &mut pending);
        for done in flushes {
            let _ = done.send(());
        }
    }
    write_pending(tenant, costs, &mut pending);
}

/// Writes `pending` and empties it; on an error logs it and keeps `pending` for the next try.
fn write_pending(tenant: &str, costs: &dyn LedgerStore, pending: &mut Vec<StoredEvent>) {
    if pending.is_empty() {
        return;
    }
    match write_facts(tenant, costs, pending) {
        Ok(_) => pending.clear(),
        Err(e) => tracing::error!(tenant, error = %e, count = pending.len(),
            "cost facts not written; tried again with the next ingest, and projected from the event store at the next open"),
    }
}

/// Writes the `COST_FACT` of each of `events` (in seq order) whose fact is not stored yet, in
/// one transaction of the cost ledger; returns how many it wrote. The check runs under the
/// ledger's write lock: facts are stored in event order, and every caller hands in all the
/// events after the last fact it knows of (the projector keeps what it could not write; an
/// open projects everything after the last fact), so every event at or below the last stored
/// fact's `event_seq` has its fact.
pub(crate) fn write_facts(tenant: &str, costs: &dyn LedgerStore, events: &[StoredEvent]) -> Result<usize, OpsError> {
    let mut written = 0;
    costs.transact(&mut |view| {
        let q = LedgerQuery {
            event_types: vec![event::COST_FACT.to_string()],
            order: Order::Desc,
            limit: Some(1),
            ..LedgerQuery::default()
        };
        let done = view.query(&q)?.first().and_then(|e| e.metadata.get("event_seq").and_then(Value::as_u64));
        let facts: Vec<NewEntry> = events
            .iter()
            .filter(|(_, _, seq)| done.is_none_or(|d| *seq > d))
            .map(|(id, e, seq)| cost_fact(tenant, id, e, *seq))
            .collect();
        written = facts.len();
        Ok(facts)
    })?;
    Ok(written)
}

/// An entry of the cost ledger (`COST_FACT` or `COST_ADJUSTED`) for event `event_id`: its
/// tenant and agent as provenance, and the members every reader of the cost ledger relies on —
/// `event_id`, the signed `amount_usd` in `currency` USD, `ts_ms`, and the event's attribution
/// (`workflow_id`, `agent_id`, `budget_scope`).
pub(crate) fn cost_entry(
    event_type: &str,
    decision: &str,
    tenant: &str,
    event_id: &str,
    amount_usd: f64,
    ts_ms: i64,
    attr: &Attribution,
) -> NewEntry {
    NewEntry::new(event_type)
        .submission(event_id)
        .decision(decision)
        .provenance(Provenance {
            tenant_id: Some(tenant.to_string()),
            agent_id: Some(attr.agent_id.clone()),
            ..Provenance::default()
        })
        .meta("event_id", event_id)
        .meta("amount_usd", amount_usd)
        .meta("currency", "USD")
        .meta("ts_ms", ts_ms)
        .meta("workflow_id", attr.workflow_id.clone())
        .meta("agent_id", attr.agent_id.clone())
        .meta("budget_scope", attr.scope.clone())
}

/// The `COST_FACT` entry of event `id`, stored at `seq` of the event store.
fn cost_fact(tenant: &str, id: &str, e: &Event, seq: u64) -> NewEntry {
    let attr = Attribution::of(e);
    let mut n = cost_entry(event::COST_FACT, "RECORDED", tenant, id, e.cost_usd, e.ts_ms, &attr).meta("event_seq", seq);
    for k in ["run_id", "model_call_id", "provider", "model", "price_book_version"] {
        if let Some(v) = e.field(k) {
            n = n.meta(k, v);
        }
    }
    if !e.tokens.is_empty() {
        n = n.meta("tokens", json!(e.tokens));
    }
    n
}

#[cfg(test)]
mod tests;
