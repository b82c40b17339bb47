//! `cpctl report-check FILE`: a saved phase report against the `output_schema` of the plane's
//! `PRC-PHASE-REPORT-001` (exit 2 when invalid, every fault with its JSON path).

use std::path::PathBuf;

use clap::Args;

use cp_kernel::check_phase_report;

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  cpctl report-check reports/P7.json --json")]
pub(crate) struct ReportCheckArgs {
    /// The phase report (JSON).
    file: PathBuf,
}

pub(crate) fn run(s: &Settings, a: ReportCheckArgs) -> CmdResult {
    let plane = s.plane()?;
    let c = check_phase_report(&plane, &a.file)?;
    render(s, &c, |c| {
        if c.valid {
            format!("{}: a valid phase report (PRC-PHASE-REPORT-001)", c.file.display())
        } else {
            let mut out = format!("{}: not a valid phase report (PRC-PHASE-REPORT-001):", c.file.display());
            for e in &c.errors {
                out.push_str(&format!("\n  {e}"));
            }
            out
        }
    })?;
    Ok(if c.valid { Outcome::Ok } else { Outcome::Refused })
}
