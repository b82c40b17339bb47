//! Ledger verification: re-hash the stored bytes of every record and check every link.
//!
//! Owns: the per-record checks, their order, the [`Defect`] kinds and the [`VerifyReport`];
//! verification of one store ([`verify_store`]), of raw records ([`verify_records`]) and of a
//! whole plane ([`verify_plane`]); the native JSONL export ([`export_jsonl`]). Never does:
//! repair, skip or reorder anything — the first bad record ends the verdict, and every record
//! before it was checked.
//!
//! Checks, in this order, for the record at index `i` of the scan (its expected `seq`):
//! 1. the backend marked it as a junk or torn record ([`RawRecord::defect`], a typed
//!    [`RecordFault`]); a backend that fails the scan on an undecodable record reports junk;
//! 2. the stored `entry_hash` is 64 lowercase hex digits and equals
//!    `SHA-256(0x00 ‖ body)` — else the content changed;
//! 3. the body decodes as an entry (`seq`, `previous_hash` and the index columns are read);
//! 4. the body's `seq` and the stored position both equal `i` — else a gap, a duplicate or a
//!    reorder ([`DefectKind::SeqGap`]);
//! 5. `previous_hash` equals the previous record's `entry_hash` (64 zeros for `i = 0`);
//! 6. every value the store keeps beside the body for its queries (SQLite columns, the JSONL
//!    index, see [`super::columns`]) equals the body's — else [`DefectKind::ColumnMismatch`]
//!    naming the column.
//!
//! After the scan, fewer records than the store's `len()` is a truncation. A truncated tail
//! that left a consistent chain is only visible against a signed checkpoint
//! ([`super::checkpoint`]).
//!
//! Hashing and body decoding run in parallel over chunks of records (scoped threads, one per
//! available core); the links are then checked sequentially, so the first bad `seq` is exact.
//!
//! Export format (`cpctl ledger export`): one line per entry, the RFC 8785 canonical JSON of the
//! full entry (stored body plus `entry_hash`), `\n`-terminated, in `seq` order.

#[cfg(test)]
use std::borrow::Cow;
use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::columns::{BodyFields, OwnedColumn, check_columns};
use super::{GENESIS_PREVIOUS_HASH, LedgerError, LedgerSet, LedgerStore, RawRecord, RecordFault};

mod arena;
mod export;

use arena::{Arena, view};
pub use export::{ExportError, export_jsonl};

/// Records hashed per parallel round.
const CHUNK_RECORDS: usize = 8192;
/// Below this many records per worker, hashing stays on the calling thread.
const MIN_RECORDS_PER_WORKER: usize = 1024;

/// Why a record failed verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DefectKind {
    /// A record that is not an entry at all (junk JSONL line, undecodable row).
    JunkLine,
    /// An incomplete last record (torn JSONL line after a crash).
    TornLine,
    /// The stored bytes do not hash to the stored `entry_hash` (or it is malformed).
    ContentChanged,
    /// The hashed body is not a decodable entry (no `seq` / `previous_hash`).
    Malformed,
    /// `seq` is not the expected position: a gap, a duplicate or a reorder.
    SeqGap,
    /// `previous_hash` is not the previous entry's `entry_hash` (or not 64 zeros at entry 0).
    LinkBroken,
    /// Entries are missing at the tail (fewer than the store or a checkpoint says).
    Truncated,
    /// The first `size` entries no longer have the checkpoint's Merkle root.
    Rewritten,
    /// A value the store keeps beside the hashed body for its queries (an index column) differs
    /// from the body: queries filtering on it would answer differently.
    ColumnMismatch,
    /// The plane knows the ledger (manifest, checkpoint) but its file is gone.
    Missing,
}

impl DefectKind {
    /// Short human description (`link broken`).
    pub fn describe(self) -> &'static str {
        match self {
            Self::JunkLine => "junk line",
            Self::TornLine => "torn line",
            Self::ContentChanged => "content changed",
            Self::Malformed => "malformed entry",
            Self::SeqGap => "gap in seq",
            Self::LinkBroken => "link broken",
            Self::Truncated => "truncated",
            Self::Rewritten => "rewritten",
            Self::ColumnMismatch => "column mismatch",
            Self::Missing => "ledger missing",
        }
    }
}

impl std::fmt::Display for DefectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// The first bad record of a ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Defect {
    /// The `seq` (0-based position) of the first bad record.
    pub seq: u64,
    /// What is wrong.
    pub kind: DefectKind,
    /// Details (expected vs found).
    pub message: String,
    /// The stored column that differs from the hashed body ([`DefectKind::ColumnMismatch`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
}

