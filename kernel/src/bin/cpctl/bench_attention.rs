//! `cpctl bench attention` (lands with issue 3).

use clap::Subcommand;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchAttentionCmd {
    /// Not available yet (issue 3).
    #[command(hide = true)]
    PendingBenchAttention,
}

pub(crate) fn run(_s: &Settings, _c: BenchAttentionCmd) -> CmdResult {
    anyhow::bail!("this command is not available in this build yet (issue 3)")
}
