//! `cpctl bench install` (lands with issue 5).

use clap::Subcommand;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchInstallCmd {
    /// Not available yet (issue 5).
    #[command(hide = true)]
    PendingBenchInstall,
}

pub(crate) fn run(_s: &Settings, _c: BenchInstallCmd) -> CmdResult {
    anyhow::bail!("this command is not available in this build yet (issue 5)")
}