impl std::fmt::Display for Defect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "at seq {}: {}: {}", self.seq, self.kind, self.message)
    }
}

/// The verdict on one ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Ledger name (`HOT/governance`) or file.
    pub ledger: String,
    /// Records found in the store.
    pub entries: u64,
    /// Records that passed every check (all of them when `ok`).
    pub verified: u64,
    /// Whether the whole ledger verified.
    pub ok: bool,
    /// `entry_hash` of the last verified record.
    pub head: Option<String>,
    /// The first bad record, if any.
    pub first_bad: Option<Defect>,
}

impl VerifyReport {
    /// One line: `HOT/governance: OK 1234 entries` or `HOT/governance: FAIL at seq 17: …`.
    pub fn summary(&self) -> String {
        match &self.first_bad {
            None => format!("{}: OK {} entries", self.ledger, self.entries),
            Some(d) => format!("{}: FAIL {d}", self.ledger),
        }
    }

    pub(crate) fn fail(&mut self, d: Defect) {
        self.ok = false;
        if self.first_bad.is_none() {
            self.first_bad = Some(d);
        }
    }
}

/// A stored record with owned bytes (what [`verify_records`] consumes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRecord {
    /// Position as stored.
    pub position: u64,
    /// Stored canonical body (entry without `entry_hash`) or raw bytes of a defective record.
    pub body: Vec<u8>,
    /// Stored `entry_hash`.
    pub entry_hash: String,
    /// Backend-reported defect (junk or torn record) and what is wrong.
    pub defect: Option<(RecordFault, String)>,
    /// The store's index columns of the record ([`RawRecord::columns`]).
    pub columns: Option<Vec<OwnedColumn>>,
}

impl From<RawRecord<'_>> for OwnedRecord {
    fn from(r: RawRecord<'_>) -> Self {
        Self {
            position: r.position,
            body: r.body.to_vec(),
            entry_hash: r.entry_hash.to_string(),
            defect: r.defect.map(|(f, m)| (f, m.to_string())),
            columns: r.columns.map(|c| c.iter().map(OwnedColumn::of).collect()),
        }
    }
}

/// Per-record results computed in parallel.
enum HashCheck {
    Ok([u8; 32]),
    Malformed,
    Mismatch(String),
}

struct Pre<'a> {
    hash: HashCheck,
    fields: Result<BodyFields<'a>, String>,
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn pre_one<'a>(r: &RawRecord<'a>) -> Pre<'a> {
    if r.defect.is_some() {
        return Pre { hash: HashCheck::Malformed, fields: Err(String::new()) };
    }
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(r.body);
    let digest: [u8; 32] = h.finalize().into();
    // Comparing against the lowercase hex of the digest also checks the stored form.
    let mut hex = [0u8; 64];
    let encoded = const_hex::encode_to_slice(digest, &mut hex).is_ok();
    let hash = if encoded && hex[..] == *r.entry_hash.as_bytes() {
        HashCheck::Ok(digest)
    } else if !is_hex64(r.entry_hash) {
        HashCheck::Malformed
    } else {
        HashCheck::Mismatch(const_hex::encode(digest))
    };
    Pre { hash, fields: BodyFields::parse(r.body) }
}

/// Reads `seq` and `previous_hash` through the fast path of [`BodyFields::parse`] (what the
/// property tests compare with serde).
#[cfg(test)]
fn fast_head(b: &[u8]) -> Option<(u64, &str)> {
    let f = super::columns::fast_fields(b)?;
    let prev = match f.values[super::columns::N_COLUMNS - 1].clone()? {
        Cow::Borrowed(p) => p,
        Cow::Owned(_) => return None,
    };
    Some((f.seq, prev))
}

/// The two fields the reference decoder of the tests reads.
#[cfg(test)]
#[derive(Deserialize)]
struct BodyHead<'a> {
    seq: u64,
    #[serde(borrow)]
    previous_hash: Cow<'a, str>,
}

fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn pre_all<'a>(recs: &[RawRecord<'a>]) -> Vec<Pre<'a>> {
    let workers = workers().min(recs.len() / MIN_RECORDS_PER_WORKER).max(1);
    if workers == 1 {
        return recs.iter().map(pre_one).collect();
    }
    let per = recs.len().div_ceil(workers);
    let (mine, theirs) = recs.split_at(per.min(recs.len()));
    std::thread::scope(|s| {
        // Workers take the later slices; this thread hashes the first one meanwhile.
        let handles: Vec<_> =
            theirs.chunks(per).map(|c| s.spawn(move || c.iter().map(pre_one).collect::<Vec<_>>())).collect();
        let mut out = Vec::with_capacity(recs.len());
        out.extend(mine.iter().map(pre_one));
        for h in handles {
            out.extend(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        out
    })
}

/// The verification defect of a record the backend could not split.
fn defect_kind_of(fault: RecordFault) -> DefectKind {
    match fault {
        RecordFault::Torn => DefectKind::TornLine,
        RecordFault::Junk => DefectKind::JunkLine,
    }
}

/// The sequential part of verification, fed chunk by chunk.
pub(crate) struct Verifier {
    report: VerifyReport,
    prev: String,
    leaves: Option<Vec<[u8; 32]>>,
}

impl Verifier {
    pub(crate) fn new(ledger: &str, collect_leaves: bool) -> Self {
        Self {
            report: VerifyReport {
                ledger: ledger.to_string(),
                entries: 0,
                verified: 0,
                ok: true,
                head: None,
                first_bad: None,
            },
            prev: GENESIS_PREVIOUS_HASH.to_string(),
            leaves: collect_leaves.then(Vec::new),
        }
    }

    fn failed(&self) -> bool {
        self.report.first_bad.is_some()
    }

    /// Verifies a chunk of consecutive records.
    pub(crate) fn push_chunk(&mut self, chunk: &[RawRecord<'_>]) {
        if self.failed() {
            self.report.entries += chunk.len() as u64;
            return;
        }
        let pre = pre_all(chunk);
        for (r, p) in chunk.iter().zip(pre) {
            let seq = self.report.entries;
            self.report.entries += 1;
            if self.failed() {
                continue;
            }
            if let Some(d) = self.check(seq, r, p) {
                self.report.fail(d);
                continue;
            }
            self.report.verified += 1;
        }
    }

    fn check(&mut self, seq: u64, r: &RawRecord<'_>, p: Pre<'_>) -> Option<Defect> {
        let bad = |kind, message: String| Some(Defect { seq, kind, message, column: None });
        if let Some((fault, m)) = r.defect {
            return bad(defect_kind_of(fault), format!("record at position {}: {m}", r.position));
        }
        let digest = match p.hash {
            HashCheck::Ok(d) => d,
            HashCheck::Malformed => {
                return bad(
                    DefectKind::ContentChanged,
                    format!("stored entry_hash {:?} is not 64 lowercase hex digits", r.entry_hash),
                );
            }
            HashCheck::Mismatch(got) => {
                return bad(
                    DefectKind::ContentChanged,
                    format!("stored entry_hash {} but the stored bytes hash to {got}", r.entry_hash),
                );
            }
        };
        let fields = match p.fields {
            Ok(f) => f,
            Err(e) => return bad(DefectKind::Malformed, format!("body is not an entry: {e}")),
        };
        let (body_seq, previous_hash) = (fields.seq, fields.previous_hash());
        if body_seq != seq || r.position != seq {
            let what = match body_seq.cmp(&seq) {
                std::cmp::Ordering::Less => "duplicate or reordered entry",
                std::cmp::Ordering::Greater => "missing entry",
                std::cmp::Ordering::Equal => "stored position differs from seq",
            };
            return bad(
                DefectKind::SeqGap,
                format!("{what}: expected seq {seq}, found seq {body_seq} at position {}", r.position),
            );
        }
        if previous_hash != self.prev {
            let message = if seq == 0 {
                format!("entry 0 has previous_hash {previous_hash}, expected 64 zeros")
            } else {
                format!("previous_hash {previous_hash} is not the entry_hash {} of seq {}", self.prev, seq - 1)
            };
            return bad(DefectKind::LinkBroken, message);
        }
        if let Some(m) = r.columns.as_ref().and_then(|c| check_columns(c, &fields)) {
            return Some(Defect {
                seq,
                kind: DefectKind::ColumnMismatch,
                message: m.to_string(),
                column: Some(m.column.to_string()),
            });
        }
        self.prev.clear();
        self.prev.push_str(r.entry_hash);
        if let Some(l) = &mut self.leaves {
            l.push(digest);
        }
        None
    }

    /// Records a defect reported out of band (a backend error at `seq`, a short store).
    pub(crate) fn fail_at(&mut self, seq: u64, kind: DefectKind, message: String) {
        self.report.fail(Defect { seq, kind, message, column: None });
    }

    pub(crate) fn entries(&self) -> u64 {
        self.report.entries
    }

    /// The report, and the leaf hashes of the verified records when collected.
    pub(crate) fn finish(mut self) -> (VerifyReport, Vec<[u8; 32]>) {
        self.report.head = (self.report.verified > 0).then_some(self.prev);
        (self.report, self.leaves.unwrap_or_default())
    }
}

/// Verifies records given in stored order (pure; what the property tests drive).
pub fn verify_records(ledger: &str, records: impl IntoIterator<Item = OwnedRecord>) -> VerifyReport {
    verify_owned(ledger, records, false).0
}

/// [`verify_records`], optionally collecting leaf hashes.
pub(crate) fn verify_owned(
    ledger: &str,
    records: impl IntoIterator<Item = OwnedRecord>,
    collect_leaves: bool,
) -> (VerifyReport, Vec<[u8; 32]>) {
    let mut v = Verifier::new(ledger, collect_leaves);
    let mut chunk = Vec::with_capacity(CHUNK_RECORDS);
    for r in records {
        chunk.push(r);
        if chunk.len() == CHUNK_RECORDS {
            v.push_chunk(&chunk.iter().map(view).collect::<Vec<_>>());
            chunk.clear();
        }
    }
    v.push_chunk(&chunk.iter().map(view).collect::<Vec<_>>());
    v.finish()
}

/// Verifies every record of `store`; see the module docs for the checks.
pub fn verify_store(store: &dyn LedgerStore) -> Result<VerifyReport, LedgerError> {
    Ok(verify_store_inner(store, false)?.0)
}

/// Verifies `store`, optionally collecting the leaf hashes (`entry_hash` bytes) of the
/// verified records for a Merkle root.
pub(crate) fn verify_store_inner(
    store: &dyn LedgerStore,
    collect_leaves: bool,
) -> Result<(VerifyReport, Vec<[u8; 32]>), LedgerError> {
    let expected_len = match store.len() {
        Ok(n) => Some(n),
        Err(e) => {
            // The scan below reports the bad record itself; the length is only a cross-check.
            tracing::debug!(ledger = store.name(), error = %e, "ledger length unavailable");
            None
        }
    };
    let mut v = Verifier::new(store.name(), collect_leaves);
    let mut arena = Arena::new();
    let scanned = store.scan_raw(&mut |r| {
        arena.push(&r);
        if arena.len() == CHUNK_RECORDS {
            v.push_chunk(&arena.views());
            arena.clear();
        }
        ControlFlow::Continue(())
    });
    v.push_chunk(&arena.views());
    match scanned {
        Ok(()) => {}
        Err(LedgerError::Corrupt { seq, message, .. }) => {
            // A backend that cannot decode a record fails the scan instead of yielding a
            // defective record: report it as that record's defect — a record that cannot be
            // decoded is junk (only a JSONL line without its newline is torn, and the JSONL
            // backend reports that as a defective record).
            v.fail_at(seq, DefectKind::JunkLine, format!("record at position {seq}: {message}"));
        }
        Err(e) => return Err(e),
    }
    if let Some(n) = expected_len
        && v.entries() < n
    {
        let got = v.entries();
        v.fail_at(got, DefectKind::Truncated, format!("store reports {n} entries but only {got} records were read"));
    }
    Ok(v.finish())
}

/// Verifies every ledger of a plane, in name order; a ledger the plane knows it had whose file
/// is gone ([`super::missing_ledgers`]) is a failed report ([`DefectKind::Missing`]).
pub fn verify_plane(set: &LedgerSet) -> Result<Vec<VerifyReport>, LedgerError> {
    let mut out = Vec::new();
    for name in set.list()? {
        let store = set.open(&name.to_string())?;
        out.push(verify_store(&*store)?);
    }
    out.extend(super::missing_ledgers(set)?.iter().map(missing_report));
    out.sort_by(|a, b| a.ledger.cmp(&b.ledger));
    Ok(out)
}

/// The failed report of a missing ledger.
pub fn missing_report(m: &super::MissingLedger) -> VerifyReport {
    let message = format!("file {} does not exist but {} names this ledger", m.file, m.known_from);
    VerifyReport {
        ledger: m.ledger.clone(),
        entries: 0,
        verified: 0,
        ok: false,
        head: None,
        first_bad: Some(Defect { seq: 0, kind: DefectKind::Missing, message, column: None }),
    }
}

/// The stored records of `store`, owned (the input of [`verify_records`]).
pub fn stored_records(store: &dyn LedgerStore) -> Result<Vec<OwnedRecord>, LedgerError> {
    let mut out = Vec::new();
    store.scan_raw(&mut |r| {
        out.push(r.into());
        std::ops::ControlFlow::Continue(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests;
