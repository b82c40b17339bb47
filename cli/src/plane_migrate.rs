//! `cpctl plane migrate --from-cp2 OLD --root NEW`: a Control Plane v2 (Python) plane into a new
//! native plane (`cp_installer::cp2::migrate_cp2_plane`); the old plane is only read.

use std::path::PathBuf;

use clap::Args;

use cp_installer::cp2::{MIGRATION_REPORT, MigrateReport, migrate_cp2_plane};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// The plane installed by Control Plane v2 (read only; never modified).
    #[arg(long = "from-cp2", value_name = "OLD")]
    from_cp2: PathBuf,
}

pub(crate) fn run(s: &Settings, a: MigrateArgs) -> CmdResult {
    let r = migrate_cp2_plane(&a.from_cp2, &s.root)?;
    render(s, &r, text)?;
    Ok(Outcome::Ok)
}

fn text(r: &MigrateReport) -> String {
    let mut out = format!(
        "migrated {} into {} ({} native bootstrap packages)\n",
        r.from.display(),
        r.root.display(),
        r.bootstrap
    );
    for l in &r.ledgers {
        out.push_str(&format!(
            "ledger {} → {}: {} entries, linked at seq {} to Python head {}\n",
            l.source,
            l.ledger,
            l.imported,
            l.link_seq,
            l.source_head.as_deref().unwrap_or("-")
        ));
    }
    if let Some(p) = &r.package {
        out.push_str(&format!("carried {} files as {} {}\n", r.carried.len(), p.package_id, p.version));
    }
    for c in &r.carried {
        out.push_str(&format!("  carried {c}\n"));
    }
    for l in &r.left {
        out.push_str(&format!("  left {}: {}\n", l.path, l.reason));
    }
    out.push_str(&format!("report: {}\n", r.root.join(MIGRATION_REPORT).display()));
    out
}
