//! Group commit of ingests, one lane per tenant: a request queues its events on its tenant's
//! lane. When no request of the lane is storing, it becomes the leader: it takes every queued
//! request (its own among them), stores them all in one event-store transaction, hands their
//! stored events to the tenant's cost-fact projector ([`crate::project`]; only one leader at a
//! time, so facts are queued in event order), answers each request with its own report, and
//! then hands the lead to the oldest request that queued meanwhile (or gives it up). A request
//! that is not leading just waits for its answer — never for a lock behind other groups — so
//! it is answered as soon as its group is stored, and everything that queued during a store
//! goes into the next group. A request is answered only after its transaction returned (is
//! durable); when it fails, every request of that group gets the error and none of their
//! events is stored. Tenants do not wait for each other.

use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::OpsError;
use crate::project::{Projector, StoredEntry};
use crate::service::{IngestReport, Prepared};

type Reply = Result<IngestReport, OpsError>;

/// What storing a group gives: one report per request (in queue order) and the stored
/// event-store entries.
pub(crate) type Stored = (Vec<IngestReport>, Vec<StoredEntry>);

/// What a queued request is woken with.
enum Wake {
    /// Its answer.
    Done(Reply),
    /// It leads the next group.
    Lead,
}

struct Job {
    request: Prepared,
    wake: mpsc::Sender<Wake>,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    /// A request is leading (storing a group, or about to take the queue).
    leading: bool,
}

/// The commit queue and the cost-fact projector of one tenant.
pub(crate) struct Lane {
    queue: Mutex<Queue>,
    projector: Projector,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Passes the lead on when a leader is done — also when its store panicked, so the lane never
/// stays led by nobody.
struct HandOff<'a>(&'a Lane);

impl Drop for HandOff<'_> {
    fn drop(&mut self) {
        let mut q = lock(&self.0.queue);
        loop {
            let Some(next) = q.jobs.first() else {
                q.leading = false;
                return;
            };
            if next.wake.send(Wake::Lead).is_ok() {
                return;
            }
            // Its request is gone (its thread ended): its events are not stored, nobody waits.
            q.jobs.remove(0);
        }
    }
}

impl Lane {
    /// A lane whose stored events go to `projector`.
    pub(crate) fn new(projector: Projector) -> Self {
        Self { queue: Mutex::default(), projector }
    }

    /// Queues `request` and returns its report once it is stored. `store` writes a group of
    /// requests (in queue order) to the event store in one transaction.
    pub(crate) fn submit(&self, request: Prepared, store: &dyn Fn(Vec<Prepared>) -> Result<Stored, OpsError>) -> Reply {
        let (wake, woken) = mpsc::channel();
        let mut lead = {
            let mut q = lock(&self.queue);
            q.jobs.push(Job { request, wake });
            !std::mem::replace(&mut q.leading, true)
        };
        loop {
            if lead {
                self.lead(store);
            }
            match woken.recv() {
                Ok(Wake::Done(r)) => return r,
                Ok(Wake::Lead) => lead = true,
                Err(_) => {
                    return Err(OpsError::Serve(
                        "ingest: the group commit holding this request was interrupted".into(),
                    ));
                }
            }
        }
    }

    /// Stores every queued request as one group, answers them, and passes the lead on.
    fn lead(&self, store: &dyn Fn(Vec<Prepared>) -> Result<Stored, OpsError>) {
        let _hand_off = HandOff(self);
        let jobs = std::mem::take(&mut lock(&self.queue).jobs);
        if jobs.is_empty() {
            return;
        }
        let (requests, wakes): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (j.request, j.wake)).unzip();
        match store(requests) {
            Ok((reports, stored)) => {
                self.projector.send(stored);
                for (r, w) in reports.into_iter().zip(&wakes) {
                    let _ = w.send(Wake::Done(Ok(r)));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                let mut first = Some(e);
                for w in &wakes {
                    // The original error to the first request (the leader's own when it
                    // started the group), the summary to the others.
                    let err =
                        first.take().unwrap_or_else(|| OpsError::Serve(format!("ingest: group commit failed: {msg}")));
                    let _ = w.send(Wake::Done(Err(err)));
                }
            }
        }
    }

    /// Waits until the cost facts of every event stored so far are written.
    pub(crate) fn flush(&self) {
        self.projector.flush();
    }
}

/// The lanes of every tenant.
#[derive(Default)]
pub(crate) struct Lanes(Mutex<HashMap<String, Arc<Lane>>>);

impl Lanes {
    /// The lane of `tenant`, created on first use with the projector `projector` makes.
    pub(crate) fn get(
        &self,
        tenant: &str,
        projector: impl FnOnce() -> Result<Projector, OpsError>,
    ) -> Result<Arc<Lane>, OpsError> {
        let mut g = lock(&self.0);
        if let Some(l) = g.get(tenant) {
            return Ok(l.clone());
        }
        let lane = Arc::new(Lane::new(projector()?));
        g.insert(tenant.to_string(), lane.clone());
        Ok(lane)
    }

    /// Waits until every lane's projector has written what it was given.
    pub(crate) fn flush(&self) {
        let lanes: Vec<Arc<Lane>> = lock(&self.0).values().cloned().collect();
        for l in lanes {
            l.flush();
        }
    }
}
