//! `cpctl bench route` (lands with issue 4).

use clap::Subcommand;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchRouteCmd {
    /// Not available yet (issue 4).
    #[command(hide = true)]
    PendingBenchRoute,
}

pub(crate) fn run(_s: &Settings, _c: BenchRouteCmd) -> CmdResult {
    anyhow::bail!("this command is not available in this build yet (issue 4)")
}
