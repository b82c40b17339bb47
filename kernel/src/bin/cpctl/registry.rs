//! `cpctl registry show` (lands with issue 2).

use clap::Subcommand;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Subcommand)]
pub(crate) enum RegistryCmd {
    /// Not available yet (issue 2).
    #[command(hide = true)]
    PendingRegistry,
}

pub(crate) fn run(_s: &Settings, _c: RegistryCmd) -> CmdResult {
    anyhow::bail!("this command is not available in this build yet (issue 2)")
}
