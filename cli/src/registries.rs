//! `cpctl registries rebuild [--verify]`: rebuild the derived registries from receipts and
//! installed manifests, or prove the live ones equal a fresh rebuild.

use clap::Subcommand;
use serde::Serialize;

use cp_installer::{RegistryDiff, rebuild_registries, verify_registries};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Subcommand)]
pub(crate) enum RegistriesCmd {
    /// Rebuild frameworks_registry.csv, specs_registry.csv and packages_state.csv (or, with
    /// --verify, compare the live files and the ownership registry with a fresh rebuild).
    #[command(after_help = "Example:\n  cpctl --root ./cp-root registries rebuild --verify")]
    Rebuild {
        /// Change nothing; exit 2 when the live registries differ from a fresh rebuild.
        #[arg(long)]
        verify: bool,
    },
}

#[derive(Debug, Serialize)]
struct RebuildOutput {
    verified: bool,
    written: bool,
    frameworks: usize,
    specs: usize,
    packages: usize,
    differences: Vec<RegistryDiff>,
}

pub(crate) fn run(s: &Settings, c: RegistriesCmd) -> CmdResult {
    let plane = s.plane()?;
    let RegistriesCmd::Rebuild { verify } = c;
    let out = if verify {
        let differences = verify_registries(&plane)?;
        let d = cp_installer::derive_registries(&plane)?;
        RebuildOutput {
            verified: differences.is_empty(),
            written: false,
            frameworks: d.frameworks.len(),
            specs: d.specs.len(),
            packages: d.packages.len(),
            differences,
        }
    } else {
        let d = rebuild_registries(&plane, true)?;
        RebuildOutput {
            verified: true,
            written: true,
            frameworks: d.frameworks.len(),
            specs: d.specs.len(),
            packages: d.packages.len(),
            differences: Vec::new(),
        }
    };
    render(s, &out, |o| {
        let mut t = format!(
            "{}: {} frameworks, {} specs, {} packages\n",
            if o.written {
                "rebuilt"
            } else if o.verified {
                "verified"
            } else {
                "DIFFERENT"
            },
            o.frameworks,
            o.specs,
            o.packages
        );
        for d in &o.differences {
            t.push_str(&format!("  {} {}: {}\n", d.registry, d.key, d.message));
        }
        t
    })?;
    Ok(if out.verified { Outcome::Ok } else { Outcome::Refused })
}
