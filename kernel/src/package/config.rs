//! The installer configuration (`HOT/config/install_config.json`, schema
//! `install_config.schema.json`), shipped by `PKG-GENESIS-000`. Until genesis is installed the
//! same file, compiled in ([`DEFAULT_INSTALL_CONFIG_JSON`]), is used.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::plane::Plane;
use crate::plane::Tier;
use crate::schema::{DocumentError, SchemaError, SchemaSet};

type Fingerprint = Vec<(String, u64, Option<SystemTime>)>;

static EMBEDDED: OnceLock<Result<Arc<SchemaSet>, String>> = OnceLock::new();
static PLANE_CACHE: Mutex<Option<(PathBuf, Fingerprint, Arc<SchemaSet>)>> = Mutex::new(None);

/// The embedded schemas, compiled once per process.
pub fn embedded_schemas() -> Result<Arc<SchemaSet>, DocumentError> {
    EMBEDDED
        .get_or_init(|| SchemaSet::embedded().map(Arc::new).map_err(|e| e.to_string()))
        .clone()
        .map_err(|message| DocumentError::Decode { path: PathBuf::from("<embedded schemas>"), message })
}

/// The plane's schemas ([`SchemaSet::for_plane`]), compiled again only when the files of
/// `HOT/schemas/` change (name, size or modification time).
pub fn plane_schemas(plane: &Plane) -> Result<Arc<SchemaSet>, SchemaError> {
    let dir = plane.dir(Tier::Hot, "schemas");
    let mut fp: Fingerprint = Vec::new();
    if dir.is_dir() {
        for e in crate::fsx::read_dir(&dir)? {
            let m = crate::fsx::metadata(e.path())?;
            fp.push((e.file_name().to_string_lossy().into_owned(), m.len(), m.modified().ok()));
        }
    }
    let mut g = PLANE_CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((root, f, s)) = g.as_ref()
        && root == plane.root()
        && *f == fp
    {
        return Ok(s.clone());
    }
    let s = Arc::new(SchemaSet::for_plane(plane)?);
    *g = Some((plane.root().to_path_buf(), fp, s.clone()));
    Ok(s)
}

/// The install config shipped by `PKG-GENESIS-000`, compiled in (one copy in the repository).
pub const DEFAULT_INSTALL_CONFIG_JSON: &str =
    include_str!("../../../packages/PKG-GENESIS-000/HOT/config/install_config.json");

/// File name of an install transaction's journal inside its staging directory
/// (`HOT/<staging_dir>/<txn>/journal.json`): written by the installer, read by the gates.
pub const INSTALL_JOURNAL_FILE: &str = "journal.json";

/// Plane-relative path of the installed install config.
pub const INSTALL_CONFIG_PATH: &str = "HOT/config/install_config.json";

/// Name of the schema the install config is validated against.
pub const INSTALL_CONFIG_SCHEMA: &str = "install_config";

/// Installer settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallConfig {
    /// Format version, always `1.0`.
    pub schema_version: String,
    /// Caps applied by the strict archive reader.
    pub archive: ArchiveCaps,
    /// Directory inside `HOT/` for staging and install journals. Default `.staging`.
    pub staging_dir: String,
    /// What G1 does with a package whose framework/spec is not registered yet. Default
    /// `defer_pinned`.
    #[serde(default)]
    pub pending_framework_policy: PendingFrameworkPolicy,
}

/// Caps of the strict archive reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveCaps {
    /// Largest member, bytes (decompressed). Default 16 MiB.
    pub max_member_bytes: u64,
    /// Largest decompressed tar stream, bytes. Default 256 MiB.
    pub max_total_bytes: u64,
    /// Most entries (files and directories). Default 10 000.
    pub max_members: u64,
    /// Largest decompressed/compressed byte ratio. Default 200.
    pub max_compression_ratio: u64,
    /// Bytes decompressed before the ratio is enforced. Default 1 MiB.
    pub ratio_check_min_bytes: u64,
    /// Largest tar extension record (GNU long name/link, PAX header), bytes: checked before the
    /// record is read, so a member name is never larger. Default 64 KiB.
    #[serde(default = "default_max_header_record_bytes")]
    pub max_header_record_bytes: u64,
}

fn default_max_header_record_bytes() -> u64 {
    65536
}

/// G1's treatment of a framework or spec that is not registered yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingFrameworkPolicy {
    /// Always refuse.
    Strict,
    /// Packages trusted through the pinned bootstrap digests may wait for their framework.
    #[default]
    DeferPinned,
}

impl InstallConfig {
    /// The compiled-in default, validated against the schema.
    pub fn builtin() -> Result<Self, DocumentError> {
        let schemas = SchemaSet::embedded()
            .map_err(|e| DocumentError::Decode { path: INSTALL_CONFIG_PATH.into(), message: e.to_string() })?;
        Self::parse(&schemas, Path::new(INSTALL_CONFIG_PATH), DEFAULT_INSTALL_CONFIG_JSON)
    }

    fn parse(schemas: &SchemaSet, path: &Path, text: &str) -> Result<Self, DocumentError> {
        if schemas.names().any(|n| n == INSTALL_CONFIG_SCHEMA) {
            schemas.load_str(INSTALL_CONFIG_SCHEMA, path, text)
        } else {
            serde_json::from_str(text)
                .map_err(|e| DocumentError::Decode { path: path.to_path_buf(), message: e.to_string() })
        }
    }

    /// The plane's installed config, or the compiled-in default before genesis is installed.
    pub fn for_plane(plane: &Plane) -> Result<Self, DocumentError> {
        let path = plane.root().join(INSTALL_CONFIG_PATH);
        if !path.is_file() {
            return Self::builtin();
        }
        let schemas =
            plane_schemas(plane).map_err(|e| DocumentError::Decode { path: path.clone(), message: e.to_string() })?;
        let text = crate::fsx::read_to_string(&path)?;
        Self::parse(&schemas, &path, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_validates_against_its_schema_and_decodes() {
        let schemas = SchemaSet::embedded().unwrap();
        assert!(schemas.names().any(|n| n == INSTALL_CONFIG_SCHEMA), "install_config schema not embedded");
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../packages/PKG-GENESIS-000/HOT/config/install_config.json");
        let c: InstallConfig = schemas.load_document(INSTALL_CONFIG_SCHEMA, &path).unwrap();
        assert_eq!(c, InstallConfig::builtin().unwrap());
        // Unknown keys are refused by both the schema and the struct.
        let bad = DEFAULT_INSTALL_CONFIG_JSON.replacen("\"staging_dir\"", "\"surprise\": 1, \"staging_dir\"", 1);
        assert!(schemas.load_str::<InstallConfig>(INSTALL_CONFIG_SCHEMA, &path, &bad).is_err());
        assert!(serde_json::from_str::<InstallConfig>(&bad).is_err());
    }
}
