//! `cpctl attention` (lands with issue 3).

use clap::Subcommand;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Subcommand)]
pub(crate) enum AttentionCmd {
    /// Placeholder until issue 3 lands.
    Pending,
}

pub(crate) fn run(_s: &Settings, _c: AttentionCmd) -> CmdResult {
    anyhow::bail!("`cpctl attention` is not available in this build yet (issue 3)")
}
