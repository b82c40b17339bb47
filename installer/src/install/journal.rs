//! The install journal: what a transaction is about to change, written (fsynced) into its
//! staging directory before the first file moves, so that an interrupted install or uninstall
//! is rolled back or completed by the next run (`recover`).
//!
//! On disk: `HOT/<staging_dir>/<txn id>/journal.json`, plus `files/` (staged files),
//! `backup/` (files moved aside) and `receipt_backup/` (the previous receipt) beside it.
//! State `prepared` → roll back; `committed` → complete (append the final ledger entry).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::registries::rebuild_registries;
use cp_kernel::fsx::{self, FsError};
use cp_kernel::{Plane, ReceiptError, RegistryKind, receipt_dir, registry_path};

/// Name of the journal file inside a transaction directory.
pub(crate) const JOURNAL_FILE: &str = cp_kernel::INSTALL_JOURNAL_FILE;

/// Journal state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum JournalState {
    /// Files may have moved; roll back on recovery.
    Prepared,
    /// Everything is in place except the final ledger entry; complete on recovery.
    Committed,
}

/// A transaction's journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Journal {
    /// Transaction id (also the ledger entries' `submission_id`).
    pub txn_id: String,
    /// Package.
    pub package_id: String,
    /// Version being installed or removed.
    pub version: String,
    /// State.
    pub state: JournalState,
    /// Plane-relative paths moved in from `files/`.
    pub moves: Vec<String>,
    /// Plane-relative paths moved out into `backup/`.
    pub removals: Vec<String>,
    /// Plane-relative directories that did not exist before the moves (parents first): a
    /// rollback removes them again when they are empty, so the plane is exactly as it was.
    #[serde(default)]
    pub created_dirs: Vec<String>,
    /// Length of `file_ownership.csv` before the transaction.
    pub ownership_len_before: u64,
    /// Whether `file_ownership.csv` existed before.
    pub ownership_existed: bool,
    /// Whether the package had a receipt before.
    pub had_receipt: bool,
    /// The final ledger entry: event type.
    pub final_event: String,
    /// The final ledger entry: reason.
    pub final_reason: String,
    /// The final ledger entry: metadata.
    pub final_metadata: Map<String, Value>,
}

impl Journal {
    /// Writes the journal atomically and durably into `txn_dir`.
    pub(crate) fn save(&self, txn_dir: &Path, sync: bool) -> Result<(), FsError> {
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| FsError::new("encode", txn_dir.join(JOURNAL_FILE), e.into()))?;
        write_replace(&txn_dir.join(JOURNAL_FILE), &text, sync)
    }

    /// Reads the journal of `txn_dir`, `None` when there is none.
    pub(crate) fn load(txn_dir: &Path) -> Result<Option<Self>, FsError> {
        let p = txn_dir.join(JOURNAL_FILE);
        if !p.is_file() {
            return Ok(None);
        }
        let bytes = fsx::read(&p)?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| FsError::new("decode", p, std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
    }
}

/// The ancestors of the plane-relative `paths` that do not exist under `root` yet, parents
/// first, each once.
pub(crate) fn missing_dirs<'a>(root: &Path, paths: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in paths {
        let parts: Vec<&str> = p.split('/').collect();
        for n in 1..parts.len() {
            let d = parts[..n].join("/");
            if !exists(&root.join(&d)) && !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out.sort_by_key(|d| d.matches('/').count());
    out
}

pub(crate) fn exists(p: &Path) -> bool {
    fsx::symlink_metadata(p).is_ok()
}

/// Renames `from` to `to` (creating parents); with `sync` the target directory is fsynced.
pub(crate) fn move_file(from: &Path, to: &Path, sync: bool) -> Result<(), FsError> {
    if let Some(d) = to.parent() {
        fsx::create_dir_all(d)?;
    }
    fsx::rename(from, to)?;
    if sync && let Some(d) = to.parent() {
        fsx::sync_dir(d)?;
    }
    Ok(())
}

