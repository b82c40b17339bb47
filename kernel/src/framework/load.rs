//! Loading framework manifests and spec packs from a plane (or any directory laid out like
//! one), and deriving the registry rows.

use std::collections::BTreeMap;
use std::path::Path;

use super::{
    FRAMEWORK_SCHEMA, FrameworkError, FrameworkManifest, MANIFEST_FILE, PathAuthorizer, SPEC_SCHEMA, SpecPack,
};
use crate::fsx;
use crate::plane::{Plane, Tier};
use crate::registry::{FrameworkRow, SpecRow};
use crate::schema::SchemaSet;

/// Directory-name prefix of a framework directory (`FMWK-003_Prompt_Routing`).
const FRAMEWORK_DIR_PREFIX: &str = "FMWK-";
/// Directory-name prefix of a spec pack directory (`SPEC-ROUTING-001`).
const SPEC_DIR_PREFIX: &str = "SPEC-";
/// Layout name of the spec packs directory.
const SPEC_PACKS_DIR: &str = "spec_packs";

/// Every subdirectory of `dir` whose name starts with `prefix`, with its manifest path.
fn manifest_dirs(dir: &Path, prefix: &str) -> Result<Vec<(String, std::path::PathBuf)>, FrameworkError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for e in fsx::read_dir(dir)? {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if !name.starts_with(prefix) || !fsx::metadata(&path)?.is_dir() {
            continue;
        }
        let manifest = path.join(MANIFEST_FILE);
        if !manifest.is_file() {
            return Err(FrameworkError::MissingManifest { dir: path });
        }
        out.push((name, manifest));
    }
    Ok(out)
}

fn join_rel(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { format!("{name}/{MANIFEST_FILE}") } else { format!("{prefix}/{name}/{MANIFEST_FILE}") }
}

/// Loads one framework manifest at `path` inside the directory named `dir_name`: validated
/// against the `framework` schema, decoded (unknown keys refused), its directory name the
/// framework id (optionally followed by `_Name`), every path authorisation a valid glob.
pub fn load_framework_file(
    schemas: &SchemaSet,
    path: &Path,
    dir_name: &str,
) -> Result<FrameworkManifest, FrameworkError> {
    let m: FrameworkManifest = schemas.load_document(FRAMEWORK_SCHEMA, path)?;
    let id = &m.framework_id;
    let matches = dir_name == id || dir_name.strip_prefix(id.as_str()).is_some_and(|rest| rest.starts_with('_'));
    if !matches {
        return Err(FrameworkError::DirectoryMismatch {
            path: path.to_path_buf(),
            dir_name: dir_name.to_string(),
            id: id.clone(),
        });
    }
    PathAuthorizer::new(&m)?;
    Ok(m)
}

/// Loads one spec pack at `path` inside the directory named `dir_name` (validated against the
/// `spec` schema; the directory name must equal the spec id).
pub fn load_spec_file(schemas: &SchemaSet, path: &Path, dir_name: &str) -> Result<SpecPack, FrameworkError> {
    let s: SpecPack = schemas.load_document(SPEC_SCHEMA, path)?;
    if dir_name != s.spec_id {
        return Err(FrameworkError::DirectoryMismatch {
            path: path.to_path_buf(),
            dir_name: dir_name.to_string(),
            id: s.spec_id,
        });
    }
    Ok(s)
}

/// Loads every `FMWK-*/manifest.yaml` directly below `dir`, validating each against the
/// `framework` schema of `schemas`. Returned paths are `rel_prefix/<dir>/manifest.yaml`
/// (`rel_prefix` is the plane-relative form of `dir`, e.g. `HOT`), sorted by directory name.
///
/// Refused: a directory without manifest, a directory name that is not the framework id
/// (optionally followed by `_Name`), the same id twice, an invalid glob.
pub fn load_frameworks_in(
    schemas: &SchemaSet,
    dir: &Path,
    rel_prefix: &str,
) -> Result<Vec<(String, FrameworkManifest)>, FrameworkError> {
    let mut out: Vec<(String, FrameworkManifest)> = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (name, path) in manifest_dirs(dir, FRAMEWORK_DIR_PREFIX)? {
        let m = load_framework_file(schemas, &path, &name)?;
        let id = &m.framework_id;
        let rel = join_rel(rel_prefix, &name);
        if let Some(first) = seen.insert(id.clone(), rel.clone()) {
            return Err(FrameworkError::DuplicateId { id: id.clone(), first, second: rel });
        }
        out.push((rel, m));
    }
    Ok(out)
}

/// Loads every `SPEC-*/manifest.yaml` directly below `dir` (validated against the `spec`
/// schema). The directory name must equal the spec id. Paths as in [`load_frameworks_in`].
pub fn load_spec_packs_in(
    schemas: &SchemaSet,
    dir: &Path,
    rel_prefix: &str,
) -> Result<Vec<(String, SpecPack)>, FrameworkError> {
    let mut out: Vec<(String, SpecPack)> = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (name, path) in manifest_dirs(dir, SPEC_DIR_PREFIX)? {
        let s = load_spec_file(schemas, &path, &name)?;
        let rel = join_rel(rel_prefix, &name);
        if let Some(first) = seen.insert(s.spec_id.clone(), rel.clone()) {
            return Err(FrameworkError::DuplicateId { id: s.spec_id.clone(), first, second: rel });
        }
        out.push((rel, s));
    }
    Ok(out)
}

