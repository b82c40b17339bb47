//! Prompt contracts (`HOT/contracts/*.yaml`, schema `prompt_contract.schema.json`): what a
//! prompt needs (`required_context`, read by the attention service) and how it may be sent
//! (`input_schema`, `output_schema`, `boundary`, read by the router).
//!
//! Never does: decide how context is assembled (the attention template does) or send anything.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::package::receipt::current_owners;
use crate::plane::Plane;
use crate::schema::{DocumentError, SchemaSet};

/// Directory (inside a tier) of prompt packs, and their file extension.
pub const PROMPT_PACKS_DIR: &str = "prompt_packs";

/// File extension of a prompt pack.
pub const PROMPT_PACK_EXT: &str = "txt";

/// Name of the schema every contract is validated against.
pub const PROMPT_CONTRACT_SCHEMA: &str = "prompt_contract";

/// A prompt contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptContract {
    /// `PRC-…` identifier.
    pub contract_id: String,
    /// Semver version.
    pub version: String,
    /// What the prompt is for.
    #[serde(default)]
    pub description: String,
    /// The prompt text; `{{context}}` is replaced by the assembled context and `{{input.KEY}}`
    /// by the request input's top-level string values. A contract has either this or
    /// `prompt_pack_id` (the schema allows exactly one); for a pack contract it holds the pack's
    /// text once resolved ([`PromptContract::load_in_plane`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prompt_template: String,
    /// `PRM-…` id of the prompt pack holding the template (the Control Plane v2 form): the text
    /// is the governed file `<tier>/prompt_packs/<id>.txt` of the contract's tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_pack_id: Option<String>,
    /// JSON Schema the request input must satisfy before anything is sent.
    #[serde(default = "empty_object_schema")]
    pub input_schema: Value,
    /// JSON Schema the provider's output is validated against (result logged in `PROMPT_RECEIVED`).
    #[serde(default)]
    pub output_schema: Option<Value>,
    /// Limits the router enforces.
    pub boundary: Boundary,
    /// What context the prompt needs (merged into the attention pipeline).
    #[serde(default)]
    pub required_context: RequiredContext,
}

/// Limits of one prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Boundary {
    /// Maximum output tokens (also the output part of the budget reservation).
    pub max_tokens: u64,
    /// Sampling temperature (0.0–2.0).
    pub temperature: f64,
    /// Provider/model override (else the router config's default).
    #[serde(default)]
    pub model: Option<String>,
}

/// Context a prompt requires.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredContext {
    /// Ledger queries → `ledger_query` stages.
    #[serde(default)]
    pub ledger_queries: Vec<RequiredLedgerQuery>,
    /// Framework ids → `registry_query` stages over the frameworks registry.
    #[serde(default)]
    pub framework_refs: Vec<String>,
    /// Plane-relative file paths → `file_read` stages.
    #[serde(default)]
    pub file_refs: Vec<String>,
}

/// One required ledger query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredLedgerQuery {
    /// Event type to read.
    pub event_type: String,
    /// Maximum entries.
    #[serde(default)]
    pub max_entries: Option<u64>,
    /// Recency: `session`, `work_order`, `last:N`, or a duration like `24h`.
    #[serde(default)]
    pub recency: Option<String>,
    /// Tier of the ledger (`hot`, `ho2`, `ho1`).
    #[serde(default)]
    pub tier: Option<String>,
}

fn empty_object_schema() -> Value {
    serde_json::json!({"type": "object"})
}

impl PromptContract {
    /// Loads and validates a contract file.
    pub fn load(schemas: &SchemaSet, path: &Path) -> Result<Self, DocumentError> {
        schemas.load_document(PROMPT_CONTRACT_SCHEMA, path)
    }

    /// Loads a contract of the plane and, for a `prompt_pack_id` contract, reads the pack's text
    /// into `prompt_template`. The pack is `<tier>/prompt_packs/<id>.txt` of the tier the
    /// contract lives in; it must be owned by an installed package and match its recorded hash
    /// (a governed file), else the contract is refused.
    pub fn load_in_plane(plane: &Plane, schemas: &SchemaSet, path: &Path) -> Result<Self, DocumentError> {
        let mut c = Self::load(schemas, path)?;
        c.resolve_pack(plane, path)?;
        Ok(c)
    }

    /// Resolves `prompt_pack_id` (see [`PromptContract::load_in_plane`]); nothing for an inline
    /// template.
    pub fn resolve_pack(&mut self, plane: &Plane, contract_path: &Path) -> Result<(), DocumentError> {
        let Some(id) = self.prompt_pack_id.clone() else { return Ok(()) };
        let refuse = |message: String| DocumentError::Decode { path: contract_path.to_path_buf(), message };
        let tier = plane
            .relative(contract_path)
            .and_then(|r| r.split('/').next().map(str::to_string))
            .ok_or_else(|| refuse(format!("prompt_pack_id {id}: the contract is not inside the plane")))?;
        let rel = format!("{tier}/{PROMPT_PACKS_DIR}/{id}.{PROMPT_PACK_EXT}");
        let owners = current_owners(plane).map_err(|e| refuse(format!("prompt_pack_id {id}: {e}")))?;
        let Some(row) = owners.get(&rel) else {
            return Err(refuse(format!(
                "prompt_pack_id {id}: {rel} is not a governed file (no installed package owns it)"
            )));
        };
        let file = plane.resolve(&rel).map_err(|e| refuse(format!("prompt_pack_id {id}: {e}")))?;
        let bytes = crate::fsx::read(&file)?;
        let actual = crate::hashing::sha256_prefixed(&bytes);
        if actual != row.sha256 {
            return Err(refuse(format!(
                "prompt_pack_id {id}: {rel} is {actual}, but {} installed {}",
                row.package_id, row.sha256
            )));
        }
        self.prompt_template =
            String::from_utf8(bytes).map_err(|_| refuse(format!("prompt_pack_id {id}: {rel} is not UTF-8")))?;
        Ok(())
    }

    /// `sha256:` of the resolved prompt pack text (`None` for an inline template).
    pub fn prompt_pack_sha256(&self) -> Option<String> {
        self.prompt_pack_id.as_ref().map(|_| crate::hashing::sha256_prefixed(self.prompt_template.as_bytes()))
    }

    /// SHA-256 (hex) of the contract's canonical JSON: part of the attention cache key.
    pub fn hash(&self) -> String {
        let v = serde_json::to_value(self).unwrap_or(Value::Null);
        let bytes = crate::ledger::canonical::to_vec(&v);
        crate::hashing::sha256_hex(&bytes)
    }
}
