//! Integration tests of cp-kernel (one binary, modules per concern).
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]
mod auth_tenants;
mod budget_props;
mod providers_http;
mod router_bench;
mod router_cli;
mod router_concurrency;
mod router_config;
mod router_matrix;
mod router_resilience;
mod router_support;
