//! Settings of the exporter (`HOT/config/otel_config.yaml`, schema `otel_config`). The default
//! (`otel/config/otel_config.yaml`) is compiled in and used when the plane has none.

use serde::{Deserialize, Serialize};

use cp_kernel::{Plane, SchemaSet};

use crate::error::OtelError;

/// Schema name of the config.
pub const OTEL_CONFIG_SCHEMA: &str = "otel_config";
/// Plane-relative path of the config.
pub const OTEL_CONFIG_PATH: &str = "HOT/config/otel_config.yaml";
/// The default config.
pub const DEFAULT_OTEL_CONFIG_YAML: &str = include_str!("../config/otel_config.yaml");

/// Exporter configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtelConfig {
    /// `service.name` when `OTEL_SERVICE_NAME` is not set.
    pub service_name: String,
    /// Entries read per ledger query while exporting (count).
    pub read_page_entries: usize,
    /// Histogram buckets.
    pub metrics: MetricsConfig,
    /// OTLP/HTTP push.
    pub push: PushConfig,
    /// `--follow`.
    pub follow: FollowConfig,
}

/// Histogram bucket boundaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `gen_ai.client.token.usage` boundaries (tokens).
    pub token_usage_buckets: Vec<f64>,
    /// `gen_ai.client.operation.duration` boundaries (seconds).
    pub duration_buckets_s: Vec<f64>,
}

/// Push settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushConfig {
    /// Spans per request (count).
    pub max_spans_per_batch: usize,
    /// Timeout of one request (ms).
    pub timeout_ms: u64,
    /// gzip request bodies.
    pub gzip: bool,
    /// Retries.
    pub retry: RetryConfig,
}

/// Retry settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts per batch, the first included.
    pub max_attempts: u32,
    /// First backoff (ms), doubled per retry.
    pub initial_backoff_ms: u64,
    /// Backoff cap (ms).
    pub max_backoff_ms: u64,
    /// Longest `Retry-After` honoured (ms); longer waits are cut to this.
    pub max_retry_after_ms: u64,
}

/// `--follow` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FollowConfig {
    /// Poll interval (ms).
    pub poll_ms: u64,
    /// Spool cap (bytes).
    pub spool_max_bytes: u64,
}

impl OtelConfig {
    /// The compiled-in default, validated against the embedded schema.
    pub fn shipped() -> Result<Self, OtelError> {
        let schemas = SchemaSet::embedded()?;
        Ok(schemas.load_str(OTEL_CONFIG_SCHEMA, std::path::Path::new(OTEL_CONFIG_PATH), DEFAULT_OTEL_CONFIG_YAML)?)
    }

    /// The plane's `HOT/config/otel_config.yaml` when present, else the default.
    pub fn for_plane(plane: &Plane) -> Result<Self, OtelError> {
        let path = plane.resolve(OTEL_CONFIG_PATH)?;
        if path.is_file() {
            let schemas = SchemaSet::for_plane(plane)?;
            let c: Self = schemas.load_document(OTEL_CONFIG_SCHEMA, &path)?;
            c.check(&path)?;
            Ok(c)
        } else {
            Self::shipped()
        }
    }

    /// Checks the schema cannot express: bucket boundaries strictly increasing.
    fn check(&self, path: &std::path::Path) -> Result<(), OtelError> {
        for (field, b) in [
            ("token_usage_buckets", &self.metrics.token_usage_buckets),
            ("duration_buckets_s", &self.metrics.duration_buckets_s),
        ] {
            if let Some(i) = b.windows(2).position(|w| w[0] >= w[1]) {
                return Err(OtelError::Config {
                    path: path.to_path_buf(),
                    message: format!("/metrics/{field}/{}: boundaries must be strictly increasing", i + 1),
                });
            }
        }
        Ok(())
    }
}
