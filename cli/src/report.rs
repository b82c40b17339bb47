//! `cpctl report`: the compliance (traceability) report of one tenant's session or time window,
//! as HTML or PDF.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use cp_otel::{OtelConfig, build_report, render_html, render_pdf};

use crate::common::{CmdResult, Outcome, Settings, render};
use crate::otel::SelectArgs;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// One self-contained HTML page.
    Html,
    /// A PDF (text extractable).
    Pdf,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    select: SelectArgs,
    /// Output format.
    #[arg(long, value_enum)]
    format: Format,
    /// Write the report here.
    #[arg(long)]
    out: PathBuf,
}

pub(crate) fn run(s: &Settings, a: ReportArgs) -> CmdResult {
    let plane = s.plane()?;
    let cfg = OtelConfig::for_plane(&plane)?;
    let r = build_report(&plane, &a.select.selection(&plane, "report")?, cfg.read_page_entries)?;
    let bytes = match a.format {
        Format::Html => render_html(&r).into_bytes(),
        Format::Pdf => render_pdf(&r),
    };
    cp_kernel::fsx::write_atomic(&a.out, bytes)?;
    render(s, &r, |r| {
        format!(
            "wrote the traceability record of tenant {} ({}) to {}: {} prompt(s), {} decision(s), chain {}",
            r.tenant,
            r.scope,
            a.out.display(),
            r.prompts,
            r.decisions,
            if r.chain.iter().all(|c| c.verified) { "verified" } else { "NOT verified" }
        )
    })?;
    Ok(if r.chain.iter().all(|c| c.verified) { Outcome::Ok } else { Outcome::Refused })
}
