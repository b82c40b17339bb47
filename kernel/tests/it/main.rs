//! Integration tests of cp-kernel (one binary, modules per concern).
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]
mod router_support;
mod router_matrix;
mod router_resilience;
mod router_concurrency;
mod budget_props;
mod auth_tenants;
mod router_config;
