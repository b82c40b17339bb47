//! `cpctl ledger check --dangling` (lands with issue 4).

use clap::Subcommand;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Subcommand)]
pub(crate) enum CheckCmd {
    /// Not available yet (issue 4).
    #[command(hide = true)]
    PendingCheck,
}

pub(crate) fn run(_s: &Settings, _c: CheckCmd) -> CmdResult {
    anyhow::bail!("this command is not available in this build yet (issue 4)")
}
