//! `cpctl ledger check --dangling`: PROMPT_SENT entries with no RECEIVED/FAILED/RECOVERED.

use clap::Subcommand;
use serde::Serialize;

use cp_kernel::{LedgerEntry, LedgerSet, SchemaSet, dangling_prompts, load_router_configs};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Subcommand)]
pub(crate) enum CheckCmd {
    /// List dangling prompts (a crash between PROMPT_SENT and its answer); exit 2 if any.
    #[command(
        after_help = "Example:\n  cpctl ledger check --dangling --json\n  cpctl budget recover   # releases their reservations"
    )]
    Check {
        /// List PROMPT_SENT entries with no PROMPT_RECEIVED / PROMPT_FAILED / BUDGET_RECOVERED.
        #[arg(long, required = true)]
        dangling: bool,
        /// Ledger to check (default: router_config `ledger`).
        #[arg(long)]
        ledger: Option<String>,
    },
}

#[derive(Serialize)]
struct Dangling {
    ledger: String,
    dangling: Vec<LedgerEntry>,
}

pub(crate) fn run(s: &Settings, c: CheckCmd) -> CmdResult {
    let CheckCmd::Check { dangling: _, ledger } = c;
    let plane = s.plane()?;
    let name = match ledger {
        Some(l) => l,
        None => load_router_configs(&plane, &SchemaSet::for_plane(&plane)?)?.router.ledger,
    };
    let set = LedgerSet::new(&plane);
    let found = match set.open_existing(&name) {
        Ok(store) => dangling_prompts(store.as_ref())?,
        Err(cp_kernel::LedgerError::NotFound(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let out = Dangling { ledger: name, dangling: found };
    render(s, &out, |d| {
        if d.dangling.is_empty() {
            format!("{}: no dangling prompts", d.ledger)
        } else {
            d.dangling
                .iter()
                .map(|e| {
                    format!("{} seq {} id {} tenant {}", d.ledger, e.seq, e.id, e.tenant_id.as_deref().unwrap_or("-"))
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
    })?;
    Ok(if out.dangling.is_empty() { Outcome::Ok } else { Outcome::Refused })
}
