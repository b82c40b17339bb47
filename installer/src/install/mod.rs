//! The install transaction, uninstall and recovery.
//!
//! Install: read the archive strictly into `HOT/<staging>/<txn>/files/` → G0A → version and
//! ownership checks → G0B → G1 → G1-COMPLETE → G5 (nothing has moved yet; a refusal logs one
//! `INSTALL_FAILED` and leaves the plane as it was) → journal (fsynced) → `INSTALL_STARTED`
//! (and `POLICY_WAIVED` under `--dev`) → move files in (old ones aside) → append ownership rows
//! → receipt → rebuild derived registries → journal `committed` → `INSTALLED` last. A failure
//! after the journal is rolled back from it; a crash is rolled back (or completed, once
//! committed) by the next install or `recover`.
//! Never does: overwrite a file another package owns (unless `replaces`/direct dependency),
//! wipe the ownership registry, or call `tar::Archive::unpack`.
//!
//! One file per phase: `prepare` (stage + gates), `commit` (journal → move → receipt →
//! `INSTALLED`), `journal` (the on-disk journal and rollback), `recover`, `uninstall`,
//! `resolve` (several packages in dependency order from a store); `error` holds
//! [`InstallError`] and its codes.

mod cleanup;
mod commit;
mod error;
pub(crate) mod journal;
mod prepare;
mod recover;
mod resolve;
mod uninstall;

pub use error::InstallError;
pub use recover::RecoveryAction;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use cp_kernel::{
    Durability, GateReport, InstallConfig, LedgerName, LedgerSet, NewEntry, Plane, Provenance, event, fsx,
};

use journal::{JOURNAL_FILE, Journal, JournalState, exists, roll_back};

/// Options of an install or uninstall.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    /// Waive G5 for unsigned packages and untrusted keys (logged as `POLICY_WAIVED`).
    pub dev: bool,
    /// Allow a lower version over a higher one, or reinstall the same version (logged).
    pub force: bool,
    /// Run every check, change nothing, log nothing.
    pub dry_run: bool,
    /// Manifest digests trusted without a signature (package id → `sha256:…`): the pinned
    /// bootstrap set.
    pub pinned: BTreeMap<String, String>,
    /// Fault injection for tests: fail with [`InstallError::Injected`] at the N-th step after
    /// the journal is written (1-based).
    pub fail_at_step: Option<u32>,
    /// `--cp2-compat`: accept a Control Plane v2 package whose assets lie outside its
    /// framework's `path_authorizations` (G1 `G1_PATH_UNAUTHORIZED`), recording each such path as
    /// a waiver (`POLICY_WAIVED`, policy `cp2.path_authorization`, and in the receipt). Applies
    /// only to packages converted from v2 archives (`cp2_record` set).
    pub cp2_compat: bool,
    /// What the v2 compatibility reader derived for a converted package (layer source,
    /// `external_deps`, merged registry files, …): written under `cp2` in the `INSTALLED` entry.
    pub cp2_record: Option<serde_json::Map<String, Value>>,
}

/// What happened to a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallAction {
    /// Newly installed.
    Installed,
    /// Replaced a lower version.
    Upgraded,
    /// Replaced a higher or equal version under `--force`.
    Forced,
    /// The same version was already installed: nothing done.
    AlreadyInstalled,
    /// Every check passed; nothing was changed (`--dry-run`).
    DryRun,
    /// Removed.
    Uninstalled,
}

/// A file taken over from another package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transfer {
    /// Plane-relative path.
    pub path: String,
    /// Previous owner.
    pub from: String,
}

/// The result of installing or uninstalling one package.
#[derive(Debug, Clone, Serialize)]
pub struct InstallOutcome {
    /// Package.
    pub package_id: String,
    /// Version.
    pub version: String,
    /// What happened.
    pub action: InstallAction,
    /// Files installed or removed.
    pub files: usize,
    /// Why the package was trusted (`signature:<key>`, `pinned`, `policy`, `waived`).
    pub trust: String,
    /// Files taken over from other packages.
    pub transfers: Vec<Transfer>,
    /// The gate reports of the install.
    pub gates: Vec<GateReport>,
}

