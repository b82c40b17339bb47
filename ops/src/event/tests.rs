use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::OpsConfig;

fn limits() -> LimitsConfig {
    OpsConfig::shipped().unwrap().limits
}

fn good() -> Value {
    json!({"timestamp": "2026-12-03T10:00:00+01:00", "agent_id": "a1", "workflow_id": "w1", "status": "completed",
           "latency_ms": 120, "cost_usd": 0.25, "run_id": "r1", "input_tokens": 10})
}

fn err(v: Value) -> Invalid {
    validate("/0", v, &limits()).unwrap_err()
}

#[test]
fn a_valid_event_is_normalised() {
    let e = validate("", good(), &limits()).unwrap();
    assert_eq!(e.timestamp, "2026-12-03T09:00:00.000Z");
    assert_eq!(e.status, Status::Success);
    assert_eq!(e.field("run_id"), Some("r1"));
    assert_eq!(e.tokens["input_tokens"], 10);
    assert_eq!(e.run_key("x"), "run:r1");
}

#[test]
fn every_required_field_is_named_when_missing() {
    for f in REQUIRED {
        let mut v = good();
        v.as_object_mut().unwrap().remove(f);
        let e = err(v);
        assert_eq!((e.code, e.field.as_str()), ("missing_field", format!("/0/{f}").as_str()), "{f}");
    }
}

#[test]
fn wrong_types_and_values_name_the_field() {
    let cases = [
        ("latency_ms", json!("12"), "wrong_type"),
        ("latency_ms", json!(-1), "invalid_value"),
        ("latency_ms", json!(1.5), "invalid_value"),
        ("latency_ms", json!(u64::MAX), "out_of_range"),
        ("cost_usd", json!(-0.01), "out_of_range"),
        ("cost_usd", json!(1e300), "out_of_range"),
        ("cost_usd", json!("1"), "wrong_type"),
        ("status", json!("done"), "invalid_value"),
        ("timestamp", json!("yesterday"), "invalid_value"),
        ("agent_id", json!(7), "wrong_type"),
        ("agent_id", json!(""), "invalid_value"),
        ("trace_id", json!({"a": 1}), "wrong_type"),
        ("input_tokens", json!(true), "wrong_type"),
        ("error_type", json!("x".repeat(10_000)), "too_long"),
        ("surprise", json!(1), "unknown_field"),
    ];
    for (f, v, code) in cases {
        let mut e = good();
        e.as_object_mut().unwrap().insert(f.into(), v);
        let got = err(e);
        assert_eq!((got.code, got.field.as_str()), (code, format!("/0/{f}").as_str()), "{f}");
    }
}

#[test]
fn bodies_split_as_object_array_and_ndjson() {
    let l = limits();
    let one = serde_json::to_vec(&good()).unwrap();
    assert_eq!(split_body(&one, &l).unwrap()[0].0, "");
    let arr = serde_json::to_vec(&json!([good(), good()])).unwrap();
    assert_eq!(split_body(&arr, &l).unwrap().iter().map(|x| x.0.clone()).collect::<Vec<_>>(), ["/0", "/1"]);
    let nd = format!("{}\n\n{}\n", good(), good());
    assert_eq!(split_body(nd.as_bytes(), &l).unwrap().len(), 2);
    let bad_nd = format!("{}\n{{\"timestamp\": \n", good());
    assert_eq!(split_body(bad_nd.as_bytes(), &l).unwrap_err().field, "/1");
    assert_eq!(split_body(b"\xff\xfe", &l).unwrap_err().code, "invalid_utf8");
    assert_eq!(split_body(b"[]", &l).unwrap_err().code, "empty_body");
    assert_eq!(split_body(b"{\"cost_usd\": NaN}", &l).unwrap_err().code, "malformed_json");
    assert_eq!(split_body(b"{\"cost_usd\": 1e999}", &l).unwrap_err().code, "malformed_json");
}

#[test]
fn one_bad_event_rejects_the_batch() {
    let mut bad = good();
    bad["latency_ms"] = json!("slow");
    let vals = vec![("/0".to_string(), good()), ("/1".to_string(), bad), ("/2".to_string(), good())];
    assert_eq!(validate_all(vals, &limits()).unwrap_err().field, "/1/latency_ms");
}

proptest! {
    /// Any JSON object either validates or is refused with a field path inside the event; it
    /// never panics.
    #[test]
    fn arbitrary_objects_never_panic(keys in proptest::collection::vec("[a-z_]{1,12}", 0..8), n in any::<i64>(), s in ".{0,20}") {
        let mut o = good().as_object().unwrap().clone();
        for (i, k) in keys.iter().enumerate() {
            let v = if i % 2 == 0 { json!(n) } else { json!(s) };
            o.insert(k.clone(), v);
        }
        match validate("/0", Value::Object(o), &limits()) {
            Ok(e) => prop_assert!(e.cost_usd.is_finite() && e.cost_usd >= 0.0),
            Err(e) => prop_assert!(e.field.starts_with("/0/")),
        }
    }
}
