//! `cpctl bench ledger` (lands with issue 2).

use clap::Subcommand;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchLedgerCmd {
    /// Not available yet (issue 2).
    #[command(hide = true)]
    PendingBenchLedger,
}

pub(crate) fn run(_s: &Settings, _c: BenchLedgerCmd) -> CmdResult {
    anyhow::bail!("this command is not available in this build yet (issue 2)")
}
