//! The plane's manifest of its ledgers, so that a deleted ledger is noticed.
//!
//! Owns: the manifest file ([`MANIFEST_FILE`] in `HOT/ledger/`), adding a ledger to it, and
//! [`missing_ledgers`] — every ledger the plane knows it had whose file is gone. Never does:
//! remove a line (a ledger, once created, is expected for ever).
//!
//! Format: one line per ledger file, `TIER/<name>.<ext>` (`HOT/governance.db`,
//! `HO2/prompts.jsonl`), appended with a single `O_APPEND` write when [`super::LedgerSet`] first
//! creates or opens the file; a line may appear twice (two processes racing), readers dedupe.
//! The file key carries the backend's extension, so a plane's SQLite and JSONL ledgers of the
//! same name are distinct entries.
//!
//! Where a ledger is known from (the union is what [`missing_ledgers`] checks):
//! * the manifest file;
//! * every saved checkpoint (`HOT/ledger/checkpoints/*.json`, its `origin`);
//! * every `CHECKPOINT` entry of `HOT/governance` (its `origin`, and `ledgers` — the manifest
//!   at the time of the checkpoint), so the manifest itself is covered by the signed
//!   checkpoints of `HOT/governance`: deleting the manifest and a ledger is still noticed.
//!
//! A listed ledger whose file is missing is never silently re-created: [`super::LedgerSet::open`]
//! refuses it with [`LedgerError::Missing`], so the gap stays visible until the file is restored.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{LedgerError, LedgerName, LedgerQuery, LedgerSet, event};
use crate::fsx;
use crate::plane::Durability;

/// File name of the manifest inside the `HOT` tier's ledger directory.
pub const MANIFEST_FILE: &str = "ledgers.manifest";

/// Bytes of a manifest read at most (a line per ledger; far above any plane's count).
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// Reads the manifest lines at `path` (a missing file has none).
pub(crate) fn read(path: &Path) -> Result<BTreeSet<String>, LedgerError> {
    if !path.exists() {
        return Ok(BTreeSet::new());
    }
    let text = fsx::read_bounded_string(path, MAX_MANIFEST_BYTES).map_err(|e| match e {
        fsx::BoundedReadError::Io(io) => LedgerError::Io(io),
        other => LedgerError::InvalidEntry(format!("ledger manifest: {other}")),
    })?;
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect())
}

/// Appends `key` as one line (one `O_APPEND` write, fsynced when `durability` is `full`).
pub(crate) fn add(path: &Path, key: &str, durability: Durability) -> Result<(), LedgerError> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true).append(true);
    let mut f = fsx::open_with(path, &o)?;
    let io = |e| fsx::FsError::new("append to", path, e);
    f.write_all(format!("{key}\n").as_bytes()).map_err(io)?;
    if durability == Durability::Full {
        f.sync_data().map_err(io)?;
    }
    Ok(())
}

/// A ledger the plane knows it had, whose file is missing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MissingLedger {
    /// Ledger name (`HOT/governance`).
    pub ledger: String,
    /// The file expected (plane-relative when inside the plane).
    pub file: String,
    /// Where the plane knows it from (`the ledger manifest`, `checkpoint HOT/ledger/…`, …).
    pub known_from: String,
}

/// Every ledger the plane of `set` is known to have (see the module docs) whose file is
/// missing, sorted by name. Reads `HOT/governance` only if it exists; creates nothing.
pub fn missing_ledgers(set: &LedgerSet) -> Result<Vec<MissingLedger>, LedgerError> {
    let mut known: BTreeMap<String, String> = BTreeMap::new();
    for key in read(&set.manifest_path())? {
        if let Some(name) = set.name_of_key(&key) {
            known.entry(name.to_string()).or_insert_with(|| "the ledger manifest".to_string());
        }
    }
    let checkpoints = super::checkpoint::latest_under(set.root()).map_err(|e| match e {
        super::checkpoint::CheckpointError::Ledger(l) => l,
        other => LedgerError::InvalidEntry(other.to_string()),
    })?;
    for (origin, (path, _)) in checkpoints {
        let from = format!("checkpoint {}", relative(set.root(), &path));
        known.entry(origin).or_insert(from);
    }
    for (name, from) in recorded_in_governance(set)? {
        known.entry(name).or_insert(from);
    }
    let mut out = Vec::new();
    for (ledger, known_from) in known {
        let Ok(n) = LedgerName::parse(&ledger) else { continue };
        let path = set.path_of(&n);
        if !path.exists() {
            out.push(MissingLedger { ledger, file: relative(set.root(), &path), known_from });
        }
    }
    Ok(out)
}

fn relative(root: &Path, p: &Path) -> String {
    p.strip_prefix(root).map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
}

/// Ledgers named by `CHECKPOINT` entries of `HOT/governance` (origin and `ledgers`).
fn recorded_in_governance(set: &LedgerSet) -> Result<Vec<(String, String)>, LedgerError> {
    let gov = match set.open_existing(LedgerName::GOVERNANCE) {
        Ok(s) => s,
        Err(LedgerError::NotFound(_) | LedgerError::Missing { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let q = LedgerQuery { event_types: vec![event::CHECKPOINT.to_string()], ..Default::default() };
    let mut out = Vec::new();
    for e in gov.query(&q)? {
        let from = format!("{} entry seq {} of {}", event::CHECKPOINT, e.seq, LedgerName::GOVERNANCE);
        if let Some(o) = e.metadata.get("origin").and_then(|v| v.as_str()) {
            out.push((o.to_string(), from.clone()));
        }
        for l in e.metadata.get("ledgers").and_then(|v| v.as_array()).into_iter().flatten() {
            if let Some(l) = l.as_str() {
                out.push((l.to_string(), from.clone()));
            }
        }
    }
    Ok(out)
}

/// The manifest's ledger names (for the `ledgers` of a `CHECKPOINT` entry).
pub(crate) fn listed_names(set: &LedgerSet) -> Result<Vec<String>, LedgerError> {
    let mut v: Vec<String> =
        read(&set.manifest_path())?.iter().filter_map(|k| set.name_of_key(k)).map(|n| n.to_string()).collect();
    v.sort();
    v.dedup();
    Ok(v)
}

/// `HOT/ledger/ledgers.manifest` under the `HOT` ledger directory `hot_ledger_dir`.
pub(crate) fn path_in(hot_ledger_dir: &Path) -> PathBuf {
    hot_ledger_dir.join(MANIFEST_FILE)
}
