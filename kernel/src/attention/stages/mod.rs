//! Stage types, one file each (file name = the YAML `type`). Each file holds its
//! `<Stage>Config` (`deny_unknown_fields`, no `flatten`, every field documented with unit and
//! default), a pure `validate`, and `run` over a `StageCtx`. This module dispatches on the
//! type with one exhaustive `match`; only `custom` goes through names the embedder registers.

pub(crate) mod custom;
pub(crate) mod file_read;
pub(crate) mod halting;
pub(crate) mod horizontal_search;
pub(crate) mod ledger_query;
pub(crate) mod registry_query;
pub(crate) mod structuring;
pub(crate) mod tier_select;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::budget::BudgetTracker;
use super::context::{BudgetLimit, ContextFragment, FragmentSource, StageStatus};
use super::pipeline::{Env, PipelineState};
use super::request::AttentionRequest;
use super::tokens::{estimate_tokens, prefix_within};

pub use custom::CustomConfig;
pub use file_read::FileReadConfig;
pub use halting::{HaltingConfig, RelaxConfig};
pub use horizontal_search::{HorizontalSearchConfig, SearchSourceKind};
pub use ledger_query::LedgerQueryConfig;
pub use registry_query::RegistryQueryConfig;
pub use structuring::{Structured, StructuringConfig, StructuringStrategy};
pub use tier_select::{TierSelectConfig, TierStrategy};

/// The stage types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageType {
    /// Sets the tiers later stages read.
    TierSelect,
    /// Reads ledger entries through indexed queries.
    LedgerQuery,
    /// Reads registry rows.
    RegistryQuery,
    /// Reads files inside the plane.
    FileRead,
    /// BM25 search over ledger entries, registry rows and files.
    HorizontalSearch,
    /// Dedupes, orders and trims the fragments.
    Structuring,
    /// Decides whether the context suffices (and reruns searches if not).
    Halting,
    /// Calls a handler registered by the embedding program.
    Custom,
}

impl StageType {
    /// The YAML name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TierSelect => "tier_select",
            Self::LedgerQuery => "ledger_query",
            Self::RegistryQuery => "registry_query",
            Self::FileRead => "file_read",
            Self::HorizontalSearch => "horizontal_search",
            Self::Structuring => "structuring",
            Self::Halting => "halting",
            Self::Custom => "custom",
        }
    }
}

/// A stage's typed config.
#[derive(Debug, Clone, PartialEq)]
pub enum StageConfig {
    /// `tier_select`.
    TierSelect(TierSelectConfig),
    /// `ledger_query`.
    LedgerQuery(LedgerQueryConfig),
    /// `registry_query`.
    RegistryQuery(RegistryQueryConfig),
    /// `file_read`.
    FileRead(FileReadConfig),
    /// `horizontal_search`.
    HorizontalSearch(HorizontalSearchConfig),
    /// `structuring`.
    Structuring(StructuringConfig),
    /// `halting`.
    Halting(HaltingConfig),
    /// `custom`.
    Custom(CustomConfig),
}

