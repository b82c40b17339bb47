//! `cp-otel`: telemetry of the Control Plane — the Attention Event Protocol over OpenTelemetry.
//!
//! Owns: the projection of ledger entries to OTLP spans and the GenAI client metrics (pure and
//! deterministic), the tenant-scoped selection of entries, OTLP/JSON lines export, OTLP/HTTP
//! push (protobuf or JSON) with retries and a spool, the `--follow` cursor, and the compliance
//! report. Never does: write to a ledger the router waits on, or read another tenant's entries.

mod config;
mod deliver;
pub mod env_vars;
mod error;
mod export;
mod follow;
pub mod ids;
mod project;
mod push;
mod report;
mod select;

pub use config::{
    DEFAULT_OTEL_CONFIG_YAML, FollowConfig, MetricsConfig, OTEL_CONFIG_PATH, OTEL_CONFIG_SCHEMA, OtelConfig,
    PushConfig, RetryConfig,
};
pub use deliver::{PushReport, push_selection, send_spans};
pub use error::OtelError;
pub use export::{ExportSummary, export_json_lines, metrics_json, projection_options, traces_json};
pub use follow::{FollowReport, Follower};
pub use project::{
    ProjectionOptions, ProjectionStats, Projector, SCOPE_NAME, SEMCONV_VERSION, SourcedEntry, batches, project,
    resource, schema_url, traces_data,
};
pub use push::{DEFAULT_ENDPOINT, Delivery, Endpoint, Protocol, PushFailure, Pusher, Signal};
pub use report::{ChainProof, ComplianceReport, Section, build_report, render_html, render_pdf};
pub use select::{Selection, for_each_page, read_entries};

/// The generated OTLP messages this crate produces (re-exported for callers and tests).
pub use opentelemetry_proto::tonic as proto;
