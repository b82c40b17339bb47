//! `--follow`: tail every ledger of the plane (one tenant), project new entries, spool the
//! encoded batches on disk, then deliver the spool oldest first. A restart neither loses nor
//! duplicates: a poll's batches and the cursor after it are committed together (the batches are
//! written to a temporary directory renamed into the spool, with the cursor inside), and a
//! batch leaves the spool only once delivered. The spool is bounded
//! (`follow.spool_max_bytes`): when full, the oldest batches are dropped and counted. Nothing
//! here is on the router's path; the router never waits on telemetry.
//!
//! State directory layout: `cursor.json` (last read seq per ledger, prompts awaiting their
//! answer, poll number), `spool/poll-<n>/` (`cursor.json` + `<i>.traces` / `<i>.metrics`
//! bodies), `rejected/` (batches the receiver refused, kept for inspection).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use cp_kernel::{LedgerSet, Plane, fsx};

use crate::config::OtelConfig;
use crate::deliver::PushReport;
use crate::error::OtelError;
use crate::export::projection_options;
use crate::project::{Projector, SourcedEntry, batches, traces_data};
use crate::push::{PushFailure, Pusher, Signal};
use crate::select::Selection;

const CURSOR: &str = "cursor.json";

/// Where the follower has read to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Cursor {
    /// Number of the last committed poll.
    poll: u64,
    /// Last seq read per ledger.
    ledgers: BTreeMap<String, u64>,
    /// `PROMPT_SENT` entries whose answer has not been read yet.
    pending: Vec<SourcedEntry>,
}

/// What the follower did so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FollowReport {
    /// Polls run.
    pub polls: u64,
    /// Entries read.
    pub entries: u64,
    /// Batches written to the spool.
    pub spooled_batches: u64,
    /// What was delivered.
    pub delivered: PushReport,
    /// Batches still in the spool.
    pub spool_batches: u64,
    /// Batches dropped because the spool was full.
    pub dropped_batches: u64,
    /// Batches the receiver refused (moved to `rejected/`).
    pub rejected_batches: u64,
    /// The last delivery error, if the last drain stopped on one.
    pub last_error: Option<String>,
}

/// A tailing exporter over one state directory.
#[derive(Debug)]
pub struct Follower<'a> {
    plane: &'a Plane,
    sel: Selection,
    cfg: OtelConfig,
    pusher: &'a Pusher,
    service: String,
    dir: PathBuf,
    cursor: Cursor,
    proj: Projector,
    report: FollowReport,
}

fn read_cursor(path: &Path) -> Result<Option<Cursor>, OtelError> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = fsx::read_to_string(path).map_err(|e| OtelError::io(path, e))?;
    serde_json::from_str(&text).map(Some).map_err(|e| OtelError::io(path, format!("not a follow cursor: {e}")))
}

fn sorted(dir: &Path) -> Result<Vec<PathBuf>, OtelError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut v: Vec<PathBuf> =
        fsx::read_dir(dir).map_err(|e| OtelError::io(dir, e))?.into_iter().map(|e| e.path()).collect();
    v.sort();
    Ok(v)
}

impl<'a> Follower<'a> {
    /// Opens (or creates) the state in `dir` and resumes from its cursor.
    pub fn open(
        plane: &'a Plane,
        sel: Selection,
        cfg: OtelConfig,
        pusher: &'a Pusher,
        service: &str,
        dir: &Path,
    ) -> Result<Self, OtelError> {
        sel.query()?;
        fsx::create_dir_all(dir.join("spool")).map_err(|e| OtelError::io(dir, e))?;
        let mut cursor = read_cursor(&dir.join(CURSOR))?.unwrap_or_default();
        // A poll committed to the spool after the cursor file was last written.
        if let Some(last) = sorted(&dir.join("spool"))?.last()
            && let Some(c) = read_cursor(&last.join(CURSOR))?
            && c.poll > cursor.poll
        {
            cursor = c;
        }
        let mut proj = Projector::new(projection_options(&cfg, service));
        proj.restore_pending(cursor.pending.clone());
        Ok(Self {
            plane,
            sel,
            cfg,
            pusher,
            service: service.to_string(),
            dir: dir.to_path_buf(),
            cursor,
            proj,
            report: FollowReport::default(),
        })
    }

