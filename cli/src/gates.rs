//! `cpctl gates --all | --gate G0B G1 …`: run the plane-level gates.

use clap::Args;
use serde::Serialize;

use cp_kernel::{GateId, GateReport, run_gates, run_plane_gates};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  cpctl --root ./cp-root gates --all\n  cpctl gates --gate G0B G1 --json")]
pub(crate) struct GatesArgs {
    /// Run the plane gates of the governance policy (`plane_gates` in
    /// HOT/config/governance_policy.yaml); the default when no --gate is given.
    #[arg(long, conflicts_with = "gate")]
    all: bool,
    /// Gates to run (G0A, G0B, G1, G1-COMPLETE, G5, G6).
    #[arg(long, num_args = 1.., value_parser = parse_gate)]
    gate: Vec<GateId>,
}

fn parse_gate(s: &str) -> Result<GateId, String> {
    GateId::parse(s).ok_or_else(|| format!("unknown gate {s:?} (expected G0A, G0B, G1, G1-COMPLETE, G5 or G6)"))
}

#[derive(Debug, Serialize)]
struct GatesOutput {
    passed: bool,
    gates: Vec<GateReport>,
}

pub(crate) fn run(s: &Settings, a: GatesArgs) -> CmdResult {
    let plane = s.plane_for_repair()?;
    let gates = if a.gate.is_empty() { run_plane_gates(&plane)? } else { run_gates(&plane, &a.gate)? };
    let out = GatesOutput { passed: gates.iter().all(GateReport::passed), gates };
    render(s, &out, |o| {
        let mut t = String::new();
        for g in &o.gates {
            t.push_str(
                &format!("{}: {:?}  {}\n", g.gate, g.status, g.summary).replace("Pass", "PASS").replace("Fail", "FAIL"),
            );
        }
        for g in &o.gates {
            for e in &g.errors {
                t.push_str(&format!("  {}: {e}\n", g.gate));
            }
        }
        t
    })?;
    Ok(if out.passed { Outcome::Ok } else { Outcome::Refused })
}
