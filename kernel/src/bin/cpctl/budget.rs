//! `cpctl budget` (lands with issue 4).

use clap::Subcommand;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Subcommand)]
pub(crate) enum BudgetCmd {
    /// Placeholder until issue 4 lands.
    Pending,
}

pub(crate) fn run(_s: &Settings, _c: BudgetCmd) -> CmdResult {
    anyhow::bail!("`cpctl budget` is not available in this build yet (issue 4)")
}
