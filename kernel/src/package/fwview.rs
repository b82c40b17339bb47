//! What the install transaction and the gates need to know about frameworks and spec packs.
//!
//! STAND-IN: a minimal reader of `HOT/FMWK-*/manifest.yaml` and
//! `HOT/spec_packs/SPEC-*/manifest.yaml` (lenient: only the fields used here). The lead swaps
//! [`load_view`]'s body for `crate::framework::load_frameworks` / `load_spec_packs` (typed,
//! schema-validated) once that module lands; the rest of the package code only sees
//! [`FrameworkView`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::fsx;
use crate::plane::{Plane, Tier};
use crate::registry::{FrameworkRow, SpecRow};
use crate::schema::{DocumentError, parse_document};

/// A framework as the gates see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameworkInfo {
    /// `FMWK-NNN`.
    pub framework_id: String,
    /// Registry row (title, status, version, plane, created_at).
    pub row: FrameworkRow,
    /// Specs that must exist and name this framework.
    pub expected_specs: Vec<String>,
    /// Globs of the files its packages may ship.
    pub path_authorizations: Vec<String>,
    /// Plane-relative path of the manifest.
    pub manifest_path: String,
}

/// A spec pack as the gates see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecInfo {
    /// `SPEC-…`.
    pub spec_id: String,
    /// Framework it names.
    pub framework_id: String,
    /// Registry row.
    pub row: SpecRow,
    /// Plane-relative path of the manifest.
    pub manifest_path: String,
}

/// Frameworks and spec packs of a plane (optionally overlaid with staged files).
#[derive(Debug, Clone, Default)]
pub struct FrameworkView {
    /// By framework id.
    pub frameworks: BTreeMap<String, FrameworkInfo>,
    /// By spec id.
    pub specs: BTreeMap<String, SpecInfo>,
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn list(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// Whether a plane-relative path is a framework manifest (`HOT/FMWK-*/manifest.yaml`).
pub fn is_framework_manifest(rel: &str) -> bool {
    let p: Vec<&str> = rel.split('/').collect();
    p.len() == 3 && p[0] == "HOT" && p[1].starts_with("FMWK-") && p[2] == "manifest.yaml"
}

/// Whether a plane-relative path is a spec pack manifest (`HOT/spec_packs/SPEC-*/manifest.yaml`).
pub fn is_spec_manifest(rel: &str) -> bool {
    let p: Vec<&str> = rel.split('/').collect();
    p.len() == 4 && p[0] == "HOT" && p[1] == "spec_packs" && p[2].starts_with("SPEC-") && p[3] == "manifest.yaml"
}

impl FrameworkView {
    /// Adds one manifest file found at plane-relative `rel` (on disk at `file`).
    fn add(&mut self, rel: &str, file: &Path, plane_id: &str) -> Result<(), DocumentError> {
        let text = fsx::read_to_string(file)?;
        let v = parse_document(file, &text)?;
        let or_plane = |x: String| if x.is_empty() { plane_id.to_string() } else { x };
        if is_framework_manifest(rel) {
            let id = s(&v, "framework_id");
            let row = FrameworkRow {
                framework_id: id.clone(),
                title: s(&v, "title"),
                status: s(&v, "status"),
                version: s(&v, "version"),
                plane_id: or_plane(s(&v, "plane_id")),
                created_at: s(&v, "created_at"),
            };
            self.frameworks.insert(
                id.clone(),
                FrameworkInfo {
                    framework_id: id,
                    row,
                    expected_specs: list(&v, "expected_specs"),
                    path_authorizations: list(&v, "path_authorizations"),
                    manifest_path: rel.to_string(),
                },
            );
        } else if is_spec_manifest(rel) {
            let id = s(&v, "spec_id");
            let row = SpecRow {
                spec_id: id.clone(),
                title: s(&v, "title"),
                framework_id: s(&v, "framework_id"),
                status: s(&v, "status"),
                version: s(&v, "version"),
                plane_id: or_plane(s(&v, "plane_id")),
                created_at: s(&v, "created_at"),
            };
            self.specs.insert(
                id.clone(),
                SpecInfo { spec_id: id, framework_id: row.framework_id.clone(), row, manifest_path: rel.to_string() },
            );
        }
        Ok(())
    }
}

/// The plane's frameworks and spec packs, with `overlay` (plane-relative path → file on disk,
/// e.g. staged files of the package being installed) taking precedence.
pub fn load_view(plane: &Plane, overlay: &[(String, PathBuf)]) -> Result<FrameworkView, DocumentError> {
    let mut view = FrameworkView::default();
    let plane_id = plane.config().plane_id.clone();
    let hot = plane.tier_dir(Tier::Hot);
    if hot.is_dir() {
        for e in fsx::read_dir(&hot)? {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = format!("HOT/{name}/manifest.yaml");
            if is_framework_manifest(&rel) && e.path().join("manifest.yaml").is_file() {
                view.add(&rel, &e.path().join("manifest.yaml"), &plane_id)?;
            }
        }
    }
    let sp = plane.dir(Tier::Hot, "spec_packs");
    if sp.is_dir() {
        for e in fsx::read_dir(&sp)? {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = format!("HOT/spec_packs/{name}/manifest.yaml");
            if is_spec_manifest(&rel) && e.path().join("manifest.yaml").is_file() {
                view.add(&rel, &e.path().join("manifest.yaml"), &plane_id)?;
            }
        }
    }
    for (rel, file) in overlay {
        if is_framework_manifest(rel) || is_spec_manifest(rel) {
            view.add(rel, file, &plane_id)?;
        }
    }
    Ok(view)
}
