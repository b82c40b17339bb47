//! `cpctl plane recover` (lands with issue 5).

use clap::Subcommand;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Subcommand)]
pub(crate) enum RecoverCmd {
    /// Not available yet (issue 5).
    #[command(hide = true)]
    PendingRecover,
}

pub(crate) fn run(_s: &Settings, _c: RecoverCmd) -> CmdResult {
    anyhow::bail!("this command is not available in this build yet (issue 5)")
}
