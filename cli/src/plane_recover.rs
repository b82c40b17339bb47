//! `cpctl plane recover`: roll back or complete interrupted installs and uninstalls.

use clap::Subcommand;
use serde::Serialize;

use cp_installer::{Installer, RecoveryAction};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Subcommand)]
pub(crate) enum RecoverCmd {
    /// Roll back (or complete, when already committed) every interrupted install transaction.
    #[command(after_help = "Example:\n  cpctl --root ./cp-root plane recover")]
    Recover,
}

#[derive(Debug, Serialize)]
struct RecoverOutput {
    transactions: Vec<RecoveryAction>,
}

pub(crate) fn run(s: &Settings, c: RecoverCmd) -> CmdResult {
    let RecoverCmd::Recover = c;
    let plane = s.plane_for_repair()?;
    let out = RecoverOutput { transactions: Installer::new(&plane).recover()? };
    render(s, &out, |o| {
        if o.transactions.is_empty() {
            return "nothing to recover".to_string();
        }
        o.transactions.iter().map(|t| format!("{} {} {}\n", t.action, t.package_id, t.txn_id)).collect()
    })?;
    Ok(Outcome::Ok)
}
