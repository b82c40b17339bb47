//! `cpctl gates` (lands with issue 5).

use clap::Args;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Args)]
pub(crate) struct GatesArgs {}

pub(crate) fn run(_s: &Settings, _a: GatesArgs) -> CmdResult {
    anyhow::bail!("`cpctl gates` is not available in this build yet (issue 5)")
}
