//! Group commit of ingests, one lane per tenant: a request queues its events on its tenant's
//! lane and waits for the lane's write lock; whoever holds it takes every queued request and
//! stores them all in one ledger transaction, then hands each request its own report. A request
//! is answered only after the transaction holding its events returned (is durable); when it
//! fails, every request of that group gets the error and none of their events is stored.
//! Tenants do not wait for each other.

use std::collections::HashMap;
use std::sync::mpsc::{self, TryRecvError};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::OpsError;
use crate::event::Event;
use crate::service::IngestReport;

type Reply = Result<IngestReport, OpsError>;

struct Job {
    events: Vec<Event>,
    reply: mpsc::Sender<Reply>,
}

/// The commit queue and write lock of one tenant.
#[derive(Default)]
pub(crate) struct Lane {
    queue: Mutex<Vec<Job>>,
    write: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Lane {
    /// Queues `events` and returns their report once they are stored. `commit` stores a group
    /// of requests (in queue order) in one transaction and returns one report per request.
    pub(crate) fn submit(
        &self,
        events: Vec<Event>,
        commit: &dyn Fn(Vec<Vec<Event>>) -> Result<Vec<IngestReport>, OpsError>,
    ) -> Reply {
        let (tx, rx) = mpsc::channel();
        lock(&self.queue).push(Job { events, reply: tx });
        let _write = lock(&self.write);
        match rx.try_recv() {
            Ok(reply) => return reply,
            Err(TryRecvError::Disconnected) => {
                return Err(OpsError::Serve("ingest: the group commit holding this request was interrupted".into()));
            }
            Err(TryRecvError::Empty) => {}
        }
        let jobs = std::mem::take(&mut *lock(&self.queue));
        let (batches, replies): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (j.events, j.reply)).unzip();
        match commit(batches) {
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
                // This request's own job is in the group: its reply is on `rx`, but the
                // original error is more precise.
                return Err(e);
            }
        }
        rx.try_recv().unwrap_or_else(|_| Err(OpsError::Serve("ingest: no reply from the group commit".into())))
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
