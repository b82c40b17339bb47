//! Budget configuration (`HOT/config/budget_config.yaml`, schema `budget_config`) and the price
//! book (`HOT/config/price_book.yaml`, schema `price_book`), both shipped by
//! `PKG-TOKEN-BUDGETER-001`.

use serde::{Deserialize, Serialize};

/// Schema name of the budget config.
pub const BUDGET_CONFIG_SCHEMA: &str = "budget_config";
/// Schema name of the price book.
pub const PRICE_BOOK_SCHEMA: &str = "price_book";
/// Plane-relative path of the budget config.
pub const BUDGET_CONFIG_PATH: &str = "HOT/config/budget_config.yaml";
/// Plane-relative path of the price book.
pub const PRICE_BOOK_PATH: &str = "HOT/config/price_book.yaml";
/// Package that ships the budget config and the price book.
pub const BUDGET_PACKAGE: &str = "PKG-TOKEN-BUDGETER-001";

/// The budgeter's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    /// Document format version (`"1.0"`).
    pub schema_version: String,
    /// Characters per token of the input *estimate* (count; default 4): logged as
    /// `input_tokens_estimate` in `PROMPT_SENT` and used by the mock provider to count usage.
    pub chars_per_token: u64,
    /// Upper bound of the input tokens a provider can count for a prompt, reserved before sending.
    pub input_bound: InputBound,
    /// Allocation applied (and logged) the first time a scope without one is charged.
    pub defaults: ScopeDefaults,
    /// Fixed-window rate limits (default: one per tenant, one per provider).
    pub rate_limits: Vec<RateLimitRule>,
}

/// How the input tokens of a reservation are bounded: `ceil(UTF-8 bytes of the rendered prompt /
/// min_bytes_per_token) + overhead_tokens`. With `min_bytes_per_token: 1` this bounds every
/// byte-level BPE tokenizer (no token covers less than one byte), so a reservation is an upper
/// bound of the settled usage whenever the provider honours `max_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputBound {
    /// Fewest prompt bytes a provider's token covers (count, ≥ 1; default 1).
    pub min_bytes_per_token: u64,
    /// Tokens a provider adds around the prompt: chat framing, role and special tokens (count;
    /// default 32).
    pub overhead_tokens: u64,
}

/// Default allocation per scope kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeDefaults {
    /// Tenant scope.
    pub tenant: LimitConfig,
    /// Session scope.
    pub session: LimitConfig,
    /// Work-order scope.
    pub work_order: LimitConfig,
    /// Agent scope.
    pub agent: LimitConfig,
}

/// Limits of one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    /// Hard limit in tokens (input + output); `null` = unlimited.
    pub max_tokens: Option<u64>,
    /// Hard limit in cost micro-units; `null` = unlimited.
    pub max_cost_micros: Option<u64>,
    /// Percentage of a hard limit at which `BUDGET_WARNING` is logged once (0–100; default 80).
    pub warn_threshold_pct: u8,
}

/// What a rate limit counts per.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateTarget {
    /// Per tenant.
    Tenant,
    /// Per session.
    Session,
    /// Per work order.
    WorkOrder,
    /// Per agent.
    Agent,
    /// Per provider.
    Provider,
}

/// One fixed-window rate limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitRule {
    /// What is counted per.
    pub applies_to: RateTarget,
    /// For `provider` rules: only this provider (`null`/absent = every provider).
    #[serde(default)]
    pub provider: Option<String>,
    /// Window length (milliseconds of the router clock).
    pub window_ms: u64,
    /// Maximum requests sent per window; `null` = unlimited.
    #[serde(default)]
    pub max_requests: Option<u64>,
    /// Maximum reserved tokens per window; `null` = unlimited.
    #[serde(default)]
    pub max_tokens: Option<u64>,
}

/// The versioned price book.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceBook {
    /// Document format version (`"1.0"`).
    pub schema_version: String,
    /// ISO 4217 currency of the micro-units.
    pub currency: String,
    /// Versions; the one in force at time t has the latest `effective_from` ≤ t.
    pub versions: Vec<PriceVersion>,
}

/// One price-book version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceVersion {
    /// Version label recorded in every entry priced with it.
    pub version: String,
    /// RFC 3339 time from which it is in force.
    pub effective_from: String,
    /// Prices per provider and model.
    pub prices: Vec<Price>,
}

/// Price of one provider/model in micro-units per million tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Provider name.
    pub provider: String,
    /// Model name, or `*` for any model of the provider (an exact name wins).
    pub model: String,
    /// Input tokens (micro-units per million tokens).
    pub input_per_mtok: u64,
    /// Cached input tokens (micro-units per million tokens).
    pub cached_input_per_mtok: u64,
    /// Output tokens (micro-units per million tokens).
    pub output_per_mtok: u64,
}

impl Price {
    /// The most [`Price::cost_micros`] can charge for at most `input_tokens` input tokens (cached
    /// or not, in any split) and at most `output_tokens` output tokens: the input at the dearer of
    /// the input and cached-input rates, plus one micro-unit for the rounding of a
    /// cached/uncached split when both rates are non-zero. A reservation priced with it bounds the
    /// settled cost.
    pub fn max_cost_micros(&self, input_tokens: u64, output_tokens: u64) -> u64 {
        let part = |tokens: u64, rate: u64| -> u128 { (u128::from(tokens) * u128::from(rate)).div_ceil(1_000_000) };
        let split = u128::from(input_tokens > 1 && self.input_per_mtok > 0 && self.cached_input_per_mtok > 0);
        let total = part(input_tokens, self.input_per_mtok.max(self.cached_input_per_mtok))
            + split
            + part(output_tokens, self.output_per_mtok);
        u64::try_from(total).unwrap_or(u64::MAX)
    }

    /// Cost in micro-units of the given usage, rounded up per component (integer arithmetic).
    pub fn cost_micros(&self, input_tokens: u64, cached_input_tokens: u64, output_tokens: u64) -> u64 {
        let part = |tokens: u64, rate: u64| -> u128 { (u128::from(tokens) * u128::from(rate)).div_ceil(1_000_000) };
        let uncached = input_tokens.saturating_sub(cached_input_tokens);
        let total = part(uncached, self.input_per_mtok)
            + part(cached_input_tokens.min(input_tokens), self.cached_input_per_mtok)
            + part(output_tokens, self.output_per_mtok);
        u64::try_from(total).unwrap_or(u64::MAX)
    }
}

impl PriceBook {
    /// The version in force at `now_ms` (Unix milliseconds): the latest `effective_from` not after
    /// it. `None` when every version is in the future or a date does not parse.
    pub fn version_at(&self, now_ms: u64) -> Option<&PriceVersion> {
        self.versions
            .iter()
            .filter_map(|v| {
                let ts: jiff::Timestamp = v.effective_from.parse().ok()?;
                let ms = u64::try_from(ts.as_millisecond()).ok()?;
                (ms <= now_ms).then_some((ms, v))
            })
            .max_by_key(|(ms, _)| *ms)
            .map(|(_, v)| v)
    }
}

impl PriceVersion {
    /// The price of `provider`/`model` (exact model first, then `*`).
    pub fn price(&self, provider: &str, model: &str) -> Option<&Price> {
        self.prices
            .iter()
            .find(|p| p.provider == provider && p.model == model)
            .or_else(|| self.prices.iter().find(|p| p.provider == provider && p.model == "*"))
    }
}
