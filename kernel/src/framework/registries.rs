//! The registry catalogue (`HOT/config/registries.yaml`, schema `registries.schema.json`,
//! shipped by PKG-REG-001): which CSV registries a plane has, their columns and key, and where
//! their rows come from.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::FrameworkError;
use super::config::load_or_builtin;
use crate::fsx;
use crate::plane::{Plane, Tier};
use crate::schema::SchemaSet;

/// Plane-relative path of the installed catalogue.
pub const REGISTRIES_PATH: &str = "HOT/config/registries.yaml";
/// Name of its schema.
pub const REGISTRIES_SCHEMA: &str = "registries";
/// The catalogue shipped by PKG-REG-001, compiled in for planes where it is not installed yet.
pub const DEFAULT_REGISTRIES_YAML: &str = include_str!("../../../packages/PKG-REG-001/HOT/config/registries.yaml");
/// Layout name of the registries directory.
const REGISTRIES_DIR: &str = "registries";

/// Where a registry's rows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrySource {
    /// Derived from the installed framework manifests (rebuilt after every install).
    FrameworkManifests,
    /// Derived from the installed spec packs (rebuilt after every install).
    SpecPacks,
    /// Written by the install transaction.
    InstallTransaction,
}

/// One registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySpec {
    /// Logical name (`frameworks`, `file_ownership`), as used by attention `registry_query`.
    pub name: String,
    /// File name inside `HOT/registries/`.
    pub file: String,
    /// What it holds.
    #[serde(default)]
    pub description: String,
    /// The CSV header, in order.
    pub columns: Vec<String>,
    /// The column identifying a row (for append-only registries: the last row per key wins).
    pub key: String,
    /// Where the rows come from.
    pub source: RegistrySource,
    /// Whether rows are only ever appended.
    pub append_only: bool,
}

/// A registry file whose header disagrees with the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryHeaderIssue {
    /// Plane-relative path of the file.
    pub path: String,
    /// Columns the catalogue lists.
    pub expected: Vec<String>,
    /// Columns found (empty for an empty file).
    pub found: Vec<String>,
}

/// The registry catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistriesConfig {
    /// Document format version (`1.0`).
    pub schema_version: String,
    /// The registries.
    pub registries: Vec<RegistrySpec>,
}

impl RegistriesConfig {
    /// Reads and validates a catalogue file.
    pub fn load(schemas: &SchemaSet, path: &Path) -> Result<Self, FrameworkError> {
        let c: Self = schemas.load_document(REGISTRIES_SCHEMA, path)?;
        c.check(path)?;
        Ok(c)
    }

    /// The plane's installed catalogue, else the compiled-in default.
    pub fn for_plane(plane: &Plane, schemas: &SchemaSet) -> Result<Self, FrameworkError> {
        let c: Self = load_or_builtin(plane, schemas, REGISTRIES_PATH, REGISTRIES_SCHEMA, DEFAULT_REGISTRIES_YAML)?;
        c.check(Path::new(REGISTRIES_PATH))?;
        Ok(c)
    }

    /// Consistency beyond the schema: unique names and files, the key is a column.
    fn check(&self, path: &Path) -> Result<(), FrameworkError> {
        let bad = |message: String| FrameworkError::Inconsistent { path: path.to_path_buf(), message };
        for (i, r) in self.registries.iter().enumerate() {
            if !r.columns.contains(&r.key) {
                return Err(bad(format!("registries[{i}] ({}): key {:?} is not one of its columns", r.name, r.key)));
            }
            for (j, o) in self.registries.iter().enumerate().take(i) {
                if o.name == r.name || o.file == r.file {
                    return Err(bad(format!("registries[{j}] and registries[{i}] share a name or file")));
                }
            }
        }
        Ok(())
    }

    /// The registry named `name` (logical name or file name).
    pub fn get(&self, name: &str) -> Option<&RegistrySpec> {
        self.registries.iter().find(|r| r.name == name || r.file == name)
    }

    /// Checks the header of every registry file present in the plane's `HOT/registries/`
    /// against the catalogue (absent files are fine: they are created on first install).
    pub fn verify_headers(&self, plane: &Plane) -> Result<Vec<RegistryHeaderIssue>, FrameworkError> {
        let dir = plane.dir(Tier::Hot, REGISTRIES_DIR);
        let mut issues = Vec::new();
        for r in &self.registries {
            let path = dir.join(&r.file);
            if !path.is_file() {
                continue;
            }
            let text = fsx::read_to_string(&path)?;
            let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
            let found: Vec<String> = match reader.records().next() {
                None => Vec::new(),
                Some(Ok(rec)) => rec.iter().map(str::to_string).collect(),
                Some(Err(e)) => {
                    return Err(FrameworkError::Inconsistent { path, message: format!("unreadable header: {e}") });
                }
            };
            if found != r.columns {
                let rel = plane.relative(&path).unwrap_or_else(|| path.display().to_string());
                issues.push(RegistryHeaderIssue { path: rel, expected: r.columns.clone(), found });
            }
        }
        Ok(issues)
    }
}
