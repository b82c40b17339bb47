//! `cpctl ledger verify|checkpoint|export|import` (lands with issue 2).

use clap::Subcommand;

use crate::common::{CmdResult, Settings};

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCmd {
    /// Not available yet (issue 2).
    #[command(hide = true)]
    PendingAudit,
}

pub(crate) fn run(_s: &Settings, _c: AuditCmd) -> CmdResult {
    anyhow::bail!("this command is not available in this build yet (issue 2)")
}
