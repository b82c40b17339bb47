//! `cpctl plane init|info|recover`.

use clap::Subcommand;
use serde::Serialize;

use cp_kernel::plane::{Plane, PlaneConfig, Tier};

use crate::common::{CmdResult, Outcome, Settings, render};
use crate::plane_recover;

#[derive(Debug, Subcommand)]
pub(crate) enum PlaneCmd {
    /// Create a plane (idempotent).
    #[command(after_help = "Example:\n  cpctl --root ./cp-root plane init --plane-id prod-eu")]
    Init {
        /// Identifier of the plane.
        #[arg(long, default_value = "cp-plane")]
        plane_id: String,
    },
    /// Show the plane's layout, config and ledgers.
    #[command(after_help = "Example:\n  cpctl --root ./cp-root plane info --json")]
    Info,
    #[command(flatten)]
    Recover(plane_recover::RecoverCmd),
}

#[derive(Debug, Serialize)]
struct Info {
    root: String,
    plane_id: String,
    tiers: Vec<String>,
    ledger_backend: String,
    require_signatures: bool,
    ledgers: Vec<String>,
}

pub(crate) fn run(s: &Settings, c: PlaneCmd) -> CmdResult {
    match c {
        PlaneCmd::Init { plane_id } => {
            let p = Plane::init(&s.root, PlaneConfig { plane_id, ..PlaneConfig::default() })?;
            info(s, &p)
        }
        PlaneCmd::Info => info(s, &s.plane()?),
        PlaneCmd::Recover(c) => plane_recover::run(s, c),
    }
}

fn info(s: &Settings, p: &Plane) -> CmdResult {
    let set = cp_kernel::ledger::LedgerSet::new(p);
    let i = Info {
        root: p.root().display().to_string(),
        plane_id: p.config().plane_id.clone(),
        tiers: Tier::ALL.iter().map(|t| t.dir_name().to_string()).collect(),
        ledger_backend: format!("{:?}", set.backend()).to_lowercase(),
        require_signatures: p.config().require_signatures,
        ledgers: set.list()?.iter().map(|n| n.to_string()).collect(),
    };
    render(s, &i, |i| {
        format!(
            "plane {} at {}\ntiers: {}\nledger backend: {}\nsignatures required: {}\nledgers: {}",
            i.plane_id,
            i.root,
            i.tiers.join(", "),
            i.ledger_backend,
            i.require_signatures,
            if i.ledgers.is_empty() { "(none)".to_string() } else { i.ledgers.join(", ") }
        )
    })?;
    Ok(Outcome::Ok)
}
