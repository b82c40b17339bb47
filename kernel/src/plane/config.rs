//! Plane-local operator configuration (`HOT/plane/plane.json`): not governed by packages,
//! changed only through `cpctl` / `cp-install` commands, which log each change to the ledger.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Durability, Layout, LedgerBackend, PlaneError};
use crate::fsx;

/// Name of the plane config's schema (`schemas/plane_config.schema.json`).
pub const PLANE_CONFIG_SCHEMA: &str = "plane_config";

/// Operator settings of one plane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaneConfig {
    /// Identifier of this plane (written into registries and checkpoints as `origin`).
    pub plane_id: String,
    /// Ledger backend override (else the layout's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger_backend: Option<LedgerBackend>,
    /// Durability override (else the layout's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durability: Option<Durability>,
    /// PostgreSQL ledger settings (schema, connection string file), used when the backend is
    /// `postgres`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgres: Option<super::PostgresLedgerConfig>,
    /// Whether packages must carry a signature by a trusted key (G5). Default `true`.
    #[serde(default = "default_true")]
    pub require_signatures: bool,
    /// Public keys trusted to sign packages.
    #[serde(default)]
    pub trusted_keys: Vec<TrustedKey>,
    /// Limits for parsing the plane's documents (document size, depth, YAML budgets); absent =
    /// [`crate::schema::ParseLimits::default`], a field left out = its default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_limits: Option<crate::schema::ParseLimits>,
}

/// A public key in the plane's trust store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    /// Key identifier (hex SHA-256 of the public key, first 16 characters).
    pub key_id: String,
    /// Ed25519 public key, 64 lowercase hex characters.
    pub public_key: String,
    /// Free-text note (who holds the key).
    #[serde(default)]
    pub note: String,
}

fn default_true() -> bool {
    true
}

impl Default for PlaneConfig {
    fn default() -> Self {
        Self {
            plane_id: "cp-plane".to_string(),
            ledger_backend: None,
            durability: None,
            postgres: None,
            require_signatures: true,
            trusted_keys: Vec::new(),
            parse_limits: None,
        }
    }
}

impl PlaneConfig {
    /// Where the plane config lives under `root`.
    pub fn path_in(root: &Path, layout: &Layout) -> PathBuf {
        root.join("HOT").join(layout.dir_name("plane")).join("plane.json")
    }

    pub(crate) fn load_or_default(path: &Path) -> Result<Self, PlaneError> {
        if !path.exists() {
            return Ok(Self::default());
        }
        Self::load(path)
    }

    /// Reads a plane config document, validated against the embedded `plane_config` schema
    /// (errors give file:line:column, the field path and what was expected) and decoded.
    pub fn load(path: &Path) -> Result<Self, PlaneError> {
        let schemas = crate::schema::SchemaSet::embedded_plane_documents()?;
        Ok(schemas.load_document(PLANE_CONFIG_SCHEMA, path)?)
    }

    pub(crate) fn save(&self, path: &Path) -> Result<(), PlaneError> {
        // Never write a document that would be refused when the plane is next opened.
        let value = serde_json::to_value(self)
            .map_err(|e| PlaneError::InvalidDocument { path: path.to_path_buf(), message: e.to_string() })?;
        crate::schema::SchemaSet::embedded_plane_documents()?.validate(PLANE_CONFIG_SCHEMA, &value).map_err(
            |e| match e {
                crate::schema::DocumentError::Invalid { schema, violations, .. } => {
                    crate::schema::DocumentError::Invalid { path: path.to_path_buf(), schema, violations }
                }
                other => other,
            },
        )?;
        if let Some(dir) = path.parent() {
            fsx::create_dir_all(dir)?;
        }
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| PlaneError::InvalidDocument { path: path.to_path_buf(), message: e.to_string() })?;
        text.push('\n');
        fsx::write_atomic(path, text)?;
        Ok(())
    }
}
