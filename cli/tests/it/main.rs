//! Integration tests of `cpctl` (one binary, modules per command group): they run the binary,
//! which Cargo builds for the crate that owns it (`CARGO_BIN_EXE_cpctl`).
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]

mod attention;
mod cli_foundation;
mod gates;
mod ledger_checkpoint;
mod ledger_concurrency;
mod ledger_crash;
mod otel_cli;
mod router_cli;
