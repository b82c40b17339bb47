//! The CSV registries of a plane (`HOT/registries/`), with the Control Plane v2 columns:
//!
//! * `frameworks_registry.csv` — `framework_id, title, status, version, plane_id, created_at`
//! * `specs_registry.csv` — `spec_id, title, framework_id, status, version, plane_id, created_at`
//! * `file_ownership.csv` — `file_path, package_id, sha256, classification, installed_date,
//!   replaced_date, superseded_by`; append-only, the last row per `file_path` wins
//! * `packages_state.csv` — `package_id, version, layer, status, manifest_sha256,
//!   installed_date`
//!
//! Owns: typed and untyped (filtered) reads, whole-file writes (atomic) and appends (the header
//! is written once, when the file is new). Malformed CSV — unequal field count, bad quoting (a
//! quote inside an unquoted field, text after a closing quote, an unterminated quote), a header
//! other than the registry's columns — is an error naming the file, line and column.
//! Never does: decide what goes in them (the installer derives them).

mod rows;
mod table;

pub use rows::{FrameworkRow, OwnershipRow, PackageStateRow, SpecRow, current_ownership};
pub use table::{
    RegistryError, RegistryKind, Table, append_rows, encode_rows, read_kind_table, read_rows, read_table, write_rows,
};
