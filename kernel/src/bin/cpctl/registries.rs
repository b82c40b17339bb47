//! `cpctl registries rebuild --verify` (lands with issue 5).

use clap::Subcommand;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Subcommand)]
pub(crate) enum RegistriesCmd {
    /// Not available yet (issue 5).
    #[command(hide = true)]
    PendingRegistries,
}

pub(crate) fn run(_s: &Settings, _c: RegistriesCmd) -> CmdResult {
    anyhow::bail!("this command is not available in this build yet (issue 5)")
}
