//! Router configuration (`HOT/config/router_config.yaml`, schema `router_config`), shipped by
//! `PKG-PROMPT-ROUTER-001`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::auth::AuthConfig;
use crate::providers::ProviderErrorCode;

/// Schema name of the router config.
pub const ROUTER_CONFIG_SCHEMA: &str = "router_config";
/// Plane-relative path of the router config.
pub const ROUTER_CONFIG_PATH: &str = "HOT/config/router_config.yaml";
/// Package that ships the router config.
pub const ROUTER_PACKAGE: &str = "PKG-PROMPT-ROUTER-001";

/// The router config shipped by `PKG-PROMPT-ROUTER-001` (compiled in for benches and tools that
/// build a plane from scratch; the plane's installed copy is what the router reads).
pub const SHIPPED_ROUTER_CONFIG: &str =
    include_str!("../../../packages/PKG-PROMPT-ROUTER-001/HOT/config/router_config.yaml");
/// The budget config shipped by `PKG-TOKEN-BUDGETER-001` (compiled in, see above).
pub const SHIPPED_BUDGET_CONFIG: &str =
    include_str!("../../../packages/PKG-TOKEN-BUDGETER-001/HOT/config/budget_config.yaml");
/// The price book shipped by `PKG-TOKEN-BUDGETER-001` (compiled in, see above).
pub const SHIPPED_PRICE_BOOK: &str =
    include_str!("../../../packages/PKG-TOKEN-BUDGETER-001/HOT/config/price_book.yaml");

/// What prompt and response text the ledger records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogContent {
    /// The full text.
    Full,
    /// Only its SHA-256.
    Hash,
    /// Neither (the hash of the prompt is still recorded as `prompt_hash`).
    None,
}

/// The router's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterConfig {
    /// Document format version (`"1.0"`).
    pub schema_version: String,
    /// Ledger for prompt and budget entries (`TIER/name`; default `HO1/prompts`).
    pub ledger: String,
    /// Provider used when the contract names none (default `mock`).
    pub default_provider: String,
    /// Per-attempt timeout when the provider sets none (milliseconds; default 30000).
    pub default_timeout_ms: u64,
    /// Overall deadline of one dispatch — every attempt, backoff and fallback provider together —
    /// on the router clock (milliseconds, ≥ 1; default 120000). No attempt starts and no backoff
    /// is slept once it would be reached; an attempt's timeout is cut to the time left.
    pub dispatch_deadline_ms: u64,
    /// Prompt/response text policy (default `hash`).
    pub log_content: LogContent,
    /// Providers tried in order after the chosen one (default empty).
    pub fallback_providers: Vec<String>,
    /// Largest provider response body read (bytes; default 10485760).
    pub max_response_bytes: u64,
    /// Bounds on contracts.
    pub limits: Limits,
    /// Retry policy.
    pub retries: RetryConfig,
    /// Providers by name.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Authentication and authorisation.
    pub auth: AuthConfig,
    /// What a route request whose contract no package owns gets (default `warn`).
    #[serde(default)]
    pub ungoverned_contracts: UngovernedContracts,
    /// Degrade profiles, in the order their triggers are evaluated (default none).
    #[serde(default)]
    pub degrade_profiles: Vec<super::degrade::DegradeProfile>,
    /// Settled prompts (most recent) read to derive the shared breaker and error-rate state
    /// (count; default 200).
    #[serde(default = "default_shared_window")]
    pub shared_state_window_entries: usize,
    /// The runtime guard on the prompt's work order (default: not required; states `executing`).
    #[serde(default)]
    pub work_order_guard: super::work_order::WorkOrderGuard,
}

/// The schema's default of `shared_state_window_entries` (an older config without the field).
fn default_shared_window() -> usize {
    200
}

/// Policy for a contract that is not governed: outside the plane, or inside it but owned by no
/// package. Either way the use is recorded (`CONTRACT_UNGOVERNED`) before anything is routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UngovernedContracts {
    /// Route, with a warning to the caller and the `CONTRACT_UNGOVERNED` entry (`ALLOW`).
    #[default]
    Warn,
    /// Refuse (`CONTRACT_UNGOVERNED`, exit 2), logged (`DENY`).
    Refuse,
}

/// Bounds every contract's `boundary` must respect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest `max_tokens` accepted (tokens; default 32768).
    pub max_tokens_ceiling: u64,
    /// Lowest temperature accepted (default 0.0).
    pub temperature_min: f64,
    /// Highest temperature accepted (default 2.0).
    pub temperature_max: f64,
}

/// Retry policy (per provider, before falling back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts per provider, the first included (count; default 3).
    pub max_attempts: u32,
    /// Backoff before the second attempt (milliseconds; default 200).
    pub backoff_initial_ms: u64,
    /// Factor applied to the backoff after each attempt (default 2).
    pub backoff_multiplier: u64,
    /// Largest backoff (milliseconds; default 5000).
    pub backoff_max_ms: u64,
    /// Longest `Retry-After` honoured; a longer one ends the retries (milliseconds; default 30000).
    pub max_retry_after_ms: u64,
    /// Error codes that are retried; every other code fails at once.
    pub retryable_codes: Vec<ProviderErrorCode>,
}

/// Kind of a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// The deterministic mock.
    Mock,
    /// OpenAI-compatible `/v1/chat/completions`.
    OpenaiCompatible,
    /// Anthropic Messages.
    Anthropic,
}

/// One provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Kind.
    pub kind: ProviderKind,
    /// Base URL (HTTP kinds; required for them).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Environment variable that overrides `base_url` when set.
    #[serde(default)]
    pub base_url_env: Option<String>,
    /// Environment variable holding the API key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// API version header (Anthropic `anthropic-version`).
    #[serde(default)]
    pub api_version: Option<String>,
    /// Model used when the contract names none.
    pub default_model: String,
    /// Per-attempt timeout (milliseconds; default: `default_timeout_ms`).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Circuit breaker.
    pub circuit_breaker: BreakerConfig,
}

/// Circuit-breaker settings of one provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failed calls that open the circuit (count; default 5).
    pub failure_threshold: u32,
    /// Time the circuit stays open before half-opening (milliseconds; default 30000).
    pub recovery_timeout_ms: u64,
    /// Successful probes in half-open state that close it; also the most probes in flight
    /// (count; default 1).
    pub half_open_probes: u32,
}
