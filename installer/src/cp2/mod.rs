//! Control Plane v2 (the Python system) compatibility: its archives install, its planes are
//! recognised.
//!
//! * `manifest` — the v1.2 manifest as the Python system wrote it (no `layer`, no
//!   `framework_id` for genesis and kernel, `package_type`, `metadata`, `external_deps`).
//! * `sequence` — the layer of each package: the manifest's, else the set's
//!   `bootstrap_sequence.json`, else the dependency depth; the install order.
//! * `convert` — one v2 archive → a native archive (derived fields filled, shipped derived
//!   registries merged, Python-only config documents relocated) plus the record of what was
//!   derived, written into the `INSTALLED` entry.
//! * `set` — a whole v2 set installed through the ordinary install transaction and gates.
//! * `migrate` — a Python-installed plane into a new native plane.
//! * `plane` — detection of a Python-installed plane for read-only commands.
//!
//! Never does: modify a v2 archive or plane, waive anything without `--cp2-compat`, or install a
//! set with a dependency that is neither in the set nor installed.

mod convert;
mod error;
mod manifest;
mod migrate;
mod plane;
mod sequence;
mod set;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use convert::RELOCATED_CONFIG_DIR;
pub use error::Cp2Error;
pub use manifest::{Cp2Manifest, read_cp2_manifest};
pub use migrate::{LeftFile, MIGRATED_PACKAGE, MIGRATION_REPORT, MigrateReport, MigratedLedger, migrate_cp2_plane};
pub use plane::{Cp2PlaneSigns, detect_cp2_plane};
pub use sequence::{LayerSource, SEQUENCE_FILE};
pub use set::{Cp2InstallReport, Cp2Options, Cp2Package, DEFAULT_GENESIS_FRAMEWORK, install_cp2_set};
