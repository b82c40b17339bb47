//! One v2 archive → one native archive, and the record of what was derived.
//!
//! The archive is read with the kernel's strict reader (same caps as an install). The native
//! manifest is the v2 manifest with: `layer` filled (see `sequence`); `framework_id` filled
//! for the genesis and kernel layers when absent; `package_type`, `metadata`,
//! `external_deps` moved into the record; assets changed only as follows —
//! * a shipped registry the installer derives itself (`installer_maintained` in the layout) is
//!   not installed as a file: its rows are merged into the derived registry, and the record
//!   names the file, its hash, its row count and its shipping package (ownership stays with the
//!   installer, which maintains the file);
//! * a `HOT/config/*.json` document that is Python-only — `layout.json` in the Python format,
//!   or any config no native schema reads — is installed under `HOT/cp2/config/` (same bytes,
//!   same hash), where the native kernel does not read it as its own configuration.
//!
//! Every other file, declared or not, goes into the native archive unchanged, so that G0A sees
//! exactly what the v2 archive held.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use cp_kernel::{ArchiveCaps, ArchiveFile, Layout, Plane, SchemaSet, fsx, read_archive_with, sha256_prefixed};

use super::Cp2Error;
use super::manifest::{Cp2Manifest, PYTHON_ONLY_KEYS};
use super::sequence::LayerSource;

/// Where Python-only configuration documents are installed.
pub const RELOCATED_CONFIG_DIR: &str = "HOT/cp2/config/";

/// What the conversion decided for one package.
pub(crate) struct Plan<'a> {
    pub(crate) layer: u32,
    pub(crate) layer_source: LayerSource,
    /// `framework_id` to fill when the manifest has none.
    pub(crate) framework_default: Option<&'a str>,
}

/// A converted archive.
pub(crate) struct Converted {
    pub(crate) archive: PathBuf,
    pub(crate) record: Map<String, Value>,
}

/// What happens to one archive member.
enum Fate {
    Keep,
    Merge,
    Relocate(String),
}

fn fate(path: &str, data: &[u8], plane: &Plane, schemas: &SchemaSet) -> Fate {
    if plane.layout().installer_maintained.iter().any(|p| p == path) {
        return Fate::Merge;
    }
    let Some(name) = path.strip_prefix("HOT/config/").filter(|n| !n.contains('/') && n.ends_with(".json")) else {
        return Fate::Keep;
    };
    let stem = name.trim_end_matches(".json");
    let python_only = if path == cp_kernel::LAYOUT_PATH {
        serde_json::from_slice::<Layout>(data).is_err()
    } else {
        !schemas.contains(stem)
    };
    if python_only { Fate::Relocate(format!("{RELOCATED_CONFIG_DIR}{name}")) } else { Fate::Keep }
}

/// The first column of every non-blank row after the header (the row's key: framework id,
/// spec id, file path, package id).
fn csv_keys(data: &[u8]) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(data);
    r.records()
        .filter_map(Result::ok)
        .filter_map(|rec| rec.get(0).map(str::to_string))
        .filter(|k| !k.is_empty())
        .collect()
}

/// Converts `src` (v2 manifest `m`) into `out_dir/<id>.tar.gz`.
pub(crate) fn convert(
    src: &Path,
    m: &Cp2Manifest,
    plan: &Plan<'_>,
    plane: &Plane,
    schemas: &SchemaSet,
    caps: &ArchiveCaps,
    out_dir: &Path,
) -> Result<Converted, Cp2Error> {
    let stage = out_dir.join(format!("{}.files", m.package_id));
    let read = read_archive_with(src, caps, Some(&stage), false)
        .map_err(|source| Cp2Error::Archive { archive: src.to_path_buf(), source })?;
    let manifest_bytes = read.manifest_bytes.clone().unwrap_or_default();
    let mut record = Map::new();
    record.insert("source_archive".into(), json!(src.display().to_string()));
    record.insert("source_manifest_sha256".into(), json!(sha256_prefixed(&manifest_bytes)));
    record.insert("layer".into(), json!(plan.layer));
    record.insert("layer_source".into(), json!(plan.layer_source.as_str()));
    let mut native = m.raw.clone();
    for k in PYTHON_ONLY_KEYS {
        if let Some(v) = native.remove(*k) {
            record.insert((*k).to_string(), v);
        }
    }
    native.insert("layer".into(), json!(plan.layer));
    if m.framework_id.is_none()
        && let Some(fw) = plan.framework_default
    {
        native.insert("framework_id".into(), json!(fw));
        record.insert("framework_id_derived".into(), json!(fw));
    }
    let mut files = Vec::new();
    let mut merged = Vec::new();
    let mut relocated = Vec::new();
    let mut renames: Vec<(String, Option<String>)> = Vec::new();
    for path in read.files.keys() {
        let data = fsx::read(stage.join(path))?;
        match fate(path, &data, plane, schemas) {
            Fate::Keep => files.push(ArchiveFile { path: path.clone(), data, executable: false }),
            Fate::Merge => {
                merged.push(json!({
                    "path": path, "sha256": sha256_prefixed(&data), "keys": csv_keys(&data),
                    "shipped_by": m.package_id, "owner": "installer (derived registry)"
                }));
                renames.push((path.clone(), None));
            }
            Fate::Relocate(to) => {
                relocated.push(json!({"from": path, "to": to, "why": "Python-only configuration document"}));
                renames.push((path.clone(), Some(to.clone())));
                files.push(ArchiveFile { path: to, data, executable: false });
            }
        }
    }
    rename_assets(&mut native, &renames);
    if !merged.is_empty() {
        record.insert("registries_merged".into(), Value::Array(merged));
    }
    if !relocated.is_empty() {
        record.insert("relocated".into(), Value::Array(relocated));
    }
    let bytes = serde_json::to_vec_pretty(&Value::Object(native))
        .map_err(|e| cp_kernel::fsx::FsError::new("encode", out_dir.join("manifest.json"), e.into()))?;
    let archive = out_dir.join(format!("{}-{}.tar.gz", m.package_id, m.version));
    cp_kernel::write_archive(&archive, &bytes, &files)?;
    let _ = fsx::remove_dir_all(&stage);
    Ok(Converted { archive, record })
}

/// Applies the renames (`None`: drop) to the manifest's `assets[].path`.
fn rename_assets(native: &mut Map<String, Value>, renames: &[(String, Option<String>)]) {
    let Some(Value::Array(assets)) = native.get_mut("assets") else { return };
    assets.retain_mut(|a| {
        let Some(p) = a.get("path").and_then(Value::as_str).map(|p| p.trim_start_matches("./").to_string()) else {
            return true;
        };
        match renames.iter().find(|(from, _)| *from == p) {
            None => true,
            Some((_, None)) => false,
            Some((_, Some(to))) => {
                a["path"] = json!(to);
                true
            }
        }
    });
}
