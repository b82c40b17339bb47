//! `cpctl bench route`: per-prompt kernel overhead next to raw SQLite commits, routed
//! prompts/s with N threads, reserve+settle pairs/s.

use clap::Subcommand;

use cp_kernel::{bench::route::RouteBenchConfig, bench::route::run as run_bench};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchRouteCmd {
    /// Route benchmarks on a zero-latency mock in a throw-away plane.
    #[command(after_help = "Example:\n  cpctl bench route --json --prompts 200 --threads 8 --per-thread 50")]
    Route {
        /// Sequential prompts per durability mode.
        #[arg(long, default_value_t = 200)]
        prompts: usize,
        /// Threads of the throughput run.
        #[arg(long, default_value_t = 8)]
        threads: usize,
        /// Prompts per thread.
        #[arg(long, default_value_t = 50)]
        per_thread: usize,
        /// Threads of the reserve+settle run.
        #[arg(long, default_value_t = 16)]
        budget_threads: usize,
        /// Pairs per thread.
        #[arg(long, default_value_t = 50)]
        pairs_per_thread: usize,
    },
}

pub(crate) fn run(s: &Settings, c: BenchRouteCmd) -> CmdResult {
    let BenchRouteCmd::Route { prompts, threads, per_thread, budget_threads, pairs_per_thread } = c;
    let r = run_bench(&RouteBenchConfig { prompts, threads, per_thread, budget_threads, pairs_per_thread })?;
    render(s, &r, |r| {
        let mut out = format!("ledger backend: {}\n", r.ledger_backend);
        for o in &r.overhead {
            out.push_str(&format!(
                "durability {:6}: route p50 {:.0} µs p99 {:.0} µs | sqlite commit p50 {:.0} µs p99 {:.0} µs | route / 2 commits (p50) {:.2}\n",
                o.durability, o.route.p50_us, o.route.p99_us, o.sqlite_commit.p50_us, o.sqlite_commit.p99_us, o.ratio_p50_vs_two_commits
            ));
        }
        out.push_str(&format!(
            "in-memory store (router only): route p50 {:.0} µs p99 {:.0} µs, {:.0} prompts/s with {} threads\n",
            r.route_memory_store.p50_us, r.route_memory_store.p99_us, r.routed_per_s_memory_store, r.config.threads
        ));
        out.push_str(&format!(
            "routed prompts/s ({} threads): {:.0}\nreserve+settle pairs/s ({} threads): {:.0}",
            r.config.threads, r.routed_per_s, r.config.budget_threads, r.reserve_settle_pairs_per_s
        ));
        out
    })?;
    Ok(Outcome::Ok)
}
