//! Service-level settings (`HOT/config/attention_config.yaml`, schema `attention_config`).
//! The copy shipped by `PKG-ATTENTION-001` is compiled in and used when the plane has none.

use serde::{Deserialize, Serialize};

use super::stages::structuring::StructuringConfig;
use super::template::{Fallback, TemplateBudget};

/// Schema name of the service config.
pub const ATTENTION_CONFIG_SCHEMA: &str = "attention_config";

/// Plane-relative path of the service config.
pub const ATTENTION_CONFIG_PATH: &str = "HOT/config/attention_config.yaml";

/// The shipped default config (`packages/PKG-ATTENTION-001/HOT/config/attention_config.yaml`).
pub const DEFAULT_ATTENTION_CONFIG_YAML: &str =
    include_str!("../../../packages/PKG-ATTENTION-001/HOT/config/attention_config.yaml");

/// Attention service configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttentionConfig {
    /// Characters per estimated token (shipped: 4).
    pub chars_per_token: f64,
    /// Context cache.
    pub cache: CacheConfig,
    /// Ledger name inside a tier read when a stage names none (shipped: `prompts`).
    pub default_ledger: String,
    /// Header line before each fragment; `{source}`, `{source_id}`, `{stage}` are replaced
    /// (shipped: `--- {source} {source_id} ---`).
    pub fragment_header: String,
    /// `horizontal_search` indexing.
    pub search: SearchConfig,
    /// Parameters of stages merged from `required_context`.
    pub required_context_defaults: RequiredContextDefaults,
    /// The minimal default template.
    pub default_template: DefaultTemplateConfig,
    /// What `PROMPT_SENT` records of retrieval (default: 20 candidates per stage).
    #[serde(default)]
    pub retrieval: super::retrieval::RetrievalConfig,
}

/// Context cache settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// Time to live, monotonic milliseconds (shipped: 60000).
    pub ttl_ms: u64,
    /// Contexts kept; the oldest is evicted first; 0 disables caching (shipped: 256).
    pub max_entries: usize,
}

/// Search index settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchConfig {
    /// Files larger than this many bytes are not indexed (shipped: 65536).
    pub max_file_bytes: u64,
    /// Minimum monotonic milliseconds between re-checks of a cached index's ledger heads and
    /// file mtimes/sizes; 0 = check before every search (shipped: 0).
    pub index_recheck_ms: u64,
    /// Shortest term in characters kept by the tokenizer (shipped: 2).
    pub min_term_chars: usize,
    /// Layout directory names inside a tier whose files are never indexed (shipped:
    /// `ledger`, `plane`, `staging`, `installed`).
    pub exclude_dirs: Vec<String>,
}

/// Defaults for stages merged from a contract's `required_context`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredContextDefaults {
    /// `max_entries` of a merged `ledger_query` when the contract gives none (shipped: 10).
    pub ledger_max_entries: u64,
    /// `max_size_bytes` of a merged `file_read` (shipped: 16384).
    pub file_max_size_bytes: u64,
}

/// The minimal default template: required_context merged into an empty pipeline, then one
/// structuring stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultTemplateConfig {
    /// Its id (shipped: `ATT-DEFAULT-000`).
    pub template_id: String,
    /// Its version.
    pub version: String,
    /// Its structuring stage.
    pub structuring: StructuringConfig,
    /// Its budget.
    pub budget: TemplateBudget,
    /// Its fallbacks (`on_empty: use_default` is not allowed here).
    pub fallback: Fallback,
}

impl AttentionConfig {
    /// The shipped default, validated against the embedded schema.
    pub fn shipped(schemas: &crate::schema::SchemaSet) -> Result<Self, crate::schema::DocumentError> {
        schemas.load_str(
            ATTENTION_CONFIG_SCHEMA,
            std::path::Path::new(ATTENTION_CONFIG_PATH),
            DEFAULT_ATTENTION_CONFIG_YAML,
        )
    }

    /// The plane's `HOT/config/attention_config.yaml` if present, else the shipped default.
    pub fn for_plane(
        plane: &crate::plane::Plane,
        schemas: &crate::schema::SchemaSet,
    ) -> Result<Self, super::AttentionError> {
        let path = plane.resolve(ATTENTION_CONFIG_PATH)?;
        if path.is_file() {
            Ok(schemas.load_document(ATTENTION_CONFIG_SCHEMA, &path)?)
        } else {
            Ok(Self::shipped(schemas)?)
        }
    }
}