/// Every installed framework manifest (`HOT/FMWK-*/manifest.yaml`), validated with the plane's
/// schemas ([`SchemaSet::for_plane`]): `(plane path, manifest)`, sorted by path.
pub fn load_frameworks(plane: &Plane) -> Result<Vec<(String, FrameworkManifest)>, FrameworkError> {
    let schemas = SchemaSet::for_plane(plane)?;
    load_frameworks_in(&schemas, &plane.tier_dir(Tier::Hot), Tier::Hot.dir_name())
}

/// Every installed spec pack (`HOT/spec_packs/SPEC-*/manifest.yaml`), validated with the
/// plane's schemas: `(plane path, spec pack)`, sorted by path.
pub fn load_spec_packs(plane: &Plane) -> Result<Vec<(String, SpecPack)>, FrameworkError> {
    let schemas = SchemaSet::for_plane(plane)?;
    spec_packs_with(plane, &schemas)
}

fn spec_packs_with(plane: &Plane, schemas: &SchemaSet) -> Result<Vec<(String, SpecPack)>, FrameworkError> {
    let dir = plane.dir(Tier::Hot, SPEC_PACKS_DIR);
    let rel = plane.relative(&dir).unwrap_or_else(|| format!("{}/{SPEC_PACKS_DIR}", Tier::Hot.dir_name()));
    load_spec_packs_in(schemas, &dir, &rel)
}

/// The rows of `frameworks_registry.csv` and `specs_registry.csv` for the given manifests,
/// sorted by id (deterministic). Absent `plane_id` / `created_at` become empty cells.
pub fn derive_rows(
    frameworks: &[(String, FrameworkManifest)],
    specs: &[(String, SpecPack)],
) -> (Vec<FrameworkRow>, Vec<SpecRow>) {
    let mut f: Vec<FrameworkRow> = frameworks
        .iter()
        .map(|(_, m)| FrameworkRow {
            framework_id: m.framework_id.clone(),
            title: m.title.clone(),
            status: m.status.as_str().to_string(),
            version: m.version.clone(),
            plane_id: m.plane_id.clone().unwrap_or_default(),
            created_at: m.created_at.clone().unwrap_or_default(),
        })
        .collect();
    let mut s: Vec<SpecRow> = specs
        .iter()
        .map(|(_, p)| SpecRow {
            spec_id: p.spec_id.clone(),
            title: p.title.clone(),
            framework_id: p.framework_id.clone(),
            status: p.status.as_str().to_string(),
            version: p.version.clone(),
            plane_id: p.plane_id.clone().unwrap_or_default(),
            created_at: p.created_at.clone().unwrap_or_default(),
        })
        .collect();
    f.sort();
    s.sort();
    (f, s)
}

/// The registry rows derived from the plane's installed framework manifests and spec packs
/// (what `frameworks_registry.csv` and `specs_registry.csv` must contain), sorted by id.
pub fn derive_registry_rows(plane: &Plane) -> Result<(Vec<FrameworkRow>, Vec<SpecRow>), FrameworkError> {
    let schemas = SchemaSet::for_plane(plane)?;
    let frameworks = load_frameworks_in(&schemas, &plane.tier_dir(Tier::Hot), Tier::Hot.dir_name())?;
    let specs = spec_packs_with(plane, &schemas)?;
    Ok(derive_rows(&frameworks, &specs))
}

/// Why an expected spec of a framework is not satisfied (G1-COMPLETE).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub enum SpecLinkIssue {
    /// The framework expects a spec that does not exist.
    Missing {
        /// The framework.
        framework_id: String,
        /// The missing spec.
        spec_id: String,
    },
    /// The spec exists but names another framework.
    WrongFramework {
        /// The framework expecting the spec.
        framework_id: String,
        /// The spec.
        spec_id: String,
        /// The framework the spec names.
        names: String,
    },
}

impl std::fmt::Display for SpecLinkIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Missing { framework_id, spec_id } => {
                write!(f, "{framework_id} expects {spec_id}, which does not exist")
            }
            Self::WrongFramework { framework_id, spec_id, names } => {
                write!(f, "{framework_id} expects {spec_id}, which names {names}")
            }
        }
    }
}

/// Checks that every `expected_specs` entry of `framework` exists among `specs` and names the
/// framework back. Returns every issue (empty: complete).
pub fn check_expected_specs<'a>(
    framework: &FrameworkManifest,
    specs: impl IntoIterator<Item = &'a SpecPack>,
) -> Vec<SpecLinkIssue> {
    let by_id: BTreeMap<&str, &SpecPack> = specs.into_iter().map(|s| (s.spec_id.as_str(), s)).collect();
    framework
        .expected_specs
        .iter()
        .filter_map(|id| match by_id.get(id.as_str()) {
            None => Some(SpecLinkIssue::Missing { framework_id: framework.framework_id.clone(), spec_id: id.clone() }),
            Some(s) if s.framework_id != framework.framework_id => Some(SpecLinkIssue::WrongFramework {
                framework_id: framework.framework_id.clone(),
                spec_id: id.clone(),
                names: s.framework_id.clone(),
            }),
            Some(_) => None,
        })
        .collect()
}
