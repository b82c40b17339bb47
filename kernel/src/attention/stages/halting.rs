//! `halting`: the explicit decision whether the context suffices. Satisfied when there are at
//! least `min_fragments` fragments and `min_tokens` tokens and the coverage of the merged
//! `required_context` items (fraction with at least one fragment; 1.0 when there are none) is at
//! least `satisfaction_threshold`. The pipeline then stops. Otherwise, while the budget allows
//! and fewer than `max_reruns` reruns were made, the pipeline re-runs the earlier
//! `horizontal_search` stages with `relax` applied (factor^n on the n-th rerun) and the earlier
//! `structuring` stages, and decides again.

use serde::{Deserialize, Serialize};

use crate::attention::context::ContextFragment;
use crate::attention::pipeline::RequiredItem;

fn default_factor() -> f64 {
    1.0
}

/// How a rerun relaxes search parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelaxConfig {
    /// Multiplier (0–1) of `relevance_threshold` per rerun (default 1.0: unchanged).
    #[serde(default = "default_factor")]
    pub relevance_threshold_factor: f64,
    /// Multiplier (≥ 1) of `max_results` per rerun (default 1.0: unchanged).
    #[serde(default = "default_factor")]
    pub max_results_factor: f64,
}

impl Default for RelaxConfig {
    fn default() -> Self {
        Self { relevance_threshold_factor: default_factor(), max_results_factor: default_factor() }
    }
}

/// Config of `halting`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HaltingConfig {
    /// Minimum fragments (count, required).
    pub min_fragments: u64,
    /// Minimum estimated tokens (required).
    pub min_tokens: u64,
    /// Minimum coverage of the required_context items, 0–1 (required).
    pub satisfaction_threshold: f64,
    /// Maximum reruns of the search stages when unsatisfied (count, default 0).
    #[serde(default)]
    pub max_reruns: u32,
    /// Relaxation per rerun (default: none).
    #[serde(default)]
    pub relax: RelaxConfig,
}

/// Outcome of one halting evaluation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Decision {
    pub(crate) satisfied: bool,
    pub(crate) detail: String,
}

impl HaltingConfig {
    /// Pure checks.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if !(0.0..=1.0).contains(&self.satisfaction_threshold) {
            out.push(("/satisfaction_threshold".into(), "must be between 0 and 1".into()));
        }
        if !(0.0..=1.0).contains(&self.relax.relevance_threshold_factor) {
            out.push(("/relax/relevance_threshold_factor".into(), "must be between 0 and 1".into()));
        }
        if self.relax.max_results_factor < 1.0 {
            out.push(("/relax/max_results_factor".into(), "must be at least 1".into()));
        }
        out
    }

    /// Evaluates the fragments against the thresholds and the required items.
    pub(crate) fn decide(&self, fragments: &[ContextFragment], required: &[RequiredItem]) -> Decision {
        let n = fragments.len() as u64;
        let tokens: u64 = fragments.iter().map(|f| f.token_estimate).sum();
        let covered = required.iter().filter(|r| fragments.iter().any(|f| r.covered_by(f))).count();
        let coverage = if required.is_empty() { 1.0 } else { covered as f64 / required.len() as f64 };
        let satisfied = n >= self.min_fragments && tokens >= self.min_tokens && coverage >= self.satisfaction_threshold;
        let missing: Vec<String> =
            required.iter().filter(|r| !fragments.iter().any(|f| r.covered_by(f))).map(ToString::to_string).collect();
        let mut detail = format!(
            "{} fragments (min {}), {} tokens (min {}), coverage {:.2} of {} required item(s) (threshold {:.2})",
            n,
            self.min_fragments,
            tokens,
            self.min_tokens,
            coverage,
            required.len(),
            self.satisfaction_threshold
        );
        if !missing.is_empty() {
            detail.push_str(&format!("; missing: {}", missing.join(", ")));
        }
        Decision { satisfied, detail }
    }
}
