//! `tier_select`: sets the tiers later ledger and search stages read. Produces no fragment.

use serde::{Deserialize, Serialize};

use super::{StageCtx, StageRun};
use crate::attention::context::StageStatus;
use crate::plane::Tier;

/// How the selected tiers are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierStrategy {
    /// Tiers in order HOT, HO2, HO1; a ledger query stops at the first tiers that fill
    /// `max_entries`.
    #[default]
    HighestFirst,
    /// Every tier is read and the results merged (newest first).
    AllParallel,
}

/// Config of `tier_select`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSelectConfig {
    /// Tiers to read (`hot`, `ho2`, `ho1`); required, non-empty.
    pub tiers: Vec<Tier>,
    /// Read strategy (default `highest_first`).
    #[serde(default)]
    pub strategy: TierStrategy,
}

impl TierSelectConfig {
    /// Pure checks.
    pub fn validate(&self) -> Vec<(String, String)> {
        if self.tiers.is_empty() { vec![("/tiers".into(), "must name at least one tier".into())] } else { Vec::new() }
    }

    pub(crate) fn run(&self, ctx: &mut StageCtx<'_>) -> StageRun {
        let mut tiers = self.tiers.clone();
        tiers.sort();
        tiers.dedup();
        ctx.state.tiers = tiers.clone();
        ctx.state.strategy = self.strategy;
        let names: Vec<&str> = tiers.iter().map(|t| t.as_str()).collect();
        StageRun::new(StageStatus::Ok).detail(format!("tiers {}", names.join(",")))
    }
}
