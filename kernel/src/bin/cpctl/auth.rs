//! `cpctl auth` (lands with issue 4).

use clap::Subcommand;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Subcommand)]
pub(crate) enum AuthCmd {
    /// Placeholder until issue 4 lands.
    Pending,
}

pub(crate) fn run(_s: &Settings, _c: AuthCmd) -> CmdResult {
    anyhow::bail!("`cpctl auth` is not available in this build yet (issue 4)")
}
