//! `cpctl router status|degrade|resume`: the degrade state every router process shares (derived
//! from the ledger), and an operator taking over (`degrade`) and handing back (`resume`).

use clap::Subcommand;

use cp_kernel::{DegradeStatus, LedgerEntry, PromptRouter, RouterOptions};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Subcommand)]
pub(crate) enum RouterCmd {
    /// Show the active degrade profile and each provider's breaker as derived from the ledger.
    #[command(after_help = "Example:\n  cpctl router status --json")]
    Status,
    /// Enter a degrade profile (logged as DEGRADE_ENTERED); it stays until `cpctl router resume`.
    #[command(
        after_help = "Example:\n  cpctl router degrade --profile economy --reason \"provider incident\" --operator ann"
    )]
    Degrade {
        /// Profile (router_config degrade_profiles).
        #[arg(long)]
        profile: String,
        /// Why (recorded as the entry's reason).
        #[arg(long)]
        reason: String,
        /// Who: recorded as actor `operator:<name>`.
        #[arg(long)]
        operator: String,
    },
    /// Leave the active profile (logged as DEGRADE_EXITED); automatic triggers apply again.
    #[command(after_help = "Example:\n  cpctl router resume --reason \"incident over\" --operator ann")]
    Resume {
        /// Why.
        #[arg(long)]
        reason: String,
        /// Who: recorded as actor `operator:<name>`.
        #[arg(long)]
        operator: String,
    },
}

pub(crate) fn run(s: &Settings, c: RouterCmd) -> CmdResult {
    let plane = s.plane()?;
    let router = PromptRouter::open(&plane, RouterOptions::new())?;
    match c {
        RouterCmd::Status => {
            let st = router.degrade_status()?;
            render(s, &st, status_text)?;
        }
        RouterCmd::Degrade { profile, reason, operator } => {
            let v = router.degrade(&profile, &reason, &format!("operator:{operator}"))?;
            render(s, &v, |v| entries_text(v, "nothing written"))?;
        }
        RouterCmd::Resume { reason, operator } => {
            let v = router.resume(&reason, &format!("operator:{operator}"))?;
            render(s, &v, |v| entries_text(v, "no degrade profile is active"))?;
        }
    }
    Ok(Outcome::Ok)
}

fn status_text(st: &DegradeStatus) -> String {
    let mut out = match &st.active {
        Some(a) => format!("degrade profile {} (entered by {} at seq {})\n", a.profile, a.actor, a.seq),
        None => "no degrade profile is active\n".to_string(),
    };
    for (name, b) in &st.breakers {
        let b = serde_json::to_value(b).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        out.push_str(&format!("  breaker {name}: {b}\n"));
    }
    out.trim_end().to_string()
}

fn entries_text(v: &[LedgerEntry], empty: &str) -> String {
    if v.is_empty() {
        return empty.to_string();
    }
    v.iter()
        .map(|e| {
            let profile = e.metadata.get("profile").and_then(|p| p.as_str()).unwrap_or("");
            format!("{} seq {}: {profile}", e.event_type, e.seq)
        })
        .collect::<Vec<_>>()
        .join("\n")
}
