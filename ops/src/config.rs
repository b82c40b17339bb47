//! Settings of the operations service (`HOT/config/ops_config.yaml`, schema `ops_config`, shipped by
//! `PKG-PROMPT-ROUTER-001`). The shipped file is compiled in and used when the plane has none;
//! flags of `cpctl serve` override single values ([`Overrides`]).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use cp_kernel::{Plane, SchemaSet};

use crate::error::OpsError;

/// Schema name of the config.
pub const OPS_CONFIG_SCHEMA: &str = "ops_config";
/// Plane-relative path of the config.
pub const OPS_CONFIG_PATH: &str = "HOT/config/ops_config.yaml";
/// The shipped config.
pub const DEFAULT_OPS_CONFIG_YAML: &str =
    include_str!("../../packages/PKG-PROMPT-ROUTER-001/HOT/config/ops_config.yaml");

/// The whole config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsConfig {
    /// Listener and shutdown.
    pub server: ServerConfig,
    /// Input limits.
    pub limits: LimitsConfig,
    /// Query defaults and the dashboard.
    pub views: ViewsConfig,
    /// Budget alerts.
    pub alerts: AlertsConfig,
    /// Roles allowed to write and to read.
    pub auth: OpsAuthConfig,
}

/// `server`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub bind: String,
    /// Port (0 = any free port, printed at start).
    pub port: u16,
    /// Longest wait for in-flight requests at shutdown (ms).
    pub shutdown_grace_ms: u64,
    /// Longest time a request body may take to arrive (ms).
    pub request_timeout_ms: u64,
}

/// `limits`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body (bytes).
    pub max_body_bytes: usize,
    /// Most events per request.
    pub max_events_per_request: usize,
    /// Longest string field (bytes).
    pub max_string_bytes: usize,
    /// Largest `latency_ms`.
    pub max_latency_ms: u64,
    /// Largest `cost_usd` (and absolute adjustment).
    pub max_cost_usd: f64,
    /// Largest token count.
    pub max_tokens: u64,
}

/// `views`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewsConfig {
    /// Default window (hours).
    pub window_hours: u32,
    /// Largest window (hours).
    pub max_window_hours: u32,
    /// Default `limit` of recent failures.
    pub failures_limit: usize,
    /// Largest `limit` of recent failures.
    pub max_failures_limit: usize,
    /// Dashboard refresh (seconds).
    pub refresh_interval_s: u64,
    /// Poll interval of the plane's prompt ledger (ms).
    pub prompt_poll_ms: u64,
    /// Tenant of `--dev` events that name none.
    pub dev_tenant: String,
}

/// `alerts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Check interval (seconds).
    pub check_interval_s: f64,
    /// Budget period (`day`, UTC).
    pub period: String,
    /// Hard threshold of scopes without their own (USD per period; 0 = none).
    pub daily_budget_usd: f64,
    /// Soft threshold as a fraction of the hard one.
    pub soft_fraction: f64,
    /// Hard thresholds by scope.
    pub scope_budgets_usd: BTreeMap<String, f64>,
    /// Slack-compatible webhook (empty = none).
    pub webhook_url: String,
    /// Timeout of one webhook request (ms).
    pub timeout_ms: u64,
    /// Delivery attempts per check.
    pub max_attempts: u32,
    /// First backoff (ms), doubled per retry.
    pub initial_backoff_ms: u64,
    /// Backoff cap (ms).
    pub max_backoff_ms: u64,
}

/// `auth`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpsAuthConfig {
    /// Roles that may ingest events and adjust costs.
    pub ingest_roles: Vec<String>,
    /// Roles that may read.
    pub read_roles: Vec<String>,
}

/// Values given on the command line, each replacing the config's.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// `--bind`.
    pub bind: Option<String>,
    /// `--port`.
    pub port: Option<u16>,
    /// `--webhook-url`.
    pub webhook_url: Option<String>,
    /// `--daily-budget-usd`.
    pub daily_budget_usd: Option<f64>,
    /// `--check-interval-s`.
    pub check_interval_s: Option<f64>,
}

impl OpsConfig {
    /// The shipped config, validated against the embedded schema.
    pub fn shipped() -> Result<Self, OpsError> {
        let schemas = SchemaSet::embedded()?;
        let c: Self = schemas.load_str(OPS_CONFIG_SCHEMA, Path::new(OPS_CONFIG_PATH), DEFAULT_OPS_CONFIG_YAML)?;
        c.check(Path::new(OPS_CONFIG_PATH))?;
        Ok(c)
    }

    /// The plane's `HOT/config/ops_config.yaml` when present, else the shipped config.
    pub fn for_plane(plane: &Plane) -> Result<Self, OpsError> {
        let path = plane.resolve(OPS_CONFIG_PATH)?;
        if !path.is_file() {
            return Self::shipped();
        }
        let schemas = SchemaSet::for_plane(plane)?;
        let schemas = if schemas.contains(OPS_CONFIG_SCHEMA) { schemas } else { SchemaSet::embedded()? };
        let c: Self = schemas.load_document(OPS_CONFIG_SCHEMA, &path)?;
        c.check(&path)?;
        Ok(c)
    }

    /// Applies command-line overrides and checks the result again.
    pub fn with_overrides(mut self, o: &Overrides) -> Result<Self, OpsError> {
        if let Some(v) = &o.bind {
            self.server.bind.clone_from(v);
        }
        if let Some(v) = o.port {
            self.server.port = v;
        }
        if let Some(v) = &o.webhook_url {
            self.alerts.webhook_url.clone_from(v);
        }
        if let Some(v) = o.daily_budget_usd {
            self.alerts.daily_budget_usd = v;
        }
        if let Some(v) = o.check_interval_s {
            self.alerts.check_interval_s = v;
        }
        self.check(Path::new("command line"))?;
        Ok(self)
    }

    /// Checks the schema cannot express (or that flags may break).
    fn check(&self, path: &Path) -> Result<(), OpsError> {
        let bad = |message: String| Err(OpsError::Config { path: path.to_path_buf(), message });
        if self.server.bind.parse::<std::net::IpAddr>().is_err() {
            return bad(format!("/server/bind: {:?} is not an IP address", self.server.bind));
        }
        if self.views.window_hours > self.views.max_window_hours {
            return bad("/views/window_hours: larger than /views/max_window_hours".into());
        }
        if self.views.failures_limit > self.views.max_failures_limit {
            return bad("/views/failures_limit: larger than /views/max_failures_limit".into());
        }
        let a = &self.alerts;
        if !(a.daily_budget_usd.is_finite() && a.daily_budget_usd >= 0.0) {
            return bad("/alerts/daily_budget_usd: expected a finite number >= 0".into());
        }
        if !(a.check_interval_s.is_finite() && a.check_interval_s > 0.0) {
            return bad("/alerts/check_interval_s: expected a finite number > 0".into());
        }
        let url = &a.webhook_url;
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return bad(format!("/alerts/webhook_url: {url:?} is not an http(s) URL"));
        }
        Ok(())
    }

    /// The hard threshold of a budget scope (USD per period), `None` when it has none.
    pub fn hard_threshold(&self, scope: &str) -> Option<f64> {
        let v = self.alerts.scope_budgets_usd.get(scope).copied().unwrap_or(self.alerts.daily_budget_usd);
        (v > 0.0).then_some(v)
    }
}
