//! Interop: push to a loopback receiver and decode the bodies with PyPI `opentelemetry-proto`
//! (protobuf, and the JSON form through protobuf's own JSON parser): span count, parentage and
//! the GenAI values agree with the projection.

use std::process::Command;
use std::sync::Arc;

use cp_kernel::ManualClock;
use cp_otel::{Endpoint, OtelConfig, Pusher, Selection, push_selection};
use serde_json::Value;

use crate::python::python_with;
use crate::receiver::Receiver;
use crate::scope::plane_with_two_tenants;

fn decode(py: &std::path::Path, rx: &Receiver, ext: &str, dir: &std::path::Path) -> Value {
    let mut files = Vec::new();
    for (i, r) in rx.received().iter().enumerate() {
        let signal = if r.path == "/v1/traces" { "traces" } else { "metrics" };
        let f = dir.join(format!("{i}.{signal}.{ext}"));
        std::fs::write(&f, r.body()).unwrap();
        files.push(f);
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/decode_otlp.py");
    let out = Command::new(py).arg(script).args(&files).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn push(protocol: &str, gzip: bool) -> (Receiver, cp_otel::PushReport, tempfile::TempDir) {
    let tp = plane_with_two_tenants();
    let rx = Receiver::start(vec![]);
    let mut cfg = OtelConfig::shipped().unwrap();
    cfg.push.gzip = gzip;
    cfg.push.max_spans_per_batch = 4;
    let ep = Endpoint::from_values(Some(&rx.url), Some(protocol), Some("x-tenant-key=abc%3D")).unwrap();
    let p = Pusher::new(ep, cfg.push.clone(), Arc::new(ManualClock::new(0)));
    let sel = Selection { tenant: "t1".into(), ..Selection::default() };
    let report = push_selection(&tp.plane, &sel, &cfg, "cp-test", &p).unwrap();
    let dir = tempfile::tempdir().unwrap();
    (rx, report, dir)
}

fn check(v: &Value, report: &cp_otel::PushReport) {
    assert_eq!(v["spans"].as_u64().unwrap(), report.spans);
    assert_eq!((report.stats.prompts, report.stats.orphans), (3, 0), "answers meet their PROMPT_SENT");
    assert_eq!(v["tenants"], serde_json::json!(["t1"]));
    assert_eq!(v["metrics"], serde_json::json!(["gen_ai.client.token.usage", "gen_ai.client.operation.duration"]));
    let client = v["client"].as_array().unwrap();
    let ok = client.iter().find(|c| c["gen_ai.usage.input_tokens"] == 120).expect("the answered call");
    assert_eq!(ok["gen_ai.provider.name"], "mock");
    assert_eq!(ok["gen_ai.response.model"], "mock-1");
    assert_eq!(ok["gen_ai.usage.output_tokens"], 30);
    assert_eq!(ok["gen_ai.usage.cache_read.input_tokens"], 20);
    assert_eq!(ok["name"], "chat mock-1");
    let failed = client.iter().find(|c| c["error.type"] == "TIMEOUT").expect("the failed call");
    assert_eq!(failed["status"], 2);
}

#[test]
fn protobuf_bodies_decode_with_the_python_implementation() {
    let Some(py) = python_with("opentelemetry.proto", "opentelemetry-proto") else { return };
    let (rx, report, dir) = push("http/protobuf", true);
    let got = rx.received();
    assert!(report.trace_requests > 1, "batched: {report:?}");
    assert!(got.iter().all(|r| r.header("content-type") == Some("application/x-protobuf")));
    assert!(got.iter().all(|r| r.header("content-encoding") == Some("gzip")));
    assert!(got.iter().all(|r| r.header("x-tenant-key") == Some("abc=")), "headers are URL-decoded");
    let v = decode(&py, &rx, "pb", dir.path());
    assert_eq!(v["parents_ok"], true, "every parent is in the same request");
    check(&v, &report);
}

#[test]
fn json_bodies_parse_with_protobufs_json_parser() {
    let Some(py) = python_with("opentelemetry.proto", "opentelemetry-proto") else { return };
    let (rx, report, dir) = push("http/json", false);
    assert!(rx.received().iter().all(|r| r.header("content-type") == Some("application/json")));
    let v = decode(&py, &rx, "json", dir.path());
    check(&v, &report);
}
