//! AEF → OTLP JSON lines, checked against the OTLP JSON encoding rules.

use aef::{Limits, OtlpExporter, span_id, trace_id};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::Value;

use crate::support::convert_fixture;

#[test]
fn a_converted_session_exports_to_well_formed_otlp() {
    let c = convert_fixture(aef::AdapterKind::ClaudeCode, "claude-code/multi-tool.jsonl");
    let mut x = OtlpExporter::new(Vec::new(), Limits::default());
    for e in &c.entries {
        x.add(e).unwrap();
    }
    let (report, out) = x.finish().unwrap();
    let requests: Vec<Value> = crate::support::parse_lines(&out);
    assert_eq!(requests.len() as u64, report.requests);
    // a real OTLP decoder (opentelemetry-proto's JSON mapping) reads every line back
    let mut decoded_spans = 0;
    for line in String::from_utf8(out.clone()).unwrap().lines() {
        let req: ExportTraceServiceRequest = serde_json::from_str(line).expect("OTLP JSON decodes");
        for span in req.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans) {
            assert_eq!(span.trace_id.len(), 16);
            assert_eq!(span.span_id.len(), 8);
            assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
            decoded_spans += 1;
        }
    }
    assert_eq!(decoded_spans, report.spans);
    let sid = c.entries[0]["sid"].as_str().unwrap();
    let mut spans = Vec::new();
    for r in &requests {
        let rs = &r["resourceSpans"][0];
        assert_eq!(rs["resource"]["attributes"][0]["key"], "service.name");
        spans.extend(rs["scopeSpans"][0]["spans"].as_array().unwrap().iter().cloned());
    }
    // tool.call + tool.result pairs become one span each; everything else one span; the
    // session.start/end pair one root span
    let calls = c.entries.iter().filter(|e| e["type"] == "tool.call").count();
    let others = c
        .entries
        .iter()
        .filter(|e| !matches!(e["type"].as_str(), Some("tool.call" | "tool.result" | "session.start" | "session.end")))
        .count();
    assert_eq!(spans.len(), calls + others + 1);
    for s in &spans {
        assert_eq!(s["traceId"], trace_id(sid));
        let id = s["spanId"].as_str().unwrap();
        assert!(id.len() == 16 && id.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)), "{id}");
        for k in ["startTimeUnixNano", "endTimeUnixNano"] {
            assert!(s[k].as_str().unwrap().parse::<u64>().is_ok(), "{k} is a decimal string");
        }
        assert!(s["kind"].is_u64(), "kind is an enum integer");
        for a in s["attributes"].as_array().unwrap() {
            if let Some(i) = a["value"].get("intValue") {
                assert!(i.as_str().unwrap().parse::<i64>().is_ok(), "intValue is a decimal string");
            }
        }
    }
    let tool: Vec<&Value> = spans.iter().filter(|s| s["kind"] == 3).collect();
    let decoded: ExportTraceServiceRequest = serde_json::from_value(requests[0].clone()).unwrap();
    let client = decoded.resource_spans[0].scope_spans[0].spans.iter().filter(|s| s.kind == 3).count();
    assert_eq!(client, 2, "the decoder sees two CLIENT spans");
    assert_eq!(tool.len(), 2);
    let root = spans.iter().find(|s| s["name"] == "session claude-code").unwrap();
    assert!(root.get("parentSpanId").is_none());
    assert_eq!(tool[0]["parentSpanId"], span_id(sid, "c-a1"));
    assert_eq!(tool[1]["status"]["code"], 2);
    let chat = spans.iter().find(|s| s["name"] == "chat claude-sonnet-4-20250514").unwrap();
    let attr =
        |k: &str| chat["attributes"].as_array().unwrap().iter().find(|a| a["key"] == k).map(|a| a["value"].clone());
    assert_eq!(attr("gen_ai.usage.input_tokens").unwrap()["intValue"], "5320");
}
