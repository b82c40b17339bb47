//! `cpctl quickstart` (lands with issue 4).

use clap::Args;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Args)]
pub(crate) struct QuickstartArgs {}

pub(crate) fn run(_s: &Settings, _a: QuickstartArgs) -> CmdResult {
    anyhow::bail!("`cpctl quickstart` is not available in this build yet (issue 4)")
}
