//! `structuring`: dedupes fragments by content hash (first occurrence kept, with the highest
//! relevance of its duplicates), drops the lowest-relevance fragments while over `max_tokens`
//! (unscored fragments count as relevance 1.0; ties: the greater (source, source_id) is dropped
//! first), then orders what remains by the strategy. Fully deterministic.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{StageCtx, StageRun};
use crate::attention::context::{ContextFragment, FragmentSource, StageStatus};

/// Ordering strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuringStrategy {
    /// By record time (fragments without one first, in collection order), then collection order.
    Chronological,
    /// By relevance, highest first; ties by (source, source_id).
    Relevance,
    /// Grouped by source in `hierarchy` order, collection order inside a group.
    Hierarchical,
}

fn default_hierarchy() -> Vec<FragmentSource> {
    vec![
        FragmentSource::Registry,
        FragmentSource::File,
        FragmentSource::Ledger,
        FragmentSource::Search,
        FragmentSource::Custom,
    ]
}

/// What [`StructuringConfig::structure`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Structured {
    /// The fragments kept, in the strategy's order.
    pub fragments: Vec<ContextFragment>,
    /// Fragments removed because another source had exactly the same content.
    pub duplicates: usize,
    /// One line per fragment merged into an overlapping fragment of the same source.
    pub merged: Vec<String>,
    /// Fragments dropped (lowest relevance first) to fit `max_tokens`.
    pub dropped: usize,
}

/// Config of `structuring`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StructuringConfig {
    /// Ordering strategy (required).
    pub strategy: StructuringStrategy,
    /// Maximum estimated tokens kept (required).
    pub max_tokens: u64,
    /// Source order of `hierarchical` (default: registry, file, ledger, search, custom; sources
    /// not listed go last).
    #[serde(default = "default_hierarchy")]
    pub hierarchy: Vec<FragmentSource>,
}

impl StructuringConfig {
    /// Pure checks.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for (i, s) in self.hierarchy.iter().enumerate() {
            if !seen.insert(*s) {
                out.push((format!("/hierarchy/{i}"), "duplicate source".into()));
            }
        }
        out
    }

    /// Structures `fragments` and reports what was merged and dropped.
    pub fn structure(&self, fragments: Vec<ContextFragment>) -> Structured {
        let (fragments, duplicates, dropped) = self.apply(fragments);
        Structured { fragments, duplicates, merged: Vec::new(), dropped }
    }

    /// Structures `fragments`; returns the kept list and how many were dropped as duplicates
    /// and for the budget.
    pub fn apply(&self, fragments: Vec<ContextFragment>) -> (Vec<ContextFragment>, usize, usize) {
        // Dedupe by content hash.
        let mut first: HashMap<String, usize> = HashMap::new();
        let mut kept: Vec<ContextFragment> = Vec::new();
        let mut dups = 0;
        for f in fragments {
            let h = crate::hashing::sha256_hex(f.content.as_bytes());
            if let Some(&i) = first.get(&h) {
                dups += 1;
                let k: &mut ContextFragment = &mut kept[i];
                if let (Some(a), Some(b)) = (k.relevance_score, f.relevance_score) {
                    k.relevance_score = Some(a.max(b));
                } else if f.relevance_score.is_none() {
                    k.relevance_score = None;
                }
                continue;
            }
            first.insert(h, kept.len());
            kept.push(f);
        }
        // Drop lowest relevance first while over budget.
        let mut total: u64 = kept.iter().map(|f| f.token_estimate).sum();
        let mut dropped = 0;
        if total > self.max_tokens {
            let mut order: Vec<usize> = (0..kept.len()).collect();
            order.sort_by(|&a, &b| {
                let (fa, fb) = (&kept[a], &kept[b]);
                fa.effective_relevance()
                    .total_cmp(&fb.effective_relevance())
                    .then_with(|| (fb.source, &fb.source_id).cmp(&(fa.source, &fa.source_id)))
                    .then(b.cmp(&a))
            });
            let mut drop = vec![false; kept.len()];
            for i in order {
                if total <= self.max_tokens {
                    break;
                }
                total -= kept[i].token_estimate;
                drop[i] = true;
                dropped += 1;
            }
            let mut it = drop.into_iter();
            kept.retain(|_| !it.next().unwrap_or(false));
        }
        match self.strategy {
            StructuringStrategy::Chronological => {
                kept.sort_by(|a, b| a.timestamp.as_deref().unwrap_or("").cmp(b.timestamp.as_deref().unwrap_or("")));
            }
            StructuringStrategy::Relevance => kept.sort_by(|a, b| {
                b.effective_relevance()
                    .total_cmp(&a.effective_relevance())
                    .then_with(|| (a.source, &a.source_id).cmp(&(b.source, &b.source_id)))
            }),
            StructuringStrategy::Hierarchical => {
                let rank =
                    |s: FragmentSource| self.hierarchy.iter().position(|&h| h == s).unwrap_or(self.hierarchy.len());
                kept.sort_by_key(|f| rank(f.source));
            }
        }
        (kept, dups, dropped)
    }

    pub(crate) fn run(&self, ctx: &mut StageCtx<'_>) -> StageRun {
        let all = std::mem::take(&mut ctx.state.fragments);
        let (kept, dups, dropped) = self.apply(all);
        if dropped > 0 {
            ctx.warn(format_args!(
                "dropped {dropped} lowest-relevance fragment(s) to fit max_tokens {}",
                self.max_tokens
            ));
        }
        let tokens = kept.iter().map(|f| f.token_estimate).sum();
        let produced = kept.len() as u64;
        ctx.state.fragments = kept;
        let status = if dropped > 0 {
            StageStatus::Truncated
        } else if produced == 0 {
            StageStatus::Empty
        } else {
            StageStatus::Ok
        };
        StageRun {
            status,
            detail: format!("{dups} duplicate(s) removed, {dropped} dropped for max_tokens"),
            budget_hit: None,
            produced,
            tokens,
        }
    }
}
