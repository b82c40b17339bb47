//! `cpctl` — the Control Plane kernel's command-line interface.
//!
//! Thin over the libraries (`cp-kernel`, `cp-installer`, `cp-otel`, `aef`): parse, resolve settings, make one
//! library call, render the typed result as text or `--json`. Errors and exit codes are
//! `cp_installer::cli_support`'s, shared with `cp-install`: 0 ok, 1 usage or unexpected failure,
//! 2 a verified "no" (gate FAIL, broken chain, invalid document, refused budget), 3 I/O.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod aef_export;
mod attention;
mod auth;
mod bench;
mod bench_attention;
mod bench_install;
mod bench_ledger;
mod bench_ledger_pg;
mod bench_ops;
mod bench_otel;
mod bench_route;
mod budget;
mod budget_reconcile;
mod common;
mod cost;
mod gates;
mod ledger;
mod ledger_audit;
mod ledger_check;
mod ledger_copy;
mod ledger_ops;
mod ops;
mod otel;
mod plane;
mod plane_migrate;
mod plane_recover;
mod quickstart;
mod read_access;
mod registries;
mod registry;
mod replay;
mod report;
mod report_check;
mod route;
mod router_cmd;
mod schema;
mod serve;
mod template;
mod work_order;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cp_installer::cli_support;

use common::{Global, Settings};

/// Control Plane kernel: plane, ledger, schemas, registries, gates, attention and routing.
#[derive(Debug, Parser)]
#[command(name = "cpctl", version, about, long_about = None)]
#[command(after_help = "Example:\n  cpctl --root ./cp-root plane info --json")]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create, inspect and recover a plane.
    #[command(subcommand)]
    Plane(plane::PlaneCmd),
    /// Append to, query, verify, checkpoint, export and import ledgers.
    #[command(subcommand)]
    Ledger(ledger::LedgerCmd),
    /// Validate documents against the plane's JSON Schemas.
    #[command(subcommand)]
    Schema(schema::SchemaCmd),
    /// Show a registry.
    #[command(subcommand)]
    Registry(registry::RegistryCmd),
    /// Rebuild and verify the derived registries.
    #[command(subcommand)]
    Registries(registries::RegistriesCmd),
    /// Run the plane-level gates.
    Gates(gates::GatesArgs),
    /// Assemble, validate and explain attention templates.
    #[command(subcommand)]
    Attention(attention::AttentionCmd),
    /// Install your own attention template through the gates (package, sign, install).
    #[command(subcommand)]
    Template(template::TemplateCmd),
    /// Route a prompt request through the router.
    Route(route::RouteArgs),
    /// Show, allocate and recover budgets.
    #[command(subcommand)]
    Budget(budget::BudgetCmd),
    /// Issue and inspect auth tokens.
    #[command(subcommand)]
    Auth(auth::AuthCmd),
    /// Run the built-in benchmarks and print the results.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// Create a plane, install the bootstrap set, and route one prompt end to end.
    Quickstart(quickstart::QuickstartArgs),
    /// Export or push the ledgers as OpenTelemetry spans and GenAI metrics (one tenant).
    #[command(subcommand)]
    Otel(otel::OtelCmd),
    /// Write the compliance (traceability) report of a session or time window (one tenant).
    Report(report::ReportArgs),
    /// Export the plane's sessions as Agent Event Format (one tenant).
    #[command(subcommand)]
    Aef(aef_export::AefCmd),
    /// What a work order cost: prompts, tokens, cost by provider and model, adjustments.
    Cost(cost::CostArgs),
    /// Degrade state, operator degrade and resume.
    #[command(subcommand)]
    Router(router_cmd::RouterCmd),
    /// Replay recorded prompts against the plane as it was; report drift (exit 2).
    Replay(replay::ReplayArgs),
    /// Check a saved phase report against PRC-PHASE-REPORT-001's output schema.
    ReportCheck(report_check::ReportCheckArgs),
    /// Create, move and read work orders (lifecycle: HOT/config/work_orders.yaml).
    #[command(subcommand)]
    Wo(work_order::WoCmd),
    /// Run the operations service: event ingest API, KPIs, dashboard, budget alerts.
    Serve(serve::ServeArgs),
    /// Adjust costs, rebuild the aggregates, generate synthetic load (operations service).
    #[command(subcommand)]
    Ops(ops::OpsCmd),
}

fn main() -> ExitCode {
    let cli: Cli = match cli_support::parse() {
        Ok(c) => c,
        Err(code) => return code,
    };
    cli_support::init_tracing(cli.global.verbose);
    let settings = Settings::resolve(&cli.global);
    let json = settings.json;
    let result = match cli.command {
        Command::Plane(c) => plane::run(&settings, c),
        Command::Ledger(c) => ledger::run(&settings, c),
        Command::Schema(c) => schema::run(&settings, c),
        Command::Registry(c) => registry::run(&settings, c),
        Command::Registries(c) => registries::run(&settings, c),
        Command::Gates(a) => gates::run(&settings, a),
        Command::Attention(c) => attention::run(&settings, c),
        Command::Template(c) => template::run(&settings, c),
        Command::Route(a) => route::run(&settings, a),
        Command::Budget(c) => budget::run(&settings, c),
        Command::Auth(c) => auth::run(&settings, c),
        Command::Bench(c) => bench::run(&settings, c),
        Command::Quickstart(a) => quickstart::run(&settings, a),
        Command::Otel(c) => otel::run(&settings, c),
        Command::Aef(c) => aef_export::run(&settings, c),
        Command::Report(a) => report::run(&settings, a),
        Command::Cost(a) => cost::run(&settings, a),
        Command::Router(c) => router_cmd::run(&settings, c),
        Command::Replay(a) => replay::run(&settings, a),
        Command::Wo(c) => work_order::run(&settings, c),
        Command::ReportCheck(a) => report_check::run(&settings, a),
        Command::Serve(a) => serve::run(&settings, a),
        Command::Ops(c) => ops::run(&settings, c),
    };
    cli_support::finish_as(result, json)
}
