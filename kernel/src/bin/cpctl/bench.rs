//! `cpctl bench` (lands with issue 2).

use clap::Subcommand;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCmd {
    /// Placeholder until issue 2 lands.
    Pending,
}

pub(crate) fn run(_s: &Settings, _c: BenchCmd) -> CmdResult {
    anyhow::bail!("`cpctl bench` is not available in this build yet (issue 2)")
}
