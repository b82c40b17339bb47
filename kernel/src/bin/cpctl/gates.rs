//! `cpctl gates --all | --gate G0B G1 …`: run the plane-level gates.

use clap::Args;
use serde::Serialize;

use cp_kernel::gates::{GateId, GateReport, run_gates};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  cpctl --root ./cp-root gates --all\n  cpctl gates --gate G0B G1 --json")]
pub(crate) struct GatesArgs {
    /// Run every gate (G0A, G0B, G1, G1-COMPLETE, G5, G6); the default when no --gate is given.
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
    let plane = s.plane()?;
    let ids = if a.all { Vec::new() } else { a.gate };
    let gates = run_gates(&plane, &ids)?;
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
