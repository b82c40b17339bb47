//! `cpctl route` (lands with issue 4).

use clap::Args;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Args)]
pub(crate) struct RouteArgs {}

pub(crate) fn run(_s: &Settings, _a: RouteArgs) -> CmdResult {
    anyhow::bail!("`cpctl route` is not available in this build yet (issue 4)")
}