/// Progress of a multi-package install.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum InstallEvent {
    /// About to install package `index` of `total`.
    Started {
        /// Package.
        package_id: String,
        /// 0-based position.
        index: usize,
        /// Number of packages.
        total: usize,
    },
    /// A package is done.
    Finished {
        /// The outcome.
        outcome: InstallOutcome,
    },
}

/// Installs, uninstalls and recovers packages on one plane.
#[derive(Debug)]
pub struct Installer {
    root: PathBuf,
}

/// Whether installs fsync (the plane's durability: `full` fsyncs every file, directory and
/// registry write; `normal` is safe against process crashes, not power loss).
fn durable(plane: &Plane) -> bool {
    plane.config().durability.unwrap_or(plane.layout().ledger.durability) == Durability::Full
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// `text` cut to at most `max` bytes (at a character boundary), followed by its length and
/// SHA-256 when cut, so that what was refused can still be identified.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} … [truncated: {} bytes, sha256:{}]", &text[..end], text.len(), cp_kernel::sha256_hex(text.as_bytes()))
}

fn gate_fail(package: &str, report: GateReport) -> InstallError {
    InstallError::Gate { package: package.to_string(), report }
}

impl Installer {
    /// An installer for `plane` (re-opened from disk at every operation, so that config and
    /// trust-store changes made by installs are seen).
    pub fn new(plane: &Plane) -> Self {
        Self { root: plane.root().to_path_buf() }
    }

    fn plane(&self) -> Result<Plane, InstallError> {
        Ok(Plane::open(&self.root)?)
    }

    /// The plane for `uninstall` and `recover`: an invalid layout or plane config falls back to
    /// the built-in one (logged; the binaries print the notices), so that the plane can be
    /// repaired.
    fn plane_for_repair(&self) -> Result<Plane, InstallError> {
        let (plane, notices) = crate::repair::open_for_repair(&self.root)?;
        for n in &notices {
            tracing::info!(path = %n.path, problem = %n.problem, repair = %n.repair, "plane document invalid; using {}", n.fallback);
        }
        Ok(plane)
    }

    fn staging_root(plane: &Plane, cfg: &InstallConfig) -> Result<PathBuf, InstallError> {
        Ok(plane.resolve(&format!("HOT/{}", cfg.staging_dir))?)
    }

    fn log(plane: &Plane, entries: Vec<NewEntry>) -> Result<(), InstallError> {
        // The gates' decisions (installed, failed, waived) carry the uniform decision record.
        let gated = [event::INSTALLED, event::INSTALL_FAILED, event::POLICY_WAIVED];
        let entries = entries
            .into_iter()
            .map(|e| {
                if gated.contains(&e.event_type.as_str()) {
                    cp_kernel::policy::stamp(e, cp_kernel::policy::INSTALL_GATES, cp_kernel::policy::OPERATOR_ACTOR)
                } else {
                    e
                }
            })
            .collect();
        LedgerSet::new(plane).open(LedgerName::PACKAGES)?.append_batch(entries)?;
        Ok(())
    }

    fn entry(ev: &str, txn: &str, package: &str, version: &str) -> NewEntry {
        NewEntry::new(ev).submission(txn).meta("version", version).provenance(Provenance {
            package_id: Some(package.to_string()),
            tier: Some("hot".into()),
            ..Provenance::default()
        })
    }

    fn log_failure(plane: &Plane, txn: &str, package: &str, archive: Option<&Path>, e: &InstallError) {
        // Never an unbounded reason in the ledger: a refusal can quote archive input.
        let cap = InstallConfig::for_plane(plane)
            .or_else(|_| InstallConfig::builtin())
            .map_or(usize::MAX, |c| usize::try_from(c.archive.max_header_record_bytes).unwrap_or(usize::MAX));
        let mut en = Self::entry(event::INSTALL_FAILED, txn, package, "")
            .decision("DENY")
            .reason(bounded(&e.to_string(), cap))
            .meta("code", e.code());
        en.metadata.remove("version");
        if let Some(a) = archive {
            en = en.meta("archive", a.display().to_string());
        }
        if let InstallError::Gate { report, .. } = e {
            en = en
                .meta("gate", report.gate.as_str())
                .meta("errors", serde_json::to_value(&report.errors).unwrap_or(Value::Null));
        }
        if let Err(le) = Self::log(plane, vec![en]) {
            tracing::error!(error = %le, package, "could not log INSTALL_FAILED");
        }
    }

