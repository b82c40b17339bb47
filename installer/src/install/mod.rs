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

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::archive::{ArchiveError, ReadArchive, read_archive_with};
use super::config::{InstallConfig, PendingFrameworkPolicy};
use super::fwview::{self, load_view};
use super::journal::{
    Journal, JournalState, RollbackError, exists, move_file, pending_transactions, roll_back, write_replace,
};
use super::manifest::Manifest;
use super::pack::{PackError, pack_all};
use super::receipt::{
    Receipt, ReceiptError, ReceiptFile, current_owners, load_receipts, rebuild_registries, receipt_dir, registry_path,
};
use super::sign::{SignError, read_signature};
use super::store::{StoreEntry, StoreError, index_store};
use crate::framework::{GenesisCheck, GovernancePolicy};
use crate::fsx::{self, FsError};
use crate::gates::g5_signature::Trust;
use crate::gates::{
    GateError, GateId, GateIssue, GateReport, g0a_declaration, g0b_ownership, g1_chain, g1_complete, g5_signature,
};
use crate::hashing;
use crate::ledger::{LedgerError, LedgerName, LedgerQuery, LedgerSet, NewEntry, Order, Provenance, event};
use crate::plane::{Plane, PlaneError};
use crate::registry::{OwnershipRow, RegistryError, RegistryKind};
use crate::schema::DocumentError;

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

