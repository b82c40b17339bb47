//! The frameworks and spec packs of a plane as the gates and the registries read them: typed
//! (schema-validated, unknown keys refused, globs compiled), optionally overlaid with the staged
//! manifests of a package being installed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{
    FrameworkError, FrameworkManifest, MANIFEST_FILE, PathAuthorizer, SpecPack, load_framework_file, load_spec_file,
};
use crate::fsx;
use crate::plane::{Plane, Tier};
use crate::schema::SchemaSet;

/// Directory-name prefix of a framework directory (`FMWK-003_Prompt_Routing`).
const FRAMEWORK_DIR_PREFIX: &str = "FMWK-";
/// Directory-name prefix of a spec pack directory (`SPEC-ROUTING-001`).
const SPEC_DIR_PREFIX: &str = "SPEC-";

/// Whether a plane-relative path is a framework manifest (`HOT/FMWK-*/manifest.yaml`).
pub fn is_framework_manifest(rel: &str) -> bool {
    let p: Vec<&str> = rel.split('/').collect();
    p.len() == 3 && p[0] == Tier::Hot.dir_name() && p[1].starts_with(FRAMEWORK_DIR_PREFIX) && p[2] == MANIFEST_FILE
}

/// Whether a plane-relative path is a spec pack manifest (`HOT/spec_packs/SPEC-*/manifest.yaml`).
pub fn is_spec_manifest(rel: &str) -> bool {
    let p: Vec<&str> = rel.split('/').collect();
    p.len() == 4
        && p[0] == Tier::Hot.dir_name()
        && p[1] == "spec_packs"
        && p[2].starts_with(SPEC_DIR_PREFIX)
        && p[3] == MANIFEST_FILE
}

/// A loaded framework: its manifest, where it is, and its compiled path authorisations.
#[derive(Debug, Clone)]
pub struct LoadedFramework {
    /// Plane-relative path of the manifest.
    pub path: String,
    /// The manifest.
    pub manifest: FrameworkManifest,
    /// Its `path_authorizations`, compiled.
    pub authorizer: PathAuthorizer,
}

/// A loaded spec pack and where it is.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    /// Plane-relative path of the manifest.
    pub path: String,
    /// The spec pack.
    pub spec: SpecPack,
}

/// The typed frameworks and spec packs of a plane (see the module doc).
#[derive(Debug, Clone, Default)]
pub struct FrameworkSet {
    /// By framework id.
    pub frameworks: BTreeMap<String, LoadedFramework>,
    /// By spec id.
    pub specs: BTreeMap<String, LoadedSpec>,
    /// Manifests on the plane that could not be loaded: `(plane path, why)`. They are left out
    /// (a package naming one fails G1 as if it were missing); plane-level G0A names each.
    pub invalid: Vec<(String, String)>,
}

impl FrameworkSet {
    /// Loads every framework manifest and spec pack of `plane` with `schemas`, then `overlay`
    /// (plane path → staged file, e.g. the framework and spec manifests a package ships), which
    /// takes precedence. A manifest of the plane that does not load is listed in `invalid`; an
    /// overlay file that does not load is an error (the install is refused).
    pub fn load(plane: &Plane, schemas: &SchemaSet, overlay: &[(String, PathBuf)]) -> Result<Self, FrameworkError> {
        let mut set = Self::default();
        let hot = plane.tier_dir(Tier::Hot);
        for (name, file) in manifest_files(&hot, FRAMEWORK_DIR_PREFIX)? {
            let rel = format!("{}/{name}/{MANIFEST_FILE}", Tier::Hot.dir_name());
            if let Err(e) = set.add(schemas, &rel, &file) {
                set.invalid.push((rel, e.to_string()));
            }
        }
        let sp = plane.dir(Tier::Hot, "spec_packs");
        for (name, file) in manifest_files(&sp, SPEC_DIR_PREFIX)? {
            let rel = format!("{}/spec_packs/{name}/{MANIFEST_FILE}", Tier::Hot.dir_name());
            if let Err(e) = set.add(schemas, &rel, &file) {
                set.invalid.push((rel, e.to_string()));
            }
        }
        for (rel, file) in overlay {
            set.add(schemas, rel, file)?;
        }
        Ok(set)
    }

    /// Adds the manifest at plane path `rel` (on disk at `file`), replacing one of the same id.
    fn add(&mut self, schemas: &SchemaSet, rel: &str, file: &Path) -> Result<(), FrameworkError> {
        let dir_name = rel.rsplit('/').nth(1).unwrap_or_default();
        if is_framework_manifest(rel) {
            let manifest = load_framework_file(schemas, file, dir_name)?;
            let authorizer = PathAuthorizer::new(&manifest)?;
            self.frameworks.retain(|_, f| f.path != rel);
            self.frameworks
                .insert(manifest.framework_id.clone(), LoadedFramework { path: rel.to_string(), manifest, authorizer });
        } else if is_spec_manifest(rel) {
            let spec = load_spec_file(schemas, file, dir_name)?;
            self.specs.retain(|_, s| s.path != rel);
            self.specs.insert(spec.spec_id.clone(), LoadedSpec { path: rel.to_string(), spec });
        }
        Ok(())
    }
}

/// `(directory name, manifest file)` of every `prefix*` directory of `dir` holding a manifest.
fn manifest_files(dir: &Path, prefix: &str) -> Result<Vec<(String, PathBuf)>, FrameworkError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for e in fsx::read_dir(dir)? {
        let name = e.file_name().to_string_lossy().into_owned();
        let file = e.path().join(MANIFEST_FILE);
        if name.starts_with(prefix) && file.is_file() {
            out.push((name, file));
        }
    }
    out.sort();
    Ok(out)
}
