//! Integration tests of `cpctl` (one binary, modules per command group): they run the binary,
//! which Cargo builds for the crate that owns it (`CARGO_BIN_EXE_cpctl`).
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]

mod attention;
mod auth_secret;
mod bounded_inputs;
mod broken_pipe;
mod budget_reconcile;
mod cli_foundation;
mod cp2_plane;
mod gates;
mod identifier_bounds;
mod ledger_checkpoint;
mod ledger_cli;
mod ledger_concurrency;
mod ledger_contention;
mod ledger_crash;
mod ops_alerts;
mod ops_api;
mod ops_crash;
mod ops_dashboard;
mod ops_input;
mod ops_support;
mod otel_cli;
mod pg_scale_out;
mod repair;
mod replay;
mod report_check;
mod route_provider;
mod router_cli;
mod router_degrade;
mod support;
mod tenant_matrix;
mod tenant_scope;
mod tutorial;
mod work_orders;