impl StageConfig {
    /// Decodes `config` as the config of `kind`.
    pub fn decode(kind: StageType, config: Value) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            StageType::TierSelect => Self::TierSelect(serde_json::from_value(config)?),
            StageType::LedgerQuery => Self::LedgerQuery(serde_json::from_value(config)?),
            StageType::RegistryQuery => Self::RegistryQuery(serde_json::from_value(config)?),
            StageType::FileRead => Self::FileRead(serde_json::from_value(config)?),
            StageType::HorizontalSearch => Self::HorizontalSearch(serde_json::from_value(config)?),
            StageType::Structuring => Self::Structuring(serde_json::from_value(config)?),
            StageType::Halting => Self::Halting(serde_json::from_value(config)?),
            StageType::Custom => Self::Custom(serde_json::from_value(config)?),
        })
    }

    /// The type.
    pub fn kind(&self) -> StageType {
        match self {
            Self::TierSelect(_) => StageType::TierSelect,
            Self::LedgerQuery(_) => StageType::LedgerQuery,
            Self::RegistryQuery(_) => StageType::RegistryQuery,
            Self::FileRead(_) => StageType::FileRead,
            Self::HorizontalSearch(_) => StageType::HorizontalSearch,
            Self::Structuring(_) => StageType::Structuring,
            Self::Halting(_) => StageType::Halting,
            Self::Custom(_) => StageType::Custom,
        }
    }

    /// Pure checks beyond the schema: `(field path under config, message)` per problem.
    pub fn validate(&self) -> Vec<(String, String)> {
        match self {
            Self::TierSelect(c) => c.validate(),
            Self::LedgerQuery(c) => c.validate(),
            Self::RegistryQuery(c) => c.validate(),
            Self::FileRead(c) => c.validate(),
            Self::HorizontalSearch(c) => c.validate(),
            Self::Structuring(c) => c.validate(),
            Self::Halting(c) => c.validate(),
            Self::Custom(c) => c.validate(),
        }
    }

    /// The config back as JSON (for explanations).
    pub fn to_value(&self) -> Value {
        let v = match self {
            Self::TierSelect(c) => serde_json::to_value(c),
            Self::LedgerQuery(c) => serde_json::to_value(c),
            Self::RegistryQuery(c) => serde_json::to_value(c),
            Self::FileRead(c) => serde_json::to_value(c),
            Self::HorizontalSearch(c) => serde_json::to_value(c),
            Self::Structuring(c) => serde_json::to_value(c),
            Self::Halting(c) => serde_json::to_value(c),
            Self::Custom(c) => serde_json::to_value(c),
        };
        v.unwrap_or(Value::Null)
    }

    /// Whether the stage runs queries (checked against `max_queries` before it starts).
    pub(crate) fn uses_queries(&self) -> bool {
        matches!(self, Self::LedgerQuery(_) | Self::RegistryQuery(_) | Self::HorizontalSearch(_))
    }

    /// Whether the stage adds fragments (checked against `max_context_tokens` before it starts).
    pub(crate) fn produces(&self) -> bool {
        matches!(
            self,
            Self::LedgerQuery(_)
                | Self::RegistryQuery(_)
                | Self::FileRead(_)
                | Self::HorizontalSearch(_)
                | Self::Custom(_)
        )
    }
}

/// A typed stage of a loaded template.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// Stage name.
    pub name: String,
    /// Whether it runs.
    pub enabled: bool,
    /// Typed config.
    pub config: StageConfig,
}

/// Parameter relaxation of a halting rerun (factors applied to search stages).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Relax {
    pub(crate) threshold_factor: f64,
    pub(crate) results_factor: f64,
}

impl Relax {
    pub(crate) const NONE: Relax = Relax { threshold_factor: 1.0, results_factor: 1.0 };
}

/// Everything a running stage may use.
pub(crate) struct StageCtx<'a> {
    pub(crate) env: &'a Env,
    pub(crate) request: &'a AttentionRequest,
    pub(crate) budget: &'a mut BudgetTracker,
    pub(crate) state: &'a mut PipelineState,
    pub(crate) stage: &'a str,
    pub(crate) relax: Relax,
}

/// How a stage ended, as the pipeline needs it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StageRun {
    pub(crate) status: StageStatus,
    pub(crate) detail: String,
    pub(crate) budget_hit: Option<BudgetLimit>,
    pub(crate) produced: u64,
    pub(crate) tokens: u64,
}

impl StageRun {
    pub(crate) fn new(status: StageStatus) -> Self {
        Self { status, detail: String::new(), budget_hit: None, produced: 0, tokens: 0 }
    }

    pub(crate) fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = d.into();
        self
    }
}

/// Counts what a producing stage added and turns it into a [`StageRun`].
#[derive(Debug, Default)]
pub(crate) struct Producer {
    pub(crate) produced: u64,
    pub(crate) tokens: u64,
    pub(crate) hit: Option<BudgetLimit>,
    pub(crate) truncated: bool,
    pub(crate) errors: u64,
    pub(crate) notes: Vec<String>,
}

