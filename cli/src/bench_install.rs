//! `cpctl bench install`: bootstrap install with every gate vs reading + hashing the same
//! archives, in the same run.

use std::path::PathBuf;

use clap::Subcommand;

use cp_installer::bench::bench_install;
use cp_kernel::env_vars;

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchInstallCmd {
    /// Bootstrap install of the package set with every gate, against a same-run baseline of
    /// reading the same archives and hashing their files.
    #[command(after_help = "Example:\n  cpctl bench install --iterations 5 --json")]
    Install {
        /// Repository root (with packages/) or store of archives; default: $CP_PACKAGES_DIR,
        /// else the repository this binary was built from.
        #[arg(long, env = env_vars::CP_PACKAGES_DIR)]
        packages: Option<PathBuf>,
        /// Runs; the median is reported.
        #[arg(long, default_value_t = 3)]
        iterations: usize,
    },
}

pub(crate) fn run(s: &Settings, c: BenchInstallCmd) -> CmdResult {
    let BenchInstallCmd::Install { packages, iterations } = c;
    let src = packages.unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/..")));
    let work = std::env::temp_dir().join(format!("cp-bench-install-{}", std::process::id()));
    let r = bench_install(&src, &work, iterations)?;
    render(s, &r, |r| {
        format!(
            "{} packages, {} files, {} archive bytes, {} runs (medians)\nbaseline (read + hash): {:.1} ms\ninstall, durability full: {:.1} ms ({:.1}x)\ninstall, durability normal: {:.1} ms ({:.1}x)",
            r.packages,
            r.files,
            r.archive_bytes,
            r.iterations,
            r.baseline_ms,
            r.install_full_ms,
            r.ratio_full,
            r.install_normal_ms,
            r.ratio_normal
        )
    })?;
    Ok(Outcome::Ok)
}
