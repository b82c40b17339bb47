//! Integration tests of cp-kernel (one binary, modules per concern).
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]
mod attention;
mod attention_budget;
mod attention_isolation;
mod attention_pipeline;
mod attention_retrieval;
mod attention_robustness;
mod auth_tenants;
mod bounded_reads;
mod budget_props;
mod budget_reconcile;
mod contract_governance;
mod contract_pack;
mod framework;
mod ledger_checkpoint;
mod ledger_columns;
mod ledger_concurrency;
mod ledger_conformance;
mod ledger_cp2;
mod ledger_manifest;
#[cfg(feature = "postgres")]
mod ledger_postgres;
mod ledger_verify;
mod phase_report;
mod plane;
mod policy_decisions;
mod providers_http;
mod read_scope;
mod registry;
mod replay_bounded;
mod request_scope;
#[cfg(feature = "bench")]
mod router_bench;
mod router_concurrency;
mod router_config;
mod router_degrade;
mod router_matrix;
mod router_resilience;
mod router_robustness;
mod router_support;
mod schema;
mod wiring;
mod work_order_guard;