/// Why an install, uninstall or recovery failed. [`InstallError::code`] is the stable code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The strict reader refused the archive.
    #[error("archive {}: {source}", archive.display())]
    Archive {
        /// The archive.
        archive: PathBuf,
        /// Why.
        #[source]
        source: ArchiveError,
    },
    /// A gate failed.
    #[error("{package}: gate {} failed: {}", report.gate, report.errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Gate {
        /// Package (or archive when the manifest was unreadable).
        package: String,
        /// The failing report.
        report: GateReport,
    },
    /// A file belongs to another package.
    #[error("{package}: {path} is owned by {owner} (list it in replaces or as a direct dependency)")]
    OwnershipConflict {
        /// Installing package.
        package: String,
        /// The file.
        path: String,
        /// Its owner.
        owner: String,
    },
    /// A lower version over a higher one.
    #[error("{package}: {requested} is lower than the installed {installed} (use --force)")]
    DowngradeRefused {
        /// Package.
        package: String,
        /// Installed version.
        installed: String,
        /// Requested version.
        requested: String,
    },
    /// Other installed packages depend on the one to uninstall.
    #[error("{package} is required by {}", dependents.join(", "))]
    DependentInstalled {
        /// Package.
        package: String,
        /// Its installed dependents.
        dependents: Vec<String>,
    },
    /// A dependency is neither installed nor in the store.
    #[error("{package} depends on {missing}, which is neither installed nor in the store")]
    DependencyMissing {
        /// Package.
        package: String,
        /// The missing dependency.
        missing: String,
    },
    /// Dependencies form a cycle.
    #[error("dependency cycle: {}", cycle.join(" -> "))]
    DependencyCycle {
        /// The packages of the cycle, first repeated at the end.
        cycle: Vec<String>,
    },
    /// The package is not installed.
    #[error("{package} is not installed")]
    NotInstalled {
        /// Package.
        package: String,
    },
    /// The package is not in the store.
    #[error("{package} is not in the store {}", store.display())]
    NotInStore {
        /// Package.
        package: String,
        /// The store.
        store: PathBuf,
    },
    /// Fault injection (tests).
    #[error("injected failure at step {step}")]
    Injected {
        /// The step.
        step: u32,
    },
    /// File error.
    #[error(transparent)]
    Io(#[from] FsError),
    /// Ledger error.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Receipts or registries.
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    /// Registry file.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Config or schema.
    #[error(transparent)]
    Config(#[from] DocumentError),
    /// Plane.
    #[error(transparent)]
    Plane(#[from] PlaneError),
    /// A gate could not reach a verdict.
    #[error(transparent)]
    GateIo(#[from] GateError),
    /// Store indexing.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Packing sources.
    #[error(transparent)]
    Pack(#[from] PackError),
    /// Signature file.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// Rollback.
    #[error(transparent)]
    Rollback(#[from] RollbackError),
    /// The governance policy (`HOT/config/governance_policy.yaml`) could not be read.
    #[error("governance policy: {0}")]
    Governance(#[from] crate::framework::FrameworkError),
}

impl InstallError {
    /// The stable code (`ARCHIVE_LINK`, `G0A_UNDECLARED`, `OWNERSHIP_CONFLICT`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Archive { source, .. } => source.code(),
            Self::Gate { report, .. } => report.errors.first().map_or("GATE_FAILED", |e| static_code(&e.code)),
            Self::OwnershipConflict { .. } => "OWNERSHIP_CONFLICT",
            Self::DowngradeRefused { .. } => "DOWNGRADE_REFUSED",
            Self::DependentInstalled { .. } => "DEPENDENT_INSTALLED",
            Self::DependencyMissing { .. } => "G1_DEPENDENCY_MISSING",
            Self::DependencyCycle { .. } => "G1_DEPENDENCY_CYCLE",
            Self::NotInstalled { .. } => "NOT_INSTALLED",
            Self::NotInStore { .. } => "PACKAGE_NOT_FOUND",
            Self::Injected { .. } => "FAULT_INJECTED",
            Self::Io(_) => "IO",
            Self::Ledger(_) => "LEDGER",
            Self::Receipt(_) | Self::Registry(_) => "REGISTRY",
            Self::Config(_) => "CONFIG",
            Self::Plane(_) => "PLANE",
            Self::GateIo(_) => "GATE_IO",
            Self::Store(_) => "STORE",
            Self::Pack(_) => "PACK",
            Self::Sign(_) => "SIGNATURE_FILE",
            Self::Rollback(_) => "ROLLBACK",
            Self::Governance(_) => "GOVERNANCE_POLICY",
        }
    }

    /// Whether this is a verified refusal (as opposed to an I/O or internal failure).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::Archive { .. }
                | Self::Gate { .. }
                | Self::OwnershipConflict { .. }
                | Self::DowngradeRefused { .. }
                | Self::DependentInstalled { .. }
                | Self::DependencyMissing { .. }
                | Self::DependencyCycle { .. }
        )
    }
}

/// Every gate code, so that [`InstallError::code`] can return `&'static str`.
pub const GATE_CODES: &[&str] = &[
    "G0A_MANIFEST_MISSING",
    "G0A_MANIFEST_JSON",
    "G0A_MANIFEST_INVALID",
    "G0A_ID_MISMATCH",
    "G0A_UNDECLARED",
    "G0A_MISSING_ASSET",
    "G0A_HASH_MISMATCH",
    "G0A_BAD_HASH_FORMAT",
    "G0A_UNSAFE_PATH",
    "G0B_ORPHAN",
    "G0B_MISSING",
    "G0B_HASH_MISMATCH",
    "G1_SPEC_MISSING",
    "G1_FRAMEWORK_MISSING",
    "G1_FRAMEWORK_MISMATCH",
    "G1_DEPENDENCY_MISSING",
    "G1_DEPENDENCY_CYCLE",
    "G1_PATH_UNAUTHORIZED",
    "G1C_SPEC_MISSING",
    "G1C_SPEC_MISMATCH",
    "G5_UNSIGNED",
    "G5_UNTRUSTED_KEY",
    "G5_BAD_SIGNATURE",
    "G6_CHAIN_BROKEN",
    "G6_CHECKPOINT_MISMATCH",
];

fn static_code(c: &str) -> &'static str {
    GATE_CODES.iter().find(|k| **k == c).copied().unwrap_or("GATE_FAILED")
}

/// Installs, uninstalls and recovers packages on one plane.
#[derive(Debug)]
pub struct Installer {
    root: PathBuf,
}

struct Prepared {
    manifest: Manifest,
    manifest_bytes: Vec<u8>,
    manifest_sha256: String,
    archive_sha256: String,
    read: ReadArchive,
    trust: Trust,
    transfers: Vec<(String, OwnershipRow)>,
    removals: Vec<(String, OwnershipRow)>,
    previous: Option<Receipt>,
    action: InstallAction,
    gates: Vec<GateReport>,
}

/// Whether installs fsync (the plane's durability: `full` fsyncs every file, directory and
/// registry write; `normal` is safe against process crashes, not power loss).
fn durable(plane: &Plane) -> bool {
    plane.config().durability.unwrap_or(plane.layout().ledger.durability) == crate::plane::Durability::Full
}

fn now() -> String {
    jiff::Timestamp::now().to_string()
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

    fn staging_root(plane: &Plane, cfg: &InstallConfig) -> Result<PathBuf, InstallError> {
        Ok(plane.resolve(&format!("HOT/{}", cfg.staging_dir))?)
    }

    fn log(plane: &Plane, entries: Vec<NewEntry>) -> Result<(), InstallError> {
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
        let mut en = Self::entry(event::INSTALL_FAILED, txn, package, "")
            .decision("DENY")
            .reason(e.to_string())
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
                } else if !exists(&txn_dir.join(super::journal::JOURNAL_FILE)) {
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

    fn prepare(
        &self,
        plane: &Plane,
        cfg: &InstallConfig,
        path: &Path,
        txn_dir: &Path,
        expected_id: Option<&str>,
        opts: &InstallOptions,
    ) -> Result<Prepared, InstallError> {
        let read = read_archive_with(path, &cfg.archive, Some(&txn_dir.join("files")), durable(plane))
            .map_err(|source| InstallError::Archive { archive: path.to_path_buf(), source })?;
        tracing::trace!(phase = "staged", "install phase");
        let schemas = super::config::plane_schemas(plane).ok();
        let (manifest, g0a) = g0a_declaration::check_archive(&read, expected_id, schemas.as_deref());
        let label = expected_id.unwrap_or("(archive)");
        let Some(m) = manifest.filter(|_| g0a.passed()) else {
            return Err(gate_fail(label, g0a));
        };
        let id = m.package_id.clone();
        let manifest_bytes = read.manifest_bytes.clone().unwrap_or_default();
        let manifest_sha256 = hashing::sha256_prefixed(&manifest_bytes);
        let archive_sha256 = hashing::sha256_prefixed(&fsx::read(path)?);
        let mut gates = vec![g0a];
        // The gates this layer runs and the genesis rules come from the governance policy (the
        // plane's, else the compiled-in default). G0A always runs: it yields the manifest whose
        // layer selects the rest.
        let policy = match schemas.as_deref() {
            Some(s) => GovernancePolicy::for_plane(plane, s)?,
            None => GovernancePolicy::for_plane(
                plane,
                &crate::schema::SchemaSet::embedded().map_err(crate::framework::FrameworkError::from)?,
            )?,
        };
        let runs = |g: GateId| policy.install_gates_for(m.layer).contains(&g);

        tracing::trace!(phase = "g0a", "install phase");
        // Version policy.
        let receipts = load_receipts(plane)?;
        let previous = receipts.get(&id).cloned();
        let action = match &previous {
            None => InstallAction::Installed,
            Some(r) => {
                let have = super::manifest::Version::parse(&r.version);
                match have.as_ref().map(|h| m.semver().cmp(h)) {
                    Some(std::cmp::Ordering::Greater) => InstallAction::Upgraded,
                    _ if opts.force => InstallAction::Forced,
                    Some(std::cmp::Ordering::Equal) => InstallAction::AlreadyInstalled,
                    _ => {
                        return Err(InstallError::DowngradeRefused {
                            package: id,
                            installed: r.version.clone(),
                            requested: m.version.clone(),
                        });
                    }
                }
            }
        };
        if action == InstallAction::AlreadyInstalled {
            return Ok(Prepared {
                manifest: m,
                manifest_bytes,
                manifest_sha256,
                archive_sha256,
                read,
                trust: Trust::Policy,
                transfers: Vec::new(),
                removals: Vec::new(),
                previous,
                action,
                gates,
            });
        }

        // Ownership.
        let owners = current_owners(plane)?;
        let allowed: BTreeSet<String> =
            m.replaces.iter().cloned().chain(m.deps().into_iter().map(|d| d.package_id)).collect();
        let mut transfers = Vec::new();
        for a in &m.assets {
            let p = a.path.trim_start_matches("./").to_string();
            match owners.get(&p) {
                Some(row) if row.package_id == id => {}
                Some(row) if allowed.contains(&row.package_id) => transfers.push((p, row.clone())),
                Some(row) => {
                    return Err(InstallError::OwnershipConflict {
                        package: id,
                        path: p,
                        owner: row.package_id.clone(),
                    });
                }
                None => {
                    if exists(&plane.resolve(&p)?) {
                        return Err(InstallError::OwnershipConflict {
                            package: id,
                            path: p,
                            owner: "(unowned file)".into(),
                        });
                    }
                }
            }
        }
        let new_paths: BTreeSet<String> =
            m.assets.iter().map(|a| a.path.trim_start_matches("./").to_string()).collect();
        let removals: Vec<(String, OwnershipRow)> = owners
            .iter()
            .filter(|(p, r)| r.package_id == id && !new_paths.contains(*p))
            .map(|(p, r)| (p.clone(), r.clone()))
            .collect();

        tracing::trace!(phase = "ownership", "install phase");
        // G0B: the plane is clean before anything moves.
        if runs(GateId::G0b) {
            let (owned, issues) = g0b_ownership::check_plane(plane, &owners)?;
            let g0b = GateReport::new(GateId::G0b, format!("{owned} files owned"), issues);
            if !g0b.passed() {
                return Err(gate_fail(&id, g0b));
            }
            gates.push(g0b);
        }

        tracing::trace!(phase = "g0b", "install phase");
        // G1 with the package's own framework and spec manifests overlaid.
        let staged_root = txn_dir.join("files");
        let overlay: Vec<(String, PathBuf)> = read
            .files
            .keys()
            .filter(|p| policy.self_registration && (fwview::is_framework_manifest(p) || fwview::is_spec_manifest(p)))
            .map(|p| (p.clone(), staged_root.join(p)))
            .collect();
        let view = load_view(plane, &overlay)?;
        // Frameworks registered on the plane itself (not only shipped by this package).
        let registered =
            view.frameworks.values().filter(|f| plane.resolve(&f.manifest_path).is_ok_and(|p| p.is_file())).count();
        let exempt = |c: GenesisCheck| policy.is_exempt(m.layer, registered, c);
        let exempt_code = |code: &str| match code {
            "G1_FRAMEWORK_MISSING" => exempt(GenesisCheck::FrameworkRegistered),
            "G1_SPEC_MISSING" => exempt(GenesisCheck::SpecRegistered),
            "G1_PATH_UNAUTHORIZED" => exempt(GenesisCheck::PathAuthorized),
            _ => false,
        };
        let pinned = opts.pinned.get(&id) == Some(&manifest_sha256);
        let may_defer = pinned && cfg.pending_framework_policy == PendingFrameworkPolicy::DeferPinned;
        let installed: BTreeMap<String, String> = receipts
            .values()
            .filter(|r| r.package_id != id)
            .map(|r| (r.package_id.clone(), r.version.clone()))
            .collect();
        if runs(GateId::G1) {
            let mut issues = g1_chain::check_package(&m, &view, &installed, may_defer)?;
            issues.retain(|i| !exempt_code(&i.code));
            let g1 = GateReport::new(GateId::G1, format!("{} assets authorized", m.assets.len()), issues);
            if !g1.passed() {
                return Err(gate_fail(&id, g1));
            }
            gates.push(g1);
        }
        let shipped: Vec<String> = view
            .frameworks
            .values()
            .filter(|f| read.files.contains_key(&f.manifest_path))
            .map(|f| f.framework_id.clone())
            .collect();
        if runs(GateId::G1Complete) && !exempt(GenesisCheck::ExpectedSpecs) {
            let g1c = GateReport::new(
                GateId::G1Complete,
                format!("{} frameworks shipped", shipped.len()),
                g1_complete::check_frameworks(&view, Some(&shipped)),
            );
            if !g1c.passed() {
                return Err(gate_fail(&id, g1c));
            }
            gates.push(g1c);
        }

        tracing::trace!(phase = "g1", "install phase");
        // G5.
        let trust = if runs(GateId::G5) {
            let sig = read_signature(path)?;
            let trust =
                match g5_signature::check_signature(&manifest_sha256, sig.as_ref(), plane.config(), pinned, opts.dev) {
                    Ok(t) => t,
                    Err(issue) => {
                        let issue: GateIssue = issue.pkg(&id);
                        return Err(gate_fail(&id, GateReport::new(GateId::G5, "signature refused", vec![issue])));
                    }
                };
            gates.push(GateReport::new(GateId::G5, format!("trusted: {}", trust.as_receipt()), Vec::new()));
            trust
        } else {
            // The policy does not ask for a signature at this layer.
            Trust::Policy
        };
        Ok(Prepared {
            manifest: m,
            manifest_bytes,
            manifest_sha256,
            archive_sha256,
            read,
            trust,
            transfers,
            removals,
            previous,
            action,
            gates,
        })
    }

    fn commit(
        &self,
        plane: &Plane,
        txn: &str,
        txn_dir: &Path,
        p: &Prepared,
        opts: &InstallOptions,
    ) -> Result<(), InstallError> {
        let m = &p.manifest;
        let id = &m.package_id;
        let sync = durable(plane);
        let mut step = 0u32;
        let mut tick = |name: &str| -> Result<(), InstallError> {
            step += 1;
            tracing::trace!(step, name, package = %id, "install step");
            if opts.fail_at_step == Some(step) {
                return Err(InstallError::Injected { step });
            }
            Ok(())
        };
        let own = registry_path(plane, RegistryKind::FileOwnership);
        let ownership_existed = exists(&own);
        let mut final_metadata = Map::new();
        final_metadata.insert("version".into(), json!(m.version));
        final_metadata.insert("layer".into(), json!(m.layer));
        final_metadata.insert("manifest_sha256".into(), json!(p.manifest_sha256));
        final_metadata.insert("archive_sha256".into(), json!(p.archive_sha256));
        final_metadata.insert("trust".into(), json!(p.trust.as_receipt()));
        final_metadata.insert("action".into(), serde_json::to_value(p.action).unwrap_or(Value::Null));
        final_metadata.insert("files".into(), json!(p.read.files.len()));
        if !p.transfers.is_empty() {
            final_metadata.insert(
                "transfers".into(),
                json!(
                    p.transfers.iter().map(|(path, r)| json!({"path": path, "from": r.package_id})).collect::<Vec<_>>()
                ),
            );
        }
        let mut journal = Journal {
            txn_id: txn.to_string(),
            package_id: id.clone(),
            version: m.version.clone(),
            state: JournalState::Prepared,
            moves: m.assets.iter().map(|a| a.path.trim_start_matches("./").to_string()).collect(),
            removals: p.removals.iter().map(|(x, _)| x.clone()).collect(),
            created_dirs: super::journal::missing_dirs(
                plane.root(),
                m.assets.iter().map(|a| a.path.trim_start_matches("./")),
            ),
            ownership_len_before: if ownership_existed { fsx::metadata(&own)?.len() } else { 0 },
            ownership_existed,
            had_receipt: p.previous.is_some(),
            final_event: event::INSTALLED.to_string(),
            final_reason: format!("{id} {} installed", m.version),
            final_metadata,
        };
        journal.save(txn_dir, sync)?;
        tick("journal")?;
        let mut start = Vec::new();
        if let Trust::Waived(code) = &p.trust {
            start.push(
                Self::entry(event::POLICY_WAIVED, txn, id, &m.version)
                    .decision("WAIVED")
                    .reason(format!("--dev waived {code}"))
                    .meta("gate", "G5")
                    .meta("code", code.as_str()),
            );
        }
        let mut started = Self::entry(event::INSTALL_STARTED, txn, id, &m.version)
            .meta("action", serde_json::to_value(p.action).unwrap_or(Value::Null));
        if p.action == InstallAction::Forced {
            started = started
                .reason(format!("--force over installed {}", p.previous.as_ref().map_or("", |r| r.version.as_str())));
        }
        start.push(started);
        Self::log(plane, start)?;
        tick("install_started")?;

        let root = plane.root();
        for (path, _) in &p.removals {
            move_file(&root.join(path), &txn_dir.join("backup").join(path), sync)?;
        }
        for path in &journal.moves {
            let target = plane.resolve(path)?;
            if exists(&target) {
                move_file(&target, &txn_dir.join("backup").join(path), sync)?;
            }
            move_file(&txn_dir.join("files").join(path), &target, sync)?;
            tick("move")?;
        }

        let date = now();
        let class: BTreeMap<&str, &str> =
            m.assets.iter().map(|a| (a.path.trim_start_matches("./"), a.classification.as_str())).collect();
        let mut rows = Vec::new();
        for (path, old) in &p.transfers {
            rows.push(OwnershipRow { replaced_date: date.clone(), superseded_by: id.clone(), ..old.clone() });
            let _ = path;
        }
        for (_, old) in &p.removals {
            rows.push(OwnershipRow { replaced_date: date.clone(), superseded_by: "-".into(), ..old.clone() });
        }
        let mut files = Vec::new();
        for path in &journal.moves {
            let f = &p.read.files[path];
            let c = class.get(path.as_str()).copied().unwrap_or_default().to_string();
            rows.push(OwnershipRow {
                file_path: path.clone(),
                package_id: id.clone(),
                sha256: f.sha256.clone(),
                classification: c.clone(),
                installed_date: date.clone(),
                replaced_date: String::new(),
                superseded_by: String::new(),
            });
            files.push(ReceiptFile { path: path.clone(), sha256: f.sha256.clone(), classification: c });
        }
        super::receipt::append_ownership(plane, &rows, sync)?;
        tick("ownership")?;

        let rdir = receipt_dir(plane, id);
        if p.previous.is_some() && exists(&rdir) {
            move_file(&rdir, &txn_dir.join("receipt_backup"), sync)?;
        }
        fsx::create_dir_all(&rdir)?;
        let receipt = Receipt {
            package_id: id.clone(),
            version: m.version.clone(),
            layer: m.layer,
            framework_id: m.framework_id.clone(),
            spec_id: m.spec_id.clone(),
            dependencies: m.dependencies.clone(),
            manifest_sha256: p.manifest_sha256.clone(),
            archive_sha256: p.archive_sha256.clone(),
            installed_date: date,
            trust: p.trust.as_receipt(),
            files,
        };
        write_replace(&rdir.join("manifest.json"), &p.manifest_bytes, sync)?;
        let rtext = serde_json::to_vec_pretty(&receipt)
            .map_err(|e| FsError::new("encode", rdir.join("receipt.json"), e.into()))?;
        write_replace(&rdir.join("receipt.json"), &rtext, sync)?;
        tick("receipt")?;

        rebuild_registries(plane, sync)?;
        tick("registries")?;

        journal.state = JournalState::Committed;
        journal.save(txn_dir, sync)?;
        tick("committed")?;
        Self::finish(plane, &journal)?;
        tracing::trace!(phase = "installed_logged", "install phase");
        Ok(())
    }

    fn finish(plane: &Plane, j: &Journal) -> Result<(), InstallError> {
        let mut e = Self::entry(&j.final_event, &j.txn_id, &j.package_id, &j.version)
            .decision("ALLOW")
            .reason(j.final_reason.clone());
        e.metadata = j.final_metadata.clone();
        Self::log(plane, vec![e])
    }

    /// Rolls back or completes every interrupted transaction of the plane. Returns one line
    /// per transaction handled.
    pub fn recover(&self) -> Result<Vec<RecoveryAction>, InstallError> {
        let plane = self.plane()?;
        let cfg = InstallConfig::for_plane(&plane)?;
        let staging = Self::staging_root(&plane, &cfg)?;
        let mut out = Vec::new();
        super::journal::remove_stale_temporaries(&plane)?;
        for dir in pending_transactions(&staging)? {
            let txn = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let Some(j) = Journal::load(&dir)? else {
                // Nothing moved before the journal: the staged bytes are simply dropped.
                fsx::remove_dir_all(&dir)?;
                out.push(RecoveryAction { txn_id: txn, package_id: String::new(), action: "discarded".into() });
                continue;
            };
            let action = match j.state {
                JournalState::Prepared => {
                    roll_back(&plane, &dir, &j, durable(&plane))?;
                    let mut e = Self::entry(event::INSTALL_RECOVERED, &j.txn_id, &j.package_id, &j.version)
                        .reason("interrupted transaction rolled back")
                        .meta("action", "rolled_back")
                        .meta("interrupted", j.final_event.as_str());
                    e.decision = Some("ROLLBACK".into());
                    let failed = Self::entry(event::INSTALL_FAILED, &j.txn_id, &j.package_id, &j.version)
                        .decision("DENY")
                        .reason("interrupted; rolled back")
                        .meta("code", "INSTALL_INTERRUPTED");
                    Self::log(&plane, vec![e, failed])?;
                    "rolled_back"
                }
                JournalState::Committed => {
                    if !Self::final_logged(&plane, &j)? {
                        Self::log(
                            &plane,
                            vec![
                                Self::entry(event::INSTALL_RECOVERED, &j.txn_id, &j.package_id, &j.version)
                                    .decision("COMPLETE")
                                    .reason("interrupted transaction completed")
                                    .meta("action", "completed"),
                            ],
                        )?;
                        Self::finish(&plane, &j)?;
                    }
                    "completed"
                }
            };
            fsx::remove_dir_all(&dir)?;
            out.push(RecoveryAction { txn_id: txn, package_id: j.package_id.clone(), action: action.into() });
        }
        Self::discard(&staging, &staging.join("-"));
        Ok(out)
    }

    fn final_logged(plane: &Plane, j: &Journal) -> Result<bool, InstallError> {
        let q = LedgerQuery {
            event_types: vec![j.final_event.clone()],
            provenance: Provenance { package_id: Some(j.package_id.clone()), ..Provenance::default() },
            order: Order::Desc,
            limit: Some(4),
            ..LedgerQuery::default()
        };
        let store = LedgerSet::new(plane).open(LedgerName::PACKAGES)?;
        Ok(store.query(&q)?.iter().any(|e| e.submission_id.as_deref() == Some(j.txn_id.as_str())))
    }

    /// Uninstalls a package: removes the files it still owns, records the removal in the
    /// ownership registry, removes its receipt, rebuilds the derived registries, logs
    /// `UNINSTALLED`. Refused while another installed package depends on it.
    pub fn uninstall(&self, package_id: &str, opts: &InstallOptions) -> Result<InstallOutcome, InstallError> {
        self.recover()?;
        let plane = self.plane()?;
        let txn = uuid::Uuid::now_v7().to_string();
        let r = self.uninstall_inner(&plane, &txn, package_id, opts);
        if let Err(e) = &r
            && !opts.dry_run
        {
            Self::log_failure(&plane, &txn, package_id, None, e);
        }
        r
    }

    fn uninstall_inner(
        &self,
        plane: &Plane,
        txn: &str,
        package_id: &str,
        opts: &InstallOptions,
    ) -> Result<InstallOutcome, InstallError> {
        let cfg = InstallConfig::for_plane(plane)?;
        let receipts = load_receipts(plane)?;
        let Some(receipt) = receipts.get(package_id).cloned() else {
            return Err(InstallError::NotInstalled { package: package_id.to_string() });
        };
        let dependents: Vec<String> = receipts
            .values()
            .filter(|r| r.package_id != package_id)
            .filter(|r| {
                r.dependencies
                    .iter()
                    .filter_map(|d| super::manifest::Dependency::parse(d))
                    .any(|d| d.package_id == package_id)
            })
            .map(|r| r.package_id.clone())
            .collect();
        if !dependents.is_empty() {
            return Err(InstallError::DependentInstalled { package: package_id.to_string(), dependents });
        }
        let owners = current_owners(plane)?;
        let removals: Vec<(String, OwnershipRow)> =
            owners.iter().filter(|(_, r)| r.package_id == package_id).map(|(p, r)| (p.clone(), r.clone())).collect();
        let outcome = InstallOutcome {
            package_id: package_id.to_string(),
            version: receipt.version.clone(),
            action: if opts.dry_run { InstallAction::DryRun } else { InstallAction::Uninstalled },
            files: removals.len(),
            trust: receipt.trust.clone(),
            transfers: Vec::new(),
            gates: Vec::new(),
        };
        if opts.dry_run {
            return Ok(outcome);
        }
        let staging = Self::staging_root(plane, &cfg)?;
        let txn_dir = staging.join(txn);
        fsx::create_dir_all(&txn_dir)?;
        let sync = durable(plane);
        let own = registry_path(plane, RegistryKind::FileOwnership);
        let ownership_existed = exists(&own);
        let mut meta = Map::new();
        meta.insert("version".into(), json!(receipt.version));
        meta.insert("files".into(), json!(removals.len()));
        let journal = Journal {
            txn_id: txn.to_string(),
            package_id: package_id.to_string(),
            version: receipt.version.clone(),
            state: JournalState::Prepared,
            moves: Vec::new(),
            removals: removals.iter().map(|(p, _)| p.clone()).collect(),
            created_dirs: Vec::new(),
            ownership_len_before: if ownership_existed { fsx::metadata(&own)?.len() } else { 0 },
            ownership_existed,
            had_receipt: true,
            final_event: event::UNINSTALLED.to_string(),
            final_reason: format!("{package_id} {} uninstalled", receipt.version),
            final_metadata: meta,
        };
        journal.save(&txn_dir, sync)?;
        let run = || -> Result<(), InstallError> {
            for (p, _) in &removals {
                let src = plane.root().join(p);
                if exists(&src) {
                    move_file(&src, &txn_dir.join("backup").join(p), sync)?;
                }
            }
            let date = now();
            let rows: Vec<OwnershipRow> = removals
                .iter()
                .map(|(_, r)| OwnershipRow { replaced_date: date.clone(), superseded_by: "-".into(), ..r.clone() })
                .collect();
            super::receipt::append_ownership(plane, &rows, sync)?;
            move_file(&receipt_dir(plane, package_id), &txn_dir.join("receipt_backup"), sync)?;
            rebuild_registries(plane, sync)?;
            let mut j = journal.clone();
            j.state = JournalState::Committed;
            j.save(&txn_dir, sync)?;
            Self::finish(plane, &j)
        };
        match run() {
            Ok(()) => {
                Self::discard(&staging, &txn_dir);
                Ok(outcome)
            }
            Err(e) => {
                if let Ok(Some(j)) = Journal::load(&txn_dir)
                    && j.state == JournalState::Prepared
                    && roll_back(plane, &txn_dir, &j, sync).is_ok()
                {
                    Self::discard(&staging, &txn_dir);
                }
                Err(e)
            }
        }
    }

    /// Installs `ids` and everything they depend on from the archives in `store`, in
    /// dependency order. Missing dependencies and cycles are refused before anything installs.
    pub fn install_ids(
        &self,
        store: &Path,
        ids: &[String],
        opts: &InstallOptions,
    ) -> Result<Vec<InstallOutcome>, InstallError> {
        self.install_ids_with(store, ids, opts, &mut |_| {})
    }

    fn install_ids_with(
        &self,
        store: &Path,
        ids: &[String],
        opts: &InstallOptions,
        progress: &mut dyn FnMut(InstallEvent),
    ) -> Result<Vec<InstallOutcome>, InstallError> {
        let plane = self.plane()?;
        let cfg = InstallConfig::for_plane(&plane)?;
        let first = ids.first().cloned().unwrap_or_default();
        let order = index_store(store, &cfg.archive).map_err(InstallError::from).and_then(|index| {
            let installed: BTreeMap<String, String> =
                load_receipts(&plane)?.into_values().map(|r| (r.package_id, r.version)).collect();
            resolve_order(&index, &installed, ids, store).map(|o| (index, o))
        });
        let (index, order) = match order {
            Ok(x) => x,
            Err(e) => {
                if !opts.dry_run {
                    let txn = uuid::Uuid::now_v7().to_string();
                    let who = match &e {
                        InstallError::DependencyMissing { package, .. } => package.clone(),
                        InstallError::DependencyCycle { cycle } => cycle.first().cloned().unwrap_or(first),
                        _ => first,
                    };
                    Self::log_failure(&plane, &txn, &who, None, &e);
                }
                return Err(e);
            }
        };
        let mut out = Vec::new();
        let total = order.len();
        for (index_no, id) in order.iter().enumerate() {
            progress(InstallEvent::Started { package_id: id.clone(), index: index_no, total });
            let entry = &index[id];
            let o = self.install_archive(&entry.path, Some(id), opts)?;
            progress(InstallEvent::Finished { outcome: o.clone() });
            out.push(o);
        }
        Ok(out)
    }

    /// Installs the whole bootstrap set in layer order. `repo_or_store` is either a repository
    /// root (its `packages/PKG-*` sources are packed into a temporary store inside the
    /// staging area first) or a store of archives.
    pub fn install_bootstrap(
        &self,
        repo_or_store: &Path,
        opts: &InstallOptions,
        progress: &mut dyn FnMut(InstallEvent),
    ) -> Result<Vec<InstallOutcome>, InstallError> {
        self.with_store(repo_or_store, |store, cfg| {
            let index = index_store(store, &cfg.archive)?;
            let mut ids: Vec<&StoreEntry> = index.values().collect();
            ids.sort_by(|a, b| {
                (a.manifest.layer, &a.manifest.package_id).cmp(&(b.manifest.layer, &b.manifest.package_id))
            });
            let ids: Vec<String> = ids.iter().map(|e| e.manifest.package_id.clone()).collect();
            self.install_ids_with(store, &ids, opts, progress)
        })
    }

    /// Installs `ids` (and their dependencies) from a repository's sources or a store.
    pub fn install_ids_from(
        &self,
        repo_or_store: &Path,
        ids: &[String],
        opts: &InstallOptions,
        progress: &mut dyn FnMut(InstallEvent),
    ) -> Result<Vec<InstallOutcome>, InstallError> {
        self.with_store(repo_or_store, |store, _| self.install_ids_with(store, ids, opts, progress))
    }

    /// Runs `f` on a store: `dir` itself, or — when `dir` is a repository holding `packages/` —
    /// a temporary store packed from its sources in the staging area, removed afterwards.
    fn with_store<T>(
        &self,
        dir: &Path,
        f: impl FnOnce(&Path, &InstallConfig) -> Result<T, InstallError>,
    ) -> Result<T, InstallError> {
        let plane = self.plane()?;
        let cfg = InstallConfig::for_plane(&plane)?;
        let (store, temp) = self.store_for(&plane, &cfg, dir)?;
        let r = f(&store, &cfg);
        if let Some(t) = temp {
            let _ = fsx::remove_dir_all(&t);
            Self::discard(&Self::staging_root(&plane, &cfg)?, &t);
        }
        r
    }

    fn store_for(
        &self,
        plane: &Plane,
        cfg: &InstallConfig,
        dir: &Path,
    ) -> Result<(PathBuf, Option<PathBuf>), InstallError> {
        if !dir.join("packages").is_dir() {
            return Ok((dir.to_path_buf(), None));
        }
        let t = Self::staging_root(plane, cfg)?.join(format!(
            "{}{}",
            super::journal::PACK_DIR_PREFIX,
            uuid::Uuid::now_v7()
        ));
        let store = t.join("store");
        fsx::create_dir_all(&store)?;
        pack_all(dir, &store)?;
        Ok((store, Some(t)))
    }
}

/// What `recover` did with one interrupted transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryAction {
    /// Transaction id.
    pub txn_id: String,
    /// Package (empty when the transaction had not written its journal).
    pub package_id: String,
    /// `rolled_back`, `completed` or `discarded`.
    pub action: String,
}

/// Topological install order of `ids` and their dependencies (dependencies first). A
/// dependency already installed is left as it is (G1 checks its version).
fn resolve_order(
    index: &BTreeMap<String, StoreEntry>,
    installed: &BTreeMap<String, String>,
    ids: &[String],
    store: &Path,
) -> Result<Vec<String>, InstallError> {
    let mut r = Resolver { index, installed, store, active: Vec::new(), done: BTreeSet::new(), out: Vec::new() };
    for id in ids {
        r.visit(id, None)?;
    }
    Ok(r.out)
}

struct Resolver<'a> {
    index: &'a BTreeMap<String, StoreEntry>,
    installed: &'a BTreeMap<String, String>,
    store: &'a Path,
    active: Vec<String>,
    done: BTreeSet<String>,
    out: Vec<String>,
}

