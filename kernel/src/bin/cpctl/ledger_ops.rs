//! `cpctl ledger append|query|tail|repair` (lands with issue 2).

use clap::Subcommand;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Subcommand)]
pub(crate) enum OpsCmd {
    /// Not available yet (issue 2).
    #[command(hide = true)]
    PendingOps,
}

pub(crate) fn run(_s: &Settings, _c: OpsCmd) -> CmdResult {
    anyhow::bail!("this command is not available in this build yet (issue 2)")
}
