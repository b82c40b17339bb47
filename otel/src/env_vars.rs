//! The standard OpenTelemetry exporter environment variables this crate honours (read by the
//! binary and passed in; the library never reads the environment itself).

/// Base endpoint; `/v1/traces` and `/v1/metrics` are appended.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// `http/protobuf` (default) or `http/json`.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// `key=value,key2=value2` headers (values URL-encoded).
pub const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// `service.name` of the resource.
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