impl Resolver<'_> {
    fn visit(&mut self, id: &str, from: Option<&str>) -> Result<(), InstallError> {
        if self.done.contains(id) {
            return Ok(());
        }
        if let Some(start) = self.active.iter().position(|s| s == id) {
            let mut cycle: Vec<String> = self.active[start..].to_vec();
            cycle.push(id.to_string());
            return Err(InstallError::DependencyCycle { cycle });
        }
        let index = self.index;
        let Some(entry) = index.get(id) else {
            if self.installed.contains_key(id) {
                self.done.insert(id.to_string());
                return Ok(());
            }
            return match from {
                Some(f) => Err(InstallError::DependencyMissing { package: f.to_string(), missing: id.to_string() }),
                None => Err(InstallError::NotInStore { package: id.to_string(), store: self.store.to_path_buf() }),
            };
        };
        if from.is_some() && self.installed.contains_key(id) {
            self.done.insert(id.to_string());
            return Ok(());
        }
        self.active.push(id.to_string());
        for d in entry.manifest.deps() {
            self.visit(&d.package_id, Some(id))?;
        }
        self.active.pop();
        self.done.insert(id.to_string());
        self.out.push(id.to_string());
        Ok(())
    }
}

/// Verifies that `path` is a plain file inside the plane (helper for callers that accept
/// plane-relative input).
pub fn plane_file(plane: &Plane, rel: &str) -> Result<PathBuf, InstallError> {
    Ok(plane.resolve(rel)?)
}
