//! `cpctl ledger …`: the subcommands of three files, flattened into one group.

use clap::Subcommand;

use crate::common::{CmdResult, Settings};
use crate::{ledger_audit, ledger_check, ledger_ops};

#[derive(Debug, Subcommand)]
pub(crate) enum LedgerCmd {
    #[command(flatten)]
    Ops(ledger_ops::OpsCmd),
    #[command(flatten)]
    Audit(ledger_audit::AuditCmd),
    #[command(flatten)]
    Check(ledger_check::CheckCmd),
}

pub(crate) fn run(s: &Settings, c: LedgerCmd) -> CmdResult {
    match c {
        LedgerCmd::Ops(c) => ledger_ops::run(s, c),
        LedgerCmd::Audit(c) => ledger_audit::run(s, c),
        LedgerCmd::Check(c) => ledger_check::run(s, c),
    }
}
