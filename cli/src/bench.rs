//! `cpctl bench …`: built-in benchmarks printing ratios against same-run baselines.

use clap::Subcommand;

use crate::common::{CmdResult, Settings};
use crate::{bench_attention, bench_install, bench_ledger, bench_ops, bench_otel, bench_route};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCmd {
    #[command(flatten)]
    Ledger(bench_ledger::BenchLedgerCmd),
    #[command(flatten)]
    Attention(bench_attention::BenchAttentionCmd),
    #[command(flatten)]
    Route(bench_route::BenchRouteCmd),
    #[command(flatten)]
    Install(bench_install::BenchInstallCmd),
    #[command(flatten)]
    Otel(bench_otel::BenchOtelCmd),
    #[command(flatten)]
    Ops(bench_ops::BenchOpsCmd),
}

pub(crate) fn run(s: &Settings, c: BenchCmd) -> CmdResult {
    match c {
        BenchCmd::Ledger(c) => bench_ledger::run(s, c),
        BenchCmd::Attention(c) => bench_attention::run(s, c),
        BenchCmd::Route(c) => bench_route::run(s, c),
        BenchCmd::Install(c) => bench_install::run(s, c),
        BenchCmd::Otel(c) => bench_otel::run(s, c),
        BenchCmd::Ops(c) => bench_ops::run(s, c),
    }
}
