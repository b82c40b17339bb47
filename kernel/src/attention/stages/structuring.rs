//! `structuring`: removes repeated content, drops the lowest-relevance fragments while over
//! `max_tokens`, then orders what remains by the strategy. Fully deterministic (the output
//! depends only on the input list and its order).
//!
//! Repeated content is removed in two steps:
//! 1. **Overlaps of one source** are merged. Two fragments have the same source when their
//!    `source_id`s are equal and neither or both are `custom` (a search hit carries the id of the
//!    ledger entry, registry row or file it matched, so it shares that namespace with
//!    `ledger_query`, `registry_query` and `file_read`). They overlap when one's content contains
//!    the other's — e.g. a `file_read` cut to `max_size_bytes` and a search hit of the whole
//!    file. One fragment survives, at the earlier position: it keeps the identity (source,
//!    stage, timestamp) of the targeted read over a search hit (first collected on a tie), so
//!    `required_context` coverage still holds, and takes the longer content with its token
//!    estimate and the higher relevance (unscored counts as 1.0). Each merge is named in the
//!    stage's trace detail. Same source with content that does not contain the other is kept.
//! 2. **Exact duplicates across sources** (same content hash) keep the first occurrence, with the
//!    highest relevance of its duplicates.

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

    /// Structures `fragments`; returns the kept list, how many were removed as duplicates or
    /// merged as overlaps, and how many were dropped for the budget.
    pub fn apply(&self, fragments: Vec<ContextFragment>) -> (Vec<ContextFragment>, usize, usize) {
        let s = self.structure(fragments);
        (s.fragments, s.duplicates + s.merged.len(), s.dropped)
    }

    /// Structures `fragments` and reports what was merged, removed and dropped.
    pub fn structure(&self, fragments: Vec<ContextFragment>) -> Structured {
        let (fragments, merged) = merge_overlaps(fragments);
        let (mut kept, duplicates) = dedupe_exact(fragments);
        let dropped = self.fit(&mut kept);
        self.order(&mut kept);
        Structured { fragments: kept, duplicates, merged, dropped }
    }

    /// Drops the lowest-relevance fragments while over `max_tokens`; returns how many.
    fn fit(&self, kept: &mut Vec<ContextFragment>) -> usize {
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
        dropped
    }

    /// Orders by the strategy (stable sorts: collection order breaks ties).
    fn order(&self, kept: &mut [ContextFragment]) {
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
    }
}

/// The object a fragment was read from (see the module docs).
fn origin(f: &ContextFragment) -> (bool, &str) {
    (f.source == FragmentSource::Custom, f.source_id.as_str())
}

fn overlaps(a: &ContextFragment, b: &ContextFragment) -> bool {
    origin(a) == origin(b) && (a.content.contains(b.content.as_str()) || b.content.contains(a.content.as_str()))
}

/// Merges `other` into `keep` (which stays at its position); returns the trace note.
fn absorb(keep: &mut ContextFragment, other: ContextFragment) -> String {
    let search = |f: &ContextFragment| f.source == FragmentSource::Search;
    let (mut survivor, removed) =
        if search(keep) && !search(&other) { (other, keep.clone()) } else { (keep.clone(), other) };
    if removed.content.len() > survivor.content.len() {
        survivor.content.clone_from(&removed.content);
        survivor.token_estimate = removed.token_estimate;
    }
    survivor.relevance_score = match (survivor.relevance_score, removed.relevance_score) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    };
    let note = format!(
        "{} {} (stage {}) into {} {} (stage {})",
        removed.source.as_str(),
        removed.source_id,
        removed.stage,
        survivor.source.as_str(),
        survivor.source_id,
        survivor.stage
    );
    *keep = survivor;
    note
}

/// Step 1: merges overlapping fragments of one source; returns the survivors and one note per
/// merge.
fn merge_overlaps(fragments: Vec<ContextFragment>) -> (Vec<ContextFragment>, Vec<String>) {
    let mut kept: Vec<ContextFragment> = Vec::new();
    let mut notes = Vec::new();
    for f in fragments {
        let Some(i) = kept.iter().position(|k| overlaps(k, &f)) else {
            kept.push(f);
            continue;
        };
        notes.push(absorb(&mut kept[i], f));
        // The survivor may have grown to contain later survivors of the same source.
        let mut j = i + 1;
        while j < kept.len() {
            if overlaps(&kept[i], &kept[j]) {
                let g = kept.remove(j);
                notes.push(absorb(&mut kept[i], g));
            } else {
                j += 1;
            }
        }
    }
    (kept, notes)
}

/// Step 2: removes exact duplicates (same content hash) across sources; returns the kept list
/// and how many were removed.
fn dedupe_exact(fragments: Vec<ContextFragment>) -> (Vec<ContextFragment>, usize) {
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
    (kept, dups)
}

impl StructuringConfig {
    pub(crate) fn run(&self, ctx: &mut StageCtx<'_>) -> StageRun {
        let all = std::mem::take(&mut ctx.state.fragments);
        let Structured { fragments: kept, duplicates: dups, merged, dropped } = self.structure(all);
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
            detail: format!(
                "{dups} duplicate(s) removed, {} overlapping fragment(s) of one source merged{}, {dropped} dropped for max_tokens",
                merged.len(),
                if merged.is_empty() { String::new() } else { format!(" ({})", merged.join("; ")) }
            ),
            budget_hit: None,
            produced,
            tokens,
        }
    }
}
