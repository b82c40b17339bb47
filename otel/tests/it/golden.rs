//! Golden projection: a fixed ledger projects to byte-identical OTLP JSON; ids are hex, 64-bit
//! integers are strings, every parent exists in the same trace; the JSON decodes back to the
//! same messages.

use std::collections::{BTreeMap, BTreeSet};

use cp_otel::proto::metrics::v1::MetricsData;
use cp_otel::proto::trace::v1::TracesData;
use cp_otel::{metrics_json, project, traces_json};
use serde_json::Value;

use crate::fixture::{entries, options};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/golden.otlp.jsonl");

fn lines() -> String {
    let (t, m, _) = project(entries("t1"), &options());
    format!("{}\n{}\n", traces_json(&t), metrics_json(&m))
}

#[test]
fn fixed_ledger_projects_to_the_golden_bytes() {
    let got = lines();
    if std::env::var_os("CP_UPDATE_GOLDEN").is_some() {
        cp_kernel::fsx::write(GOLDEN, &got).unwrap();
    }
    let want = cp_kernel::fsx::read_to_string(GOLDEN).expect("golden file (CP_UPDATE_GOLDEN=1 writes it)");
    assert!(got == want, "projection differs from {GOLDEN}:\n{got}");
    assert_eq!(lines(), got, "same ledger, same bytes");
}

fn spans(v: &Value) -> Vec<Value> {
    v["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().cloned().unwrap()
}

fn attr<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"].as_array()?.iter().find(|a| a["key"] == key).map(|a| &a["value"])
}

#[test]
fn ids_are_hex_times_are_strings_and_every_parent_exists() {
    let (t, _, stats) = project(entries("t1"), &options());
    let v: Value = serde_json::from_str(&traces_json(&t)).unwrap();
    let spans = spans(&v);
    assert_eq!(spans.len() as u64, stats.spans);
    let hex =
        |s: &Value, n: usize| s.as_str().is_some_and(|s| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit()));
    let mut by_trace: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in &spans {
        assert!(hex(&s["traceId"], 32) && hex(&s["spanId"], 16), "{s}");
        assert!(s["startTimeUnixNano"].is_string() && s["endTimeUnixNano"].is_string(), "{s}");
        by_trace.entry(s["traceId"].as_str().unwrap().into()).or_default().insert(s["spanId"].as_str().unwrap().into());
    }
    let ids: BTreeSet<&str> = spans.iter().map(|s| s["spanId"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), spans.len(), "span ids are unique");
    for s in &spans {
        let p = s["parentSpanId"].as_str().unwrap_or("");
        if !p.is_empty() {
            assert!(by_trace[s["traceId"].as_str().unwrap()].contains(p), "parent of {} missing", s["name"]);
        }
    }
    // One session, one trace.
    assert_eq!(by_trace.len(), 1);
    // The provider call carries the GenAI attributes; int64 attribute values are strings.
    let chat =
        spans.iter().find(|s| s["name"] == "chat mock-1" && attr(s, "gen_ai.usage.input_tokens").is_some()).unwrap();
    assert_eq!(chat["kind"], 3, "CLIENT");
    assert_eq!(attr(chat, "gen_ai.usage.input_tokens").unwrap()["intValue"], "120");
    assert_eq!(attr(chat, "gen_ai.usage.cache_read.input_tokens").unwrap()["intValue"], "20");
    assert_eq!(attr(chat, "gen_ai.provider.name").unwrap()["stringValue"], "mock");
    assert_eq!(attr(chat, "llm.cost_usd").unwrap()["doubleValue"], 0.0015);
    assert_eq!(attr(chat, "cp.price_book_version").unwrap()["stringValue"], "2026-11-01");
    // Retrieval candidates are events of their stage span, the dropped one with rank_after -1.
    let find = spans.iter().find(|s| s["name"] == "retrieval find").unwrap();
    let ev = find["events"].as_array().unwrap();
    assert_eq!(ev.len(), 2);
    let dropped = ev.iter().find(|e| e["attributes"].to_string().contains("HO2/docs/b.md")).unwrap();
    assert!(dropped["attributes"].to_string().contains(r#"{"key":"rank_after","value":{"intValue":"-1"}}"#));
    assert!(spans.iter().any(|s| s["name"] == "rerank organise"));
    // Failures and refusals carry error status and the code.
    for code in ["TIMEOUT", "BUDGET_EXHAUSTED", "FORBIDDEN"] {
        let s = spans.iter().find(|s| attr(s, "error.type").is_some_and(|v| v["stringValue"] == code)).unwrap();
        assert_eq!(s["status"]["code"], 2, "{code}");
    }
    assert_eq!((stats.prompts, stats.in_flight, stats.refusals), (3, 1, 2));
    assert_eq!(stats.not_projected.get("BUDGET_ALLOCATED"), Some(&1));
}

#[test]
fn json_decodes_back_to_the_same_messages() {
    let (t, m, _) = project(entries("t1"), &options());
    let t2: TracesData = serde_json::from_str(&traces_json(&t)).unwrap();
    let m2: MetricsData = serde_json::from_str(&metrics_json(&m)).unwrap();
    assert_eq!((t2, m2), (t, m));
}

#[test]
fn metrics_count_tokens_and_durations() {
    let (_, m, _) = project(entries("t1"), &options());
    let v: Value = serde_json::from_str(&metrics_json(&m)).unwrap();
    let ms = v["resourceMetrics"][0]["scopeMetrics"][0]["metrics"].as_array().unwrap();
    let names: Vec<&str> = ms.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["gen_ai.client.token.usage", "gen_ai.client.operation.duration"]);
    let tokens = ms[0]["histogram"]["dataPoints"].as_array().unwrap();
    let sums: Vec<f64> = tokens.iter().map(|p| p["sum"].as_f64().unwrap()).collect();
    assert_eq!(sums, [120.0, 30.0], "input, output of the answered prompt");
    let durations = ms[1]["histogram"]["dataPoints"].as_array().unwrap();
    assert_eq!(durations.len(), 2, "success and TIMEOUT are separate points");
    let total: f64 = durations.iter().map(|p| p["sum"].as_f64().unwrap()).sum();
    assert_eq!(total, 3.85);
}
