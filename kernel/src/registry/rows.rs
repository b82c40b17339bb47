//! Typed registry rows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A row of `frameworks_registry.csv`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FrameworkRow {
    /// `FMWK-NNN`.
    pub framework_id: String,
    /// Title.
    pub title: String,
    /// `active`, `draft` or `deprecated`.
    pub status: String,
    /// Semver version.
    pub version: String,
    /// Plane the framework belongs to.
    pub plane_id: String,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// A row of `specs_registry.csv`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SpecRow {
    /// `SPEC-…`.
    pub spec_id: String,
    /// Title.
    pub title: String,
    /// Framework the spec implements.
    pub framework_id: String,
    /// Status.
    pub status: String,
    /// Semver version.
    pub version: String,
    /// Plane.
    pub plane_id: String,
    /// RFC 3339 creation time.
    pub created_at: String,
}

/// A row of `file_ownership.csv` (append-only; the last row per `file_path` wins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnershipRow {
    /// Plane-relative path (`HOT/schemas/x.json`).
    pub file_path: String,
    /// Owning package.
    pub package_id: String,
    /// `sha256:` + 64 hex.
    pub sha256: String,
    /// Asset classification from the manifest.
    pub classification: String,
    /// RFC 3339 time the row was written.
    pub installed_date: String,
    /// When the file was replaced (ownership transferred) or removed; empty otherwise.
    pub replaced_date: String,
    /// Package that took the file over; `-` when it was removed by uninstall; empty otherwise.
    pub superseded_by: String,
}

/// A row of `packages_state.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageStateRow {
    /// Package id.
    pub package_id: String,
    /// Installed version.
    pub version: String,
    /// Layer (0–3…).
    pub layer: String,
    /// `installed` or `uninstalled`.
    pub status: String,
    /// `sha256:` of the manifest as installed.
    pub manifest_sha256: String,
    /// RFC 3339 install time.
    pub installed_date: String,
}

/// The current owner row per path: last row wins; rows whose `superseded_by` is `-` (removed)
/// drop the path.
pub fn current_ownership(rows: &[OwnershipRow]) -> BTreeMap<String, OwnershipRow> {
    let mut m = BTreeMap::new();
    for r in rows {
        if r.superseded_by == "-" {
            m.remove(&r.file_path);
        } else if r.replaced_date.is_empty() {
            m.insert(r.file_path.clone(), r.clone());
        }
    }
    m
}
