//! Prompt contracts (`HOT/contracts/*.yaml`, schema `prompt_contract.schema.json`): what a
//! prompt needs (`required_context`, read by the attention service) and how it may be sent
//! (`input_schema`, `output_schema`, `boundary`, read by the router).
//!
//! Never does: decide how context is assembled (the attention template does) or send anything.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::schema::{DocumentError, SchemaSet};

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
    /// by the request input's top-level string values.
    pub prompt_template: String,
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

    /// SHA-256 (hex) of the contract's canonical JSON: part of the attention cache key.
    pub fn hash(&self) -> String {
        let v = serde_json::to_value(self).unwrap_or(Value::Null);
        let bytes = crate::ledger::canonical::to_vec(&v);
        crate::hashing::sha256_hex(&bytes)
    }
}