    /// The report so far.
    pub fn report(&self) -> &FollowReport {
        &self.report
    }

    /// One poll: read what was appended, a page (`read_page_entries`) at a time, committing
    /// each page to the spool with the cursor after it and delivering the spool, so memory
    /// stays bounded however far behind the cursor is. Delivery failures are reported (and the
    /// batches kept), not returned as errors.
    pub fn poll(&mut self) -> Result<(), OtelError> {
        self.report.polls += 1;
        let page = self.cfg.read_page_entries.max(1);
        loop {
            let read = self.read_new(page)?;
            if read > 0 {
                self.commit()?;
            }
            self.cap_spool()?;
            self.drain()?;
            if read < page as u64 {
                break;
            }
        }
        self.report.spool_batches = self.spool_files()?.len() as u64;
        Ok(())
    }

    /// Reads at most `max` new entries (ledger by ledger) into the projector.
    fn read_new(&mut self, max: usize) -> Result<u64, OtelError> {
        let base = self.sel.query()?;
        let set = LedgerSet::new(self.plane);
        let mut n = 0u64;
        'ledgers: for name in set.list()? {
            let ledger = name.to_string();
            let store = set.open_existing(&ledger)?;
            loop {
                let page = max.saturating_sub(n as usize);
                if page == 0 {
                    break 'ledgers;
                }
                let mut q = base.clone();
                q.after_seq = self.cursor.ledgers.get(&ledger).copied();
                q.limit = Some(page);
                let got = store.query(&q)?;
                let Some(last) = got.last().map(|e| e.seq) else { break };
                let len = got.len();
                for entry in got {
                    self.proj.push(SourcedEntry { ledger: ledger.clone(), entry });
                }
                n += len as u64;
                self.cursor.ledgers.insert(ledger.clone(), last);
                if len < page {
                    break;
                }
            }
        }
        self.report.entries += n;
        Ok(n)
    }

    /// Writes this poll's batches and the cursor after it as one spool directory (renamed into
    /// place), then the cursor file.
    fn commit(&mut self) -> Result<(), OtelError> {
        self.cursor.poll += 1;
        self.cursor.pending = self.proj.pending_entries();
        let tmp = self.dir.join(format!("tmp-poll-{:012}", self.cursor.poll));
        if tmp.exists() {
            fsx::remove_dir_all(&tmp).map_err(|e| OtelError::io(&tmp, e))?;
        }
        fsx::create_dir_all(&tmp).map_err(|e| OtelError::io(&tmp, e))?;
        let mut i = 0usize;
        for b in batches(self.proj.take_ready(), self.cfg.push.max_spans_per_batch) {
            let body = self.pusher.traces_body(&traces_data(&self.service, b));
            write_file(&tmp.join(format!("{i:06}.traces")), &body)?;
            i += 1;
        }
        let metrics = self.proj.take_metrics();
        if !metrics.resource_metrics.is_empty() {
            write_file(&tmp.join(format!("{i:06}.metrics")), &self.pusher.metrics_body(&metrics))?;
            i += 1;
        }
        let cursor = serde_json::to_vec(&self.cursor).unwrap_or_default();
        write_file(&tmp.join(CURSOR), &cursor)?;
        let dest = self.dir.join("spool").join(format!("poll-{:012}", self.cursor.poll));
        fsx::rename(&tmp, &dest).map_err(|e| OtelError::io(&dest, e))?;
        fsx::sync_dir(self.dir.join("spool")).map_err(|e| OtelError::io(&dest, e))?;
        fsx::write_atomic(self.dir.join(CURSOR), &cursor).map_err(|e| OtelError::io(&self.dir, e))?;
        self.report.spooled_batches += i as u64;
        Ok(())
    }

    /// Every spooled body, oldest first.
    fn spool_files(&self) -> Result<Vec<PathBuf>, OtelError> {
        let mut out = Vec::new();
        for d in sorted(&self.dir.join("spool"))? {
            out.extend(sorted(&d)?.into_iter().filter(|f| f.file_name().is_some_and(|n| n != CURSOR)));
        }
        Ok(out)
    }

    /// Drops the oldest batches while the spool is over `follow.spool_max_bytes`.
    fn cap_spool(&mut self) -> Result<(), OtelError> {
        let files = self.spool_files()?;
        let size = |f: &PathBuf| fsx::metadata(f).map_or(0, |m| m.len());
        let mut total: u64 = files.iter().map(size).sum();
        for f in &files {
            if total <= self.cfg.follow.spool_max_bytes {
                break;
            }
            total -= size(f);
            fsx::remove_file(f).map_err(|e| OtelError::io(f, e))?;
            self.report.dropped_batches += 1;
            tracing::warn!(batch = %f.display(), "spool full: dropped the oldest batch");
        }
        Ok(())
    }

    /// Sends the spool oldest first; stops at the first batch that cannot be delivered now.
    fn drain(&mut self) -> Result<(), OtelError> {
        self.report.last_error = None;
        for d in sorted(&self.dir.join("spool"))? {
            for f in sorted(&d)?.into_iter().filter(|f| f.file_name().is_some_and(|n| n != CURSOR)) {
                let signal =
                    if f.extension().is_some_and(|e| e == "metrics") { Signal::Metrics } else { Signal::Traces };
                let body = fsx::read(&f).map_err(|e| OtelError::io(&f, e))?;
                match self.pusher.send(signal, &body) {
                    Ok(delivery) => {
                        let spans = if signal == Signal::Traces { count_spans(&body, self.pusher) } else { 0 };
                        self.report.delivered.add(signal, &delivery, spans);
                        fsx::remove_file(&f).map_err(|e| OtelError::io(&f, e))?;
                    }
                    Err(fail @ PushFailure::Refused { .. }) => {
                        let rej = self.dir.join("rejected");
                        fsx::create_dir_all(&rej).map_err(|e| OtelError::io(&rej, e))?;
                        let name = format!(
                            "{}-{}",
                            d.file_name().unwrap_or_default().to_string_lossy(),
                            f.file_name().unwrap_or_default().to_string_lossy()
                        );
                        fsx::rename(&f, rej.join(name)).map_err(|e| OtelError::io(&f, e))?;
                        self.report.rejected_batches += 1;
                        self.report.last_error = Some(fail.to_string());
                    }
                    Err(fail) => {
                        self.report.last_error = Some(fail.to_string());
                        return Ok(());
                    }
                }
            }
            // Keep the newest poll directory: its cursor outlives delivery until the next poll.
            let newest = sorted(&self.dir.join("spool"))?.last() == Some(&d);
            if !newest {
                fsx::remove_dir_all(&d).map_err(|e| OtelError::io(&d, e))?;
            }
        }
        Ok(())
    }
}

fn write_file(path: &Path, data: &[u8]) -> Result<(), OtelError> {
    fsx::write_atomic(path, data).map_err(|e| OtelError::io(path, e))
}

/// Spans in an encoded trace body (for the report).
fn count_spans(body: &[u8], p: &Pusher) -> u64 {
    use prost::Message;
    let t = match p.endpoint().protocol {
        crate::push::Protocol::Protobuf => opentelemetry_proto::tonic::trace::v1::TracesData::decode(body).ok(),
        crate::push::Protocol::Json => serde_json::from_slice(body).ok(),
    };
    t.map_or(0, |t| t.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len() as u64).sum())
}
