//! `cpctl ledger …`: the subcommands of three files, flattened into one group.

use clap::Subcommand;

use crate::common::{CmdResult, Settings};
use crate::{ledger_audit, ledger_check, ledger_copy, ledger_ops};

#[derive(Debug, Subcommand)]
pub(crate) enum LedgerCmd {
    #[command(flatten)]
    Ops(ledger_ops::OpsCmd),
    #[command(flatten)]
    Audit(ledger_audit::AuditCmd),
    #[command(flatten)]
    Check(ledger_check::CheckCmd),
    /// Copy a ledger verbatim between this plane and PostgreSQL (every byte and hash kept);
    /// both sides are verified equal.
    #[command(
        after_help = "Examples:\n  CP_LEDGER_URL=postgres://cp@db/cp cpctl ledger copy --from HOT/governance --to postgres \
                            --schema cp_fleet\n  cpctl ledger copy --from postgres --schema cp_fleet --to HOT/governance\n\
                            Exit codes: 0 copied and verified, 2 refused (source broken, destination not empty).\n"
    )]
    Copy(ledger_copy::CopyArgs),
}

pub(crate) fn run(s: &Settings, c: LedgerCmd) -> CmdResult {
    match c {
        LedgerCmd::Ops(c) => ledger_ops::run(s, c),
        LedgerCmd::Audit(c) => ledger_audit::run(s, c),
        LedgerCmd::Check(c) => ledger_check::run(s, c),
        LedgerCmd::Copy(a) => ledger_copy::run(s, a),
    }
}
