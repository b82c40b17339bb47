//! The attention service: assembles the context an agent needs before a prompt is sent, by
//! running the pipeline of an attention template (YAML) over the plane's ledger, registries
//! and files.
//!
//! Owns: the request/response types ([`AttentionRequest`], [`AssembledContext`]), templates
//! (`<TIER>/attention_templates/*.yaml|*.json`, schema `attention_template`), template
//! resolution, the merge of a prompt contract's `required_context`, one file per stage type
//! (`stages/<type>.rs`), budgets (checked before and inside stages), halting with reruns,
//! fallbacks, the in-memory TTL cache, the BM25 index of `horizontal_search`, and the token
//! estimate. Service settings come from `HOT/config/attention_config.yaml` (schema
//! `attention_config`; the copy shipped by `PKG-ATTENTION-001` is compiled in as the default).
//!
//! Never does: write the ledger, send a prompt, or read a path outside the plane. The pipeline
//! trace and halting record travel to the router, which logs them inside `PROMPT_SENT`.
//!
//! Flow of [`AttentionService::assemble`]: resolve the template (override → most specific
//! `applies_to` match → minimal default with a warning; ties fail closed; invalid templates are
//! skipped with a warning, or fail closed when they would have matched — see
//! [`invalid_templates`]) → merge `required_context` → cache lookup (keyed on every request
//! field) → run stages under the budget → halting decision (unsatisfied after the reruns applies
//! `on_empty`) → fallbacks → [`AssembledContext`] whose `context_hash` is the SHA-256 of
//! `context_text`. Decisions: `docs/ATTENTION.md`.

#[cfg(feature = "bench")]
pub mod bench;
mod bm25;
mod budget;
mod cache;
mod catalog;
mod config;
mod context;
mod error;
mod locate;
mod merge;
mod pipeline;
mod request;
mod resolve;
mod retrieval;
mod service;
pub(crate) mod stages;
mod template;
mod tokens;

#[cfg(test)]
mod tests;

pub use catalog::{InvalidSelector, InvalidTemplate, invalid_templates};
pub use config::{
    ATTENTION_CONFIG_PATH, ATTENTION_CONFIG_SCHEMA, AttentionConfig, CacheConfig, DEFAULT_ATTENTION_CONFIG_YAML,
    DefaultTemplateConfig, RequiredContextDefaults, SearchConfig,
};
pub use context::{
    AssembledContext, BudgetLimit, BudgetUsed, CacheStatus, ContextFragment, FragmentSource, HaltReason, HaltingRecord,
    RetrievalCandidate, StageResult, StageStatus,
};
pub use error::{AttentionError, TemplateIssue};
pub use request::{AgentClass, AttentionRequest};
pub use resolve::{Candidate, MergedStage, ResolutionExplanation, StageOrigin};
pub use retrieval::RetrievalConfig;
pub use service::{
    AttentionService, AttentionServiceBuilder, CustomStage, CustomStageInput, TemplateReport, validate_template_file,
};
pub use template::{
    ATTENTION_TEMPLATE_SCHEMA, AppliesTo, AttentionTemplate, Fallback, LoadedTemplate, OnEmpty, OnTimeout, StageSpec,
    TemplateBudget, load_template_file, load_template_str,
};
pub use tokens::estimate_tokens;
