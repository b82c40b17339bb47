//! What an assembly produces: fragments, the per-stage trace, budget use, the halting record
//! and the assembled context.

use serde::{Deserialize, Serialize};

/// Where a fragment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FragmentSource {
    /// A ledger entry (`ledger_query`).
    Ledger,
    /// A registry row (`registry_query`).
    Registry,
    /// A file (`file_read`).
    File,
    /// A search hit (`horizontal_search`).
    Search,
    /// A custom handler.
    Custom,
}

impl FragmentSource {
    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ledger => "ledger",
            Self::Registry => "registry",
            Self::File => "file",
            Self::Search => "search",
            Self::Custom => "custom",
        }
    }
}

/// One piece of context, traceable to its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextFragment {
    /// Kind of source.
    pub source: FragmentSource,
    /// The entry/row/file/query that produced it (`HO1/prompts#42`, `frameworks:FMWK-003`,
    /// `HOT/config/x.yaml`).
    pub source_id: String,
    /// The stage that produced it.
    pub stage: String,
    /// The text.
    pub content: String,
    /// Estimated tokens of `content` (see [`super::estimate_tokens`]).
    pub token_estimate: u64,
    /// 0–1 relevance when scored by search; `None` for targeted reads (treated as 1.0 when
    /// structuring drops fragments).
    pub relevance_score: Option<f64>,
    /// Time of the underlying record (ledger entries), for chronological ordering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

impl ContextFragment {
    /// Relevance used for ordering and dropping: the score, or 1.0 when unscored.
    pub fn effective_relevance(&self) -> f64 {
        self.relevance_score.unwrap_or(1.0)
    }
}

/// How a stage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    /// Ran to completion and produced (or arranged) fragments.
    Ok,
    /// Stopped early at a token/entry/size limit; what it produced is kept.
    Truncated,
    /// Stopped early because the time budget ran out.
    Timeout,
    /// Ran and found nothing.
    Empty,
    /// Not run (`enabled: false`).
    Skipped,
    /// Failed; the pipeline continued (see warnings).
    Error,
}

/// What one stage did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageResult {
    /// Stage name.
    pub stage: String,
    /// Stage type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Fragments produced (for structuring: fragments kept).
    pub fragments_produced: u64,
    /// Estimated tokens of those fragments.
    pub tokens_produced: u64,
    /// Elapsed time on the service clock, milliseconds.
    pub duration_ms: u64,
    /// How it ended.
    pub status: StageStatus,
    /// 0 for the first run; n for the n-th halting rerun.
    pub rerun: u32,
    /// Short explanation (halting decision, truncation cause), empty when nothing to say.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// Budget consumed by an assembly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetUsed {
    /// Estimated tokens of the returned fragments.
    pub tokens: u64,
    /// Ledger/registry/search queries run.
    pub queries: u64,
    /// Elapsed time on the service clock, milliseconds.
    pub elapsed_ms: u64,
}

/// Which budget limit was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetLimit {
    /// `max_context_tokens`.
    Tokens,
    /// `max_queries`.
    Queries,
    /// `timeout_ms`.
    Time,
}

impl std::fmt::Display for BudgetLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Tokens => "max_context_tokens",
            Self::Queries => "max_queries",
            Self::Time => "timeout_ms",
        })
    }
}

/// Why the pipeline stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum HaltReason {
    /// A halting stage found the context sufficient.
    Satisfied,
    /// A budget limit was reached (the template's `on_timeout` was applied).
    Budget {
        /// Which limit.
        limit: BudgetLimit,
    },
    /// Every stage ran.
    Completed,
    /// A fallback produced the result.
    Fallback {
        /// `on_timeout` or `on_empty`.
        trigger: String,
        /// The action applied (`use_cached`, `use_default`, `proceed_empty`, `return_partial`).
        action: String,
    },
}

/// The explicit halting decision of an assembly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HaltingRecord {
    /// Why the pipeline stopped.
    pub reason: HaltReason,
    /// Human-readable detail (coverage, thresholds, limit values).
    pub detail: String,
    /// Halting reruns performed.
    pub reruns: u32,
}

/// How the cache served the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheStatus {
    /// Served from the cache within its TTL.
    Hit,
    /// Assembled afresh.
    Miss,
    /// Served from the cache after its TTL (`on_timeout: use_cached`).
    Stale,
}

/// One candidate a stage produced, as `PROMPT_SENT` records it: where it came from, how the
/// stage ranked it and where it ended in the final context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievalCandidate {
    /// Kind of source.
    pub source: FragmentSource,
    /// The entry/row/file the candidate was read from.
    pub source_id: String,
    /// The stage that produced it.
    pub stage: String,
    /// 0–1 relevance when scored by search; `None` for targeted reads.
    pub relevance: Option<f64>,
    /// Position (0-based) in the stage's own ranking (its production order).
    pub rank_before: i64,
    /// Position (0-based) in the final context; -1 when dropped by structuring or the budget.
    pub rank_after: i64,
    /// Estimated tokens of the candidate's content.
    pub tokens: u64,
    /// SHA-256 (hex) of the candidate's content.
    pub content_sha256: String,
}

/// The result of an assembly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssembledContext {
    /// The fragments rendered in order, each after a header line (`fragment_header`).
    pub context_text: String,
    /// SHA-256 (hex) of `context_text`.
    pub context_hash: String,
    /// The fragments, in the order of `context_text`.
    pub fragments: Vec<ContextFragment>,
    /// Template used.
    pub template_id: String,
    /// Its version.
    pub template_version: String,
    /// What each stage did, in execution order (reruns included).
    pub pipeline_trace: Vec<StageResult>,
    /// Budget consumed.
    pub budget_used: BudgetUsed,
    /// Why the pipeline stopped.
    pub halting: HaltingRecord,
    /// Non-fatal issues (missing files, truncation, fallbacks, unmatched templates).
    pub warnings: Vec<String>,
    /// Cache outcome.
    pub cache: CacheStatus,
    /// Every candidate a stage produced (top `retrieval.max_candidates_per_stage` per stage, in
    /// execution order, each stage's last run), with its final rank.
    #[serde(default)]
    pub retrieval: Vec<RetrievalCandidate>,
}

impl AssembledContext {
    /// A compact summary that the router logs inside `PROMPT_SENT`: template, hash, halting
    /// record (reason, detail, reruns), per-stage status, duration and detail (merges, truncation,
    /// halting decisions), budget used, cache outcome, and the warnings (count and messages:
    /// skipped invalid templates, withheld fragments, fallbacks).
    pub fn trace_summary(&self) -> serde_json::Value {
        let stages: Vec<serde_json::Value> = self
            .pipeline_trace
            .iter()
            .map(|s| {
                let mut v = serde_json::json!({
                    "stage": s.stage,
                    "type": s.kind,
                    "status": s.status,
                    "fragments": s.fragments_produced,
                    "tokens": s.tokens_produced,
                    "duration_ms": s.duration_ms,
                    "rerun": s.rerun,
                });
                if !s.detail.is_empty() {
                    v["detail"] = serde_json::Value::String(s.detail.clone());
                }
                v
            })
            .collect();
        serde_json::json!({
            "template_id": self.template_id,
            "template_version": self.template_version,
            "context_hash": self.context_hash,
            "fragments": self.fragments.len(),
            "halting": self.halting,
            "stages": stages,
            "budget_used": self.budget_used,
            "cache": self.cache,
            "warnings": self.warnings.len(),
            "warning_messages": self.warnings,
        })
    }
}