impl Producer {
    pub(crate) fn finish(self) -> StageRun {
        let status = match self.hit {
            Some(BudgetLimit::Time) => StageStatus::Timeout,
            Some(_) => StageStatus::Truncated,
            None if self.truncated => StageStatus::Truncated,
            None if self.produced == 0 && self.errors > 0 => StageStatus::Error,
            None if self.produced == 0 => StageStatus::Empty,
            None => StageStatus::Ok,
        };
        StageRun {
            status,
            detail: self.notes.join("; "),
            budget_hit: self.hit,
            produced: self.produced,
            tokens: self.tokens,
        }
    }
}

impl StageCtx<'_> {
    /// Estimated tokens of `text` with the configured `chars_per_token`.
    pub(crate) fn tokens_of(&self, text: &str) -> u64 {
        estimate_tokens(text, self.env.config.chars_per_token)
    }

    /// Builds a fragment of this stage.
    pub(crate) fn fragment(
        &self,
        source: FragmentSource,
        source_id: String,
        content: String,
        relevance_score: Option<f64>,
        timestamp: Option<String>,
    ) -> ContextFragment {
        let token_estimate = self.tokens_of(&content);
        ContextFragment {
            source,
            source_id,
            stage: self.stage.to_string(),
            content,
            token_estimate,
            relevance_score,
            timestamp,
        }
    }

    /// Tokens still allowed by `max_context_tokens`.
    pub(crate) fn remaining_tokens(&self) -> u64 {
        self.budget.limits.max_context_tokens.saturating_sub(self.state.tokens())
    }

    /// Adds a fragment within the token budget: a fragment larger than what remains is cut
    /// to fit (and the limit reported); nothing is added once the budget is spent.
    pub(crate) fn add(&mut self, p: &mut Producer, mut f: ContextFragment) -> Result<(), BudgetLimit> {
        let remaining = self.remaining_tokens();
        if f.token_estimate <= remaining {
            p.produced += 1;
            p.tokens += f.token_estimate;
            self.state.fragments.push(f);
            return Ok(());
        }
        if remaining > 0 {
            let cut = prefix_within(&f.content, remaining, self.env.config.chars_per_token).to_string();
            f.token_estimate = self.tokens_of(&cut);
            f.content = cut;
            p.produced += 1;
            p.tokens += f.token_estimate;
            self.state.warnings.push(format!(
                "stage {}: {} {} cut to the remaining token budget ({remaining} tokens)",
                self.stage,
                f.source.as_str(),
                f.source_id
            ));
            self.state.fragments.push(f);
        }
        Err(BudgetLimit::Tokens)
    }

    /// The time budget, checked inside long loops.
    pub(crate) fn check_time(&self) -> Result<(), BudgetLimit> {
        if self.budget.time_exceeded() { Err(BudgetLimit::Time) } else { Ok(()) }
    }

    /// Records a warning prefixed with the stage name.
    pub(crate) fn warn(&mut self, msg: impl std::fmt::Display) {
        self.state.warnings.push(format!("stage {}: {msg}", self.stage));
    }
}

/// Runs one non-halting stage.
pub(crate) fn run_stage(config: &StageConfig, ctx: &mut StageCtx<'_>) -> StageRun {
    match config {
        StageConfig::TierSelect(c) => c.run(ctx),
        StageConfig::LedgerQuery(c) => c.run(ctx),
        StageConfig::RegistryQuery(c) => c.run(ctx),
        StageConfig::FileRead(c) => c.run(ctx),
        StageConfig::HorizontalSearch(c) => c.run(ctx),
        StageConfig::Structuring(c) => c.run(ctx),
        StageConfig::Custom(c) => c.run(ctx),
        // The pipeline evaluates halting itself (it needs the reruns); reaching here is a no-op.
        StageConfig::Halting(_) => StageRun::new(StageStatus::Ok),
    }
}