    /// Installs one archive. `expected_id` (when given) must be the manifest's id.
    pub fn install_archive(
        &self,
        path: &Path,
        expected_id: Option<&str>,
        opts: &InstallOptions,
    ) -> Result<InstallOutcome, InstallError> {
        tracing::trace!(phase = "begin", "install phase");
        self.recover()?;
        tracing::trace!(phase = "recovered", "install phase");
        let plane = self.plane()?;
        let cfg = InstallConfig::for_plane(&plane)?;
        let txn = uuid::Uuid::now_v7().to_string();
        let staging = Self::staging_root(&plane, &cfg)?;
        let txn_dir = staging.join(&txn);
        fsx::create_dir_all(txn_dir.join("files"))?;
        let label = expected_id.map(str::to_string).unwrap_or_else(|| path.display().to_string());
        let prepared = self.prepare(&plane, &cfg, path, &txn_dir, expected_id, opts);
        let prepared = match prepared {
            Ok(p) => p,
            Err(e) => {
                Self::discard(&staging, &txn_dir);
                if !opts.dry_run {
                    Self::log_failure(&plane, &txn, &label, Some(path), &e);
                }
                return Err(e);
            }
        };
        let trust = prepared.trust.as_receipt();
        let mk = |action, files| InstallOutcome {
            package_id: prepared.manifest.package_id.clone(),
            version: prepared.manifest.version.clone(),
            action,
            files,
            trust: trust.clone(),
            transfers: prepared
                .transfers
                .iter()
                .map(|(p, r)| Transfer { path: p.clone(), from: r.package_id.clone() })
                .collect(),
            gates: prepared.gates.clone(),
        };
        if prepared.action == InstallAction::AlreadyInstalled || opts.dry_run {
            let action = if opts.dry_run { InstallAction::DryRun } else { prepared.action };
            let out = mk(action, prepared.read.files.len());
            Self::discard(&staging, &txn_dir);
            return Ok(out);
        }
        let out = mk(prepared.action, prepared.read.files.len());
        match self.commit(&plane, &txn, &txn_dir, &prepared, opts) {
            Ok(()) => {
                Self::discard(&staging, &txn_dir);
                tracing::trace!(phase = "discarded", "install phase");
                Ok(out)
            }
            Err(e) => {
                if let Ok(Some(j)) = Journal::load(&txn_dir)
                    && j.state == JournalState::Prepared
                {
                    match roll_back(&plane, &txn_dir, &j, durable(&plane)) {
                        Ok(()) => {
                            Self::discard(&staging, &txn_dir);
                            Self::log_failure(&plane, &txn, &prepared.manifest.package_id, Some(path), &e);
                        }
                        Err(re) => tracing::error!(error = %re, "rollback failed; `recover` will retry"),
                    }
                } else if !exists(&txn_dir.join(JOURNAL_FILE)) {
                    Self::discard(&staging, &txn_dir);
                    Self::log_failure(&plane, &txn, &prepared.manifest.package_id, Some(path), &e);
                }
                Err(e)
            }
        }
    }

    fn discard(staging: &Path, txn_dir: &Path) {
        if exists(txn_dir) {
            let _ = fsx::remove_dir_all(txn_dir);
        }
        // Leave no empty staging root behind (the plane tree stays as it was).
        if fsx::read_dir(staging).map(|v| v.is_empty()).unwrap_or(false) {
            let _ = std::fs::remove_dir(staging);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bounded;

    #[test]
    fn bounded_cuts_at_a_character_boundary_and_names_the_whole() {
        assert_eq!(bounded("short", 10), "short");
        let long = "é".repeat(50);
        let b = bounded(&long, 7);
        assert!(b.starts_with("ééé …"), "{b}");
        assert!(b.contains("[truncated: 100 bytes, sha256:"), "{b}");
        assert!(b.ends_with(&format!("{}]", cp_kernel::sha256_hex(long.as_bytes()))), "{b}");
    }
}
