//! Group commit of ingests, one lane per tenant: a request queues its events on its tenant's
//! lane and waits for the lane's write lock; whoever holds it takes every queued request and
//! stores them all in one event-store transaction, then — holding the lane's cost lock, the
//! write lock released so the next group can store its events meanwhile — their cost facts in
//! one transaction, and hands each request its own report. A request is answered only after
//! both transactions returned (are durable); when the events' fails, every request of that
//! group gets the error and none of their events is stored. Tenants do not wait for each other.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::OpsError;
use crate::event::Event;
use crate::service::{IngestReport, Stored};

type Reply = Result<IngestReport, OpsError>;

struct Job {
    id: u64,
    events: Vec<Event>,
    reply: mpsc::Sender<Reply>,
}

/// The commit queue and the two stage locks of one tenant: `write` for the event store, then
/// `costs` for the cost facts. A group takes `costs` before it lets `write` go, so the next
/// group stores its events while this one stores its cost facts (two files, two syncs that
/// overlap) and cost facts stay in the order of their events.
#[derive(Default)]
pub(crate) struct Lane {
    queue: Mutex<Vec<Job>>,
    write: Mutex<()>,
    costs: Mutex<()>,
    next: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Lane {
    /// Queues `events` and returns their report once they are stored. `store` writes a group
    /// of requests (in queue order) to the event store in one transaction; `project` writes
    /// their cost facts and returns one report per request. A request is answered after both.
    pub(crate) fn submit(
        &self,
        events: Vec<Event>,
        store: &dyn Fn(Vec<Vec<Event>>) -> Result<Stored, OpsError>,
        project: &dyn Fn(Stored) -> Result<Vec<IngestReport>, OpsError>,
    ) -> Reply {
        let (tx, rx) = mpsc::channel();
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        lock(&self.queue).push(Job { id, events, reply: tx });
        let write = lock(&self.write);
        let jobs = std::mem::take(&mut *lock(&self.queue));
        // Empty: an earlier group took this request and answers it.
        if !jobs.is_empty() {
            let mine = jobs.iter().any(|j| j.id == id);
            let (batches, replies): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (j.events, j.reply)).unzip();
            let outcome = match store(batches) {
                Ok(stored) => {
                    let _costs = lock(&self.costs);
                    drop(write);
                    project(stored)
                }
                Err(e) => Err(e),
            };
            match outcome {
                Ok(reports) => {
                    for (r, tx) in reports.into_iter().zip(&replies) {
                        let _ = tx.send(Ok(r));
                    }
                }
                Err(e) => {
                    let msg = e.to_string();
                    for tx in &replies {
                        let _ = tx.send(Err(OpsError::Serve(format!("ingest: group commit failed: {msg}"))));
                    }
                    // The original error is more precise for this request's own group.
                    if mine {
                        return Err(e);
                    }
                }
            }
        } else {
            drop(write);
        }
        rx.recv().unwrap_or_else(|_| {
            Err(OpsError::Serve("ingest: the group commit holding this request was interrupted".into()))
        })
    }
}

/// The lanes of every tenant.
#[derive(Default)]
pub(crate) struct Lanes(Mutex<HashMap<String, Arc<Lane>>>);

impl Lanes {
    /// The lane of `tenant` (created on first use).
    pub(crate) fn get(&self, tenant: &str) -> Arc<Lane> {
        lock(&self.0).entry(tenant.to_string()).or_default().clone()
    }
}
