//! The retrieval record of an assembly: every candidate a stage produced (bounded by
//! `attention_config.retrieval.max_candidates_per_stage`), with its rank in the stage and its
//! rank in the final context (-1 when structuring or the budget dropped it). Deterministic: it
//! depends only on the stages' outputs and the final fragment list.

use serde::{Deserialize, Serialize};

use super::context::{ContextFragment, RetrievalCandidate};
use crate::hashing::sha256_hex;

fn default_max_candidates() -> u64 {
    20
}

/// Retrieval-record settings (`attention_config.retrieval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrievalConfig {
    /// Candidates recorded per stage, best-ranked first (count; shipped and default: 20).
    #[serde(default = "default_max_candidates")]
    pub max_candidates_per_stage: u64,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        Self { max_candidates_per_stage: default_max_candidates() }
    }
}

/// Candidates collected while the pipeline runs, one list per stage (its last run).
#[derive(Debug, Clone, Default)]
pub(crate) struct CandidateLog {
    /// Per stage: the candidates with their content (for matching merged fragments).
    stages: Vec<(String, Vec<(RetrievalCandidate, String)>)>,
}

impl CandidateLog {
    /// Records what `stage` produced (in its ranking order), replacing an earlier run's list.
    pub(crate) fn record(&mut self, stage: &str, produced: &[ContextFragment], limit: u64) {
        let list: Vec<(RetrievalCandidate, String)> = produced
            .iter()
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .enumerate()
            .map(|(i, f)| {
                let c = RetrievalCandidate {
                    source: f.source,
                    source_id: f.source_id.clone(),
                    stage: f.stage.clone(),
                    relevance: f.relevance_score,
                    rank_before: i64::try_from(i).unwrap_or(i64::MAX),
                    rank_after: -1,
                    tokens: f.token_estimate,
                    content_sha256: sha256_hex(f.content.as_bytes()),
                };
                (c, f.content.clone())
            })
            .collect();
        match self.stages.iter_mut().find(|(s, _)| s == stage) {
            Some(slot) => slot.1 = list,
            None => self.stages.push((stage.to_string(), list)),
        }
    }

    /// The candidates in stage order, each with its position in `final_fragments`: the fragment
    /// of the same stage and source id, else (merged by structuring into a targeted read of the
    /// same object) a fragment of the same source id whose content contains the candidate's, or (removed as an exact duplicate of another
    /// source) a fragment with the same content.
    pub(crate) fn finish(self, final_fragments: &[ContextFragment]) -> Vec<RetrievalCandidate> {
        let mut out = Vec::new();
        for (_, list) in self.stages {
            for (mut c, content) in list {
                let exact = final_fragments
                    .iter()
                    .position(|f| f.stage == c.stage && f.source == c.source && f.source_id == c.source_id);
                let merged = || {
                    final_fragments.iter().position(|f| {
                        (f.source_id == c.source_id && f.content.contains(&content)) || f.content == content
                    })
                };
                c.rank_after = exact.or_else(merged).map_or(-1, |i| i64::try_from(i).unwrap_or(i64::MAX));
                out.push(c);
            }
        }
        out
    }
}
