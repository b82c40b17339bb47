//! `cpctl registry show` and `cpctl registries rebuild --verify`.

use clap::Subcommand;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Subcommand)]
pub(crate) enum RegistryCmd {
    /// Placeholder until issue 2 lands.
    Pending,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RegistriesCmd {
    /// Placeholder until issue 5 lands.
    Pending,
}

pub(crate) fn run(_s: &Settings, _c: RegistryCmd) -> CmdResult {
    anyhow::bail!("`cpctl registry` is not available in this build yet (issue 2)")
}

pub(crate) fn run_registries(_s: &Settings, _c: RegistriesCmd) -> CmdResult {
    anyhow::bail!("`cpctl registries` is not available in this build yet (issue 5)")
}