/// Replaces `path` atomically (temporary sibling + rename); with `sync` the data and the
/// directory are fsynced (durability `full`), else only process-crash safe (`normal`).
pub(crate) fn write_replace(path: &Path, data: &[u8], sync: bool) -> Result<(), FsError> {
    if sync {
        return fsx::write_atomic(path, data);
    }
    let parent = cp_kernel::fsx::parent_dir(path);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    fsx::write(&tmp, data)?;
    fsx::rename(&tmp, path)
}

/// Appends `data` to `path` (created if missing); with `sync` the data is fsynced.
pub(crate) fn append_bytes(path: &Path, data: &[u8], sync: bool) -> Result<(), FsError> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.create(true).append(true);
    let mut f = fsx::open_with(path, &o)?;
    f.write_all(data).map_err(|e| FsError::new("append to", path, e))?;
    if sync {
        f.sync_data().map_err(|e| FsError::new("sync", path, e))?;
    }
    Ok(())
}

/// Undoes whatever part of `j` happened (idempotent): files moved in are removed, files moved
/// aside are put back, ownership rows appended are cut off, the receipt is restored, and the
/// derived registries are rebuilt.
pub(crate) fn roll_back(plane: &Plane, txn_dir: &Path, j: &Journal, sync: bool) -> Result<(), RollbackError> {
    let root = plane.root();
    for p in j.moves.iter().rev() {
        let staged = txn_dir.join("files").join(p);
        let target = root.join(p);
        let backup = txn_dir.join("backup").join(p);
        if !exists(&staged) && exists(&target) {
            // Moved in: take it out again, keeping the bytes in the staging area.
            move_file(&target, &staged, sync)?;
        }
        if exists(&backup) {
            move_file(&backup, &target, sync)?;
        }
    }
    for d in j.created_dirs.iter().rev() {
        let dir = root.join(d);
        if dir.is_dir() && fsx::read_dir(&dir)?.is_empty() {
            std::fs::remove_dir(&dir).map_err(|e| FsError::new("remove directory", &dir, e))?;
        }
    }
    for p in &j.removals {
        let backup = txn_dir.join("backup").join(p);
        if exists(&backup) {
            move_file(&backup, &root.join(p), sync)?;
        }
    }
    let own = registry_path(plane, RegistryKind::FileOwnership);
    if exists(&own) {
        if !j.ownership_existed {
            fsx::remove_file(&own)?;
        } else if fsx::metadata(&own)?.len() > j.ownership_len_before {
            let mut o = std::fs::OpenOptions::new();
            o.write(true);
            let f = fsx::open_with(&own, &o)?;
            f.set_len(j.ownership_len_before).map_err(|e| FsError::new("truncate", &own, e))?;
            if sync {
                f.sync_all().map_err(|e| FsError::new("sync", &own, e))?;
            }
        }
    }
    let rdir = receipt_dir(plane, &j.package_id);
    let rbackup = txn_dir.join("receipt_backup");
    if j.had_receipt {
        if exists(&rbackup) {
            if exists(&rdir) {
                fsx::remove_dir_all(&rdir)?;
            }
            move_file(&rbackup, &rdir, sync)?;
        }
    } else if exists(&rdir) {
        fsx::remove_dir_all(&rdir)?;
    }
    rebuild_registries(plane, sync)?;
    Ok(())
}

/// Errors of a rollback.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RollbackError {
    /// File error.
    #[error(transparent)]
    Io(#[from] FsError),
    /// Registries could not be rebuilt.
    #[error(transparent)]
    Registries(#[from] ReceiptError),
}

/// Transaction directories under the staging root (sorted, oldest txn id first).
pub(crate) fn pending_transactions(staging_root: &Path) -> Result<Vec<PathBuf>, FsError> {
    if !staging_root.is_dir() {
        return Ok(Vec::new());
    }
    Ok(fsx::read_dir(staging_root)?
        .into_iter()
        .filter(|e| !e.file_name().to_string_lossy().starts_with(super::cleanup::PACK_DIR_PREFIX))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect())
}
