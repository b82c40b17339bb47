//! `cpctl bench attention`: assembly latency of a targeted template and of a search template
//! on a generated plane (see `cp_kernel::bench::attention`).

use std::path::PathBuf;

use clap::Subcommand;

use cp_kernel::{bench::attention::BenchSizes, bench::attention::run_with as run_bench};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchAttentionCmd {
    /// Measure attention assembly (targeted template p50/p99, search index build, search p50/p99).
    #[command(
        after_help = "Example:\n  cpctl bench attention --json\n  cpctl bench attention --ledger-entries 1000000 --files 10000 --search-docs 100000 --sqlite"
    )]
    Attention {
        /// Entries in the ledger read by the targeted template.
        #[arg(long, default_value_t = 100_000)]
        ledger_entries: u64,
        /// Files in the plane.
        #[arg(long, default_value_t = 2_000)]
        files: u64,
        /// Documents in the search corpus (files + ledger notes).
        #[arg(long, default_value_t = 20_000)]
        search_docs: u64,
        /// Sessions the ledger entries are spread over.
        #[arg(long, default_value_t = 100)]
        sessions: u64,
        /// Measured assemblies per template.
        #[arg(long, default_value_t = 200)]
        iterations: usize,
        /// Put the prompts ledger in a real SQLite store instead of an in-memory one.
        #[arg(long)]
        sqlite: bool,
        /// Directory for the generated plane (default: a fresh temporary directory, removed after).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

pub(crate) fn run(s: &Settings, c: BenchAttentionCmd) -> CmdResult {
    let BenchAttentionCmd::Attention { ledger_entries, files, search_docs, sessions, iterations, sqlite, dir } = c;
    let (root, cleanup) = match dir {
        Some(d) => (d, false),
        None => (std::env::temp_dir().join(format!("cp-bench-attention-{}", std::process::id())), true),
    };
    let sizes = BenchSizes { ledger_entries, files, search_docs, sessions };
    let result = run_bench(&root.join("plane"), sizes, iterations, sqlite);
    if cleanup {
        let _ = cp_kernel::fsx::remove_dir_all(&root);
    }
    let report = result?;
    render(s, &report, |r| {
        format!(
            "attention bench: ledger {} entries, {} files, search corpus {} docs, {} sessions (setup {:.0} ms)\n\
             targeted assemble: p50 {:.1} µs, p99 {:.1} µs, mean {:.1} µs ({} iterations)\n\
             search index build: {:.1} ms\n\
             search assemble (warm): p50 {:.1} µs, p99 {:.1} µs, mean {:.1} µs ({} iterations)\n\
             notes: {}",
            r.sizes.ledger_entries,
            r.sizes.files,
            r.sizes.search_docs,
            r.sizes.sessions,
            r.setup_ms,
            r.assemble_targeted.p50_us,
            r.assemble_targeted.p99_us,
            r.assemble_targeted.mean_us,
            r.assemble_targeted.iterations,
            r.search_index_build_ms,
            r.assemble_search.p50_us,
            r.assemble_search.p99_us,
            r.assemble_search.mean_us,
            r.assemble_search.iterations,
            r.notes.join("; ")
        )
    })?;
    Ok(Outcome::Ok)
}
