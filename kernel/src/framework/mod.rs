//! Framework manifests, spec packs and the governance configuration that goes with them.
//!
//! Owns:
//! * reading framework manifests (`HOT/FMWK-NNN_Name/manifest.yaml`, schema
//!   `framework.schema.json`) and spec packs (`HOT/spec_packs/SPEC-…/manifest.yaml`, schema
//!   `spec.schema.json`) — [`load_frameworks`], [`load_spec_packs`];
//! * deriving the rows of `frameworks_registry.csv` and `specs_registry.csv` from them
//!   ([`derive_registry_rows`]) and the expected-spec links G1-COMPLETE checks
//!   ([`check_expected_specs`]);
//! * path authorisation (G1): [`path_authorized`] / [`PathAuthorizer`], globs with literal
//!   separators on normalised plane paths;
//! * the governed configuration shipped by Layer 1–2 packages: [`Vocabulary`]
//!   (`HOT/config/vocabulary.yaml`, PKG-VOCABULARY-001), [`RegistriesConfig`]
//!   (`HOT/config/registries.yaml`, PKG-REG-001) and [`GovernancePolicy`]
//!   (`HOT/config/governance_policy.yaml`, PKG-GOVERNANCE-UPGRADE-001). Until those packages are
//!   installed, the same files are compiled in from `packages/` (one copy in the repository).
//!
//! Never does: write anything (the installer writes manifests and rebuilds the registries), or
//! decide whether a gate passes (the `gates` module does, using these functions).
//!
//! Every document is read through [`SchemaSet::load_document`]: parse → schema validation
//! (unknown keys are errors: every schema is `additionalProperties: false`, every struct
//! `deny_unknown_fields`) → typed decode.

mod authorize;
mod config;
mod governance;
mod load;
mod manifest;
mod registries;
mod set;
mod vocabulary;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use authorize::{PathAuthorizer, path_authorized};
pub use governance::{
    DEFAULT_GOVERNANCE_POLICY_YAML, GOVERNANCE_POLICY_PATH, GOVERNANCE_POLICY_SCHEMA, GenesisCheck, GenesisRules,
    GovernancePolicy, LayerOverride,
};
pub use load::{
    SpecLinkIssue, check_expected_specs, derive_registry_rows, derive_rows, load_framework_file, load_frameworks,
    load_frameworks_in, load_spec_file, load_spec_packs, load_spec_packs_in,
};
pub use manifest::{
    Acceptance, FRAMEWORK_SCHEMA, FrameworkManifest, Invariant, InvariantLevel, MANIFEST_FILE, Ring, SPEC_SCHEMA,
    SpecPack, Status,
};
pub use registries::{
    DEFAULT_REGISTRIES_YAML, REGISTRIES_PATH, REGISTRIES_SCHEMA, RegistriesConfig, RegistryHeaderIssue, RegistrySource,
    RegistrySpec,
};
pub use set::{FrameworkSet, LoadedFramework, LoadedSpec, is_framework_manifest, is_spec_manifest};
pub use vocabulary::{DEFAULT_VOCABULARY_YAML, IdentifierRule, Term, VOCABULARY_PATH, VOCABULARY_SCHEMA, Vocabulary};

use crate::fsx::FsError;
use crate::plane::PlaneError;
use crate::registry::RegistryError;
use crate::schema::{DocumentError, SchemaError};

/// Errors of the framework module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameworkError {
    /// A filesystem operation failed.
    #[error(transparent)]
    Io(#[from] FsError),
    /// The schemas could not be loaded.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// A document failed to parse, validate or decode (carries file, line/column, field path).
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// A plane path could not be resolved.
    #[error(transparent)]
    Plane(#[from] PlaneError),
    /// A registry file could not be read.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A framework or spec pack directory has no `manifest.yaml`.
    #[error("{} has no {MANIFEST_FILE}", dir.display())]
    MissingManifest {
        /// The directory.
        dir: PathBuf,
    },
    /// The directory name does not match the id in the manifest (`FMWK-003_Name` must hold
    /// `FMWK-003`; `SPEC-X-001` must hold `SPEC-X-001`).
    #[error("{}: directory {dir_name:?} does not match id {id:?}", path.display())]
    DirectoryMismatch {
        /// The manifest file.
        path: PathBuf,
        /// The directory name.
        dir_name: String,
        /// The id in the manifest.
        id: String,
    },
    /// Two manifests declare the same id.
    #[error("{id} is declared twice: {first} and {second}")]
    DuplicateId {
        /// The id.
        id: String,
        /// Plane path of the first manifest.
        first: String,
        /// Plane path of the second manifest.
        second: String,
    },
    /// A path authorisation is not a valid glob.
    #[error("{framework_id}: path_authorizations[{index}] {pattern:?} is not a valid glob")]
    InvalidGlob {
        /// The framework.
        framework_id: String,
        /// Index in `path_authorizations`.
        index: usize,
        /// The pattern.
        pattern: String,
        /// Why.
        #[source]
        source: globset::Error,
    },
    /// A value is not a term of the plane's vocabulary.
    #[error("{value:?} is not a known {} (expected one of: {})", kind.as_str(), known.join(", "))]
    UnknownTerm {
        /// Which vocabulary.
        kind: Term,
        /// The value given.
        value: String,
        /// The known terms.
        known: Vec<String>,
    },
    /// An identifier is empty, too long or outside the vocabulary's `identifiers.pattern`.
    #[error("{field} {why} (vocabulary identifiers)")]
    BadIdentifier {
        /// Which field (`tenant_id`, `principal`, …).
        field: String,
        /// What is wrong.
        why: String,
    },
    /// A governed config document is inconsistent beyond what its schema can say.
    #[error("{}: {message}", path.display())]
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}
