//! Errors of the Control Plane v2 compatibility reader.

use std::path::PathBuf;

use cp_kernel::ArchiveError;
use cp_kernel::fsx::FsError;

use crate::InstallError;

/// Why a v2 archive or set is refused. Nothing is installed when the set is refused before
/// the first install; an install failure leaves earlier packages installed (each install is its
/// own transaction) and names the package.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Cp2Error {
    /// File error.
    #[error(transparent)]
    Io(#[from] FsError),
    /// The archive could not be read.
    #[error("{}: {source}", archive.display())]
    Archive {
        /// The archive.
        archive: PathBuf,
        /// Why.
        #[source]
        source: ArchiveError,
    },
    /// The manifest is not a v1.2 manifest this reader understands.
    #[error("{}: manifest.json: {field}: {message}", archive.display())]
    Manifest {
        /// The archive.
        archive: PathBuf,
        /// The field path.
        field: String,
        /// What was expected.
        message: String,
    },
    /// The bootstrap sequence file is malformed.
    #[error("{}: {message}", path.display())]
    Sequence {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Two archives carry the same package id.
    #[error("{package} is in the set twice ({} and {})", first.display(), second.display())]
    Duplicate {
        /// Package.
        package: String,
        /// One archive.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// A dependency is neither in the set nor installed on the plane.
    #[error("{package} depends on {dependency}, which is neither in the set nor installed; nothing was installed")]
    MissingDependency {
        /// Package.
        package: String,
        /// The missing dependency.
        dependency: String,
    },
    /// The dependencies form a cycle.
    #[error("dependency cycle among {packages:?}; nothing was installed")]
    Cycle {
        /// The packages left unordered.
        packages: Vec<String>,
    },
    /// `framework_id` is absent on a package outside the genesis and kernel layers.
    #[error(
        "{package}: manifest has no framework_id, which only the genesis and kernel layers (0-1) may omit (layer {layer})"
    )]
    FrameworkRequired {
        /// Package.
        package: String,
        /// Its layer.
        layer: u32,
    },
    /// The install of one converted package failed.
    #[error("{package} ({}): {source}", archive.display())]
    Install {
        /// Package.
        package: String,
        /// The v2 archive.
        archive: PathBuf,
        /// Why.
        #[source]
        source: Box<InstallError>,
    },
    /// The directory is not a Control Plane v2 plane.
    #[error("{} does not look like a Control Plane v2 plane (no Python ledgers with index.jsonl, no Python layout and receipts)", root.display())]
    NotCp2Plane {
        /// The directory.
        root: PathBuf,
    },
    /// The new root exists and is not empty.
    #[error("{} exists and is not empty; migrate into a new directory", root.display())]
    TargetNotEmpty {
        /// The directory.
        root: PathBuf,
    },
    /// A Python ledger does not verify; nothing was created.
    #[error("{path} does not verify: {defect}; nothing was migrated")]
    LedgerBroken {
        /// The ledger (relative to the old plane).
        path: String,
        /// The first bad line, with its entry id.
        defect: String,
    },
    /// The plane could not be opened.
    #[error(transparent)]
    Plane(#[from] cp_kernel::PlaneError),
    /// The plane's schemas, receipts, policy, frameworks or ledgers could not be read or
    /// written (the kernel's message).
    #[error("{0}")]
    Read(String),
}

impl Cp2Error {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io(_) | Self::Plane(_) | Self::Read(_) => "IO",
            Self::Archive { source, .. } => source.code(),
            Self::Manifest { .. } => "CP2_MANIFEST_INVALID",
            Self::Sequence { .. } => "CP2_SEQUENCE_INVALID",
            Self::Duplicate { .. } => "CP2_DUPLICATE_PACKAGE",
            Self::MissingDependency { .. } => "G1_DEPENDENCY_MISSING",
            Self::Cycle { .. } => "G1_DEPENDENCY_CYCLE",
            Self::FrameworkRequired { .. } => "CP2_FRAMEWORK_REQUIRED",
            Self::NotCp2Plane { .. } => "CP2_NOT_A_V2_PLANE",
            Self::TargetNotEmpty { .. } => "CP2_TARGET_NOT_EMPTY",
            Self::LedgerBroken { .. } => "CP2_LEDGER_BROKEN",
            Self::Install { source, .. } => source.code(),
        }
    }
}
