//! Why an install, uninstall or recovery failed, with the stable code of each failure.

use std::path::PathBuf;

use cp_kernel::{
    ArchiveError, DocumentError, FrameworkError, GateCode, GateError, GateReport, LedgerError, PlaneError,
    ReceiptError, RegistryError, fsx::FsError,
};

use super::journal::RollbackError;
use crate::pack::PackError;
use crate::sign::SignError;
use crate::store::StoreError;

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
    /// A file the package ships exists on the plane without an owning package.
    #[error("{package}: {path} already exists on the plane and no package owns it: {why}")]
    UnownedConflict {
        /// Installing package.
        package: String,
        /// The file.
        path: String,
        /// Why it is there and what to do.
        why: String,
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
    Governance(#[from] FrameworkError),
}

impl InstallError {
    /// The stable code (`ARCHIVE_LINK`, `G0A_UNDECLARED`, `OWNERSHIP_CONFLICT`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Archive { source, .. } => source.code(),
            Self::Gate { report, .. } => report.first_code().unwrap_or(report.gate.as_str()),
            Self::OwnershipConflict { .. } | Self::UnownedConflict { .. } => "OWNERSHIP_CONFLICT",
            Self::DowngradeRefused { .. } => "DOWNGRADE_REFUSED",
            Self::DependentInstalled { .. } => "DEPENDENT_INSTALLED",
            Self::DependencyMissing { .. } => GateCode::G1DependencyMissing.as_str(),
            Self::DependencyCycle { .. } => GateCode::G1DependencyCycle.as_str(),
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
                | Self::UnownedConflict { .. }
                | Self::DowngradeRefused { .. }
                | Self::DependentInstalled { .. }
                | Self::DependencyMissing { .. }
                | Self::DependencyCycle { .. }
        )
    }
}
