//! Attribute helpers and the ledger-entry field readers the projection uses.

use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value::Value as AV};
use serde_json::Value;

use cp_kernel::LedgerEntry;

fn kv(key: &str, v: AV) -> KeyValue {
    KeyValue { key: key.to_string(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
}

/// A string attribute.
pub(crate) fn s(key: &str, v: impl Into<String>) -> KeyValue {
    kv(key, AV::StringValue(v.into()))
}

/// An integer attribute.
pub(crate) fn i(key: &str, v: i64) -> KeyValue {
    kv(key, AV::IntValue(v))
}

/// An unsigned integer attribute (saturating at `i64::MAX`).
pub(crate) fn u(key: &str, v: u64) -> KeyValue {
    i(key, i64::try_from(v).unwrap_or(i64::MAX))
}

/// A floating-point attribute.
pub(crate) fn d(key: &str, v: f64) -> KeyValue {
    kv(key, AV::DoubleValue(v))
}

/// A boolean attribute.
pub(crate) fn b(key: &str, v: bool) -> KeyValue {
    kv(key, AV::BoolValue(v))
}

/// A string-array attribute.
pub(crate) fn strings(key: &str, v: &[&str]) -> KeyValue {
    let values = v.iter().map(|x| AnyValue { value: Some(AV::StringValue((*x).to_string())) }).collect();
    kv(key, AV::ArrayValue(ArrayValue { values }))
}

/// `metadata[key]` as a string.
pub(crate) fn meta_str<'a>(e: &'a LedgerEntry, key: &str) -> Option<&'a str> {
    e.metadata.get(key).and_then(Value::as_str)
}

/// `metadata[key]` as an unsigned integer.
pub(crate) fn meta_u64(e: &LedgerEntry, key: &str) -> Option<u64> {
    e.metadata.get(key).and_then(Value::as_u64)
}

/// `metadata[key]` as a number.
pub(crate) fn meta_f64(e: &LedgerEntry, key: &str) -> Option<f64> {
    e.metadata.get(key).and_then(Value::as_f64)
}

/// Pushes `s(key, v)` when `v` is present.
pub(crate) fn push_s(out: &mut Vec<KeyValue>, key: &str, v: Option<&str>) {
    if let Some(v) = v {
        out.push(s(key, v));
    }
}

/// Pushes `u(key, v)` when `v` is present.
pub(crate) fn push_u(out: &mut Vec<KeyValue>, key: &str, v: Option<u64>) {
    if let Some(v) = v {
        out.push(u(key, v));
    }
}

/// Unix nanoseconds of an RFC 3339 timestamp (0 when it does not parse).
pub(crate) fn nanos(ts: &str) -> u64 {
    ts.parse::<jiff::Timestamp>().ok().and_then(|t| u64::try_from(t.as_nanosecond()).ok()).unwrap_or(0)
}
