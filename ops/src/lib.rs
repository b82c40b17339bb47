//! `cp-ops`: the operations service of the Control Plane (`cpctl serve`).
//!
//! Owns: the ingest contract of agent run/step/model-call events and its validation, the three
//! stores (the event store: one hash-chained kernel ledger per tenant; the cost facts:
//! append-only, corrected by compensating entries; the metrics aggregates: derived, kept in
//! memory, rebuildable from the other two and from the plane's `PROMPT_*` entries), the HTTP API
//! and dashboard (axum + tokio, here only), bearer auth with the kernel's HMAC tokens, and the
//! budget alert worker. Never does: call the kernel on an async thread, edit a stored entry, or
//! answer a tenant with another tenant's data.

mod alerts;
mod auth;
mod commit;
mod config;
mod dashboard;
mod entries;
mod error;
mod event;
mod http;
mod ledgers;
mod project;
mod server;
mod service;
mod views;

pub use alerts::{Alert, AlertWorker, check as check_alerts, text as alert_text};
pub use auth::{Caller, Gate, Need, Refusal};
pub use config::{
    AlertsConfig, DEFAULT_OPS_CONFIG_YAML, LimitsConfig, OPS_CONFIG_PATH, OPS_CONFIG_SCHEMA, OpsAuthConfig, OpsConfig,
    Overrides, ServerConfig, ViewsConfig,
};
pub use dashboard::{PageView, esc, render as render_dashboard};
pub use error::OpsError;
pub use event::{Event, Invalid, OPTIONAL_STRINGS, REQUIRED, Status, TOKEN_FIELDS, split_body, validate, validate_all};
pub use http::{App, router};
pub use ledgers::{names as ledger_names, slug as tenant_slug};
pub use server::serve;
pub use service::{AdjustReport, IngestReport, Ops};
pub use views::{Attribution, FailureRow, Filter, HourPoint, Overview, TenantView, round_usd};
