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
mod bench_otel;
mod bench_route;
mod budget;
mod common;
mod gates;
mod ledger;
mod ledger_audit;
mod ledger_check;
mod ledger_ops;
mod otel;
mod plane;
mod plane_migrate;
mod plane_recover;
mod quickstart;
mod registries;
mod registry;
mod report;
mod route;
mod schema;
mod template;

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
    };
    cli_support::finish_as(result, json)
}
