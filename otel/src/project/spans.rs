//! The spans of one routed prompt (root, attention stages, provider call) and of a refusal.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::{Span, Status, span::Event, span::SpanKind, status::StatusCode};
use serde_json::Value;

use cp_kernel::{LedgerEntry, event};

use super::SourcedEntry;
use super::attrs::{b, d, i, meta_f64, meta_str, meta_u64, nanos, push_s, push_u, s, strings, u};
use crate::ids::{TraceId, derived_trace_id, parse_span_id, parse_trace_id, span_id};

/// The AEP stage id of an attention stage type.
fn stage_id(kind: &str) -> &'static str {
    match kind {
        "structuring" => "rerank",
        "halting" => "halting",
        "tier_select" => "scope",
        _ => "retrieval",
    }
}

/// The trace of an entry: the orchestrator's `trace_id` when valid, else derived from the
/// tenant and the session (or the request, or the entry itself).
pub(crate) fn trace_of(e: &LedgerEntry) -> TraceId {
    if let Some(t) = e.trace_id.as_deref().and_then(parse_trace_id) {
        return t;
    }
    let tenant = e.tenant_id.as_deref().unwrap_or("");
    match (&e.session_id, &e.submission_id) {
        (Some(sess), _) => derived_trace_id(tenant, &format!("session:{sess}")),
        (None, Some(sub)) => derived_trace_id(tenant, &format!("request:{sub}")),
        (None, None) => derived_trace_id(tenant, &format!("entry:{}", e.id)),
    }
}

/// The `cp.*` attributes and AEP `ts` of an entry.
pub(crate) fn cp_attrs(se: &SourcedEntry) -> Vec<KeyValue> {
    let e = &se.entry;
    let mut a = Vec::new();
    push_s(&mut a, "cp.tenant_id", e.tenant_id.as_deref());
    push_s(&mut a, "cp.session_id", e.session_id.as_deref());
    push_s(&mut a, "cp.work_order_id", e.work_order_id.as_deref());
    push_s(&mut a, "cp.agent_id", e.agent_id.as_deref());
    push_s(&mut a, "cp.request_id", e.submission_id.as_deref());
    a.push(s("cp.ledger", se.ledger.clone()));
    a.push(u("cp.seq", e.seq));
    a.push(s("cp.entry_id", e.id.clone()));
    a.push(s("cp.entry_hash", e.entry_hash.clone()));
    a.push(s("cp.event_type", e.event_type.clone()));
    a.push(s("ts", e.timestamp.clone()));
    a
}

fn error_status(message: &str) -> Option<Status> {
    Some(Status { message: message.to_string(), code: StatusCode::Error as i32 })
}

fn span(trace: TraceId, id: [u8; 8], parent: Option<[u8; 8]>, name: String, kind: SpanKind) -> Span {
    Span {
        trace_id: trace.to_vec(),
        span_id: id.to_vec(),
        parent_span_id: parent.map(|p| p.to_vec()).unwrap_or_default(),
        name,
        kind: kind as i32,
        ..Default::default()
    }
}

/// The spans of a `PROMPT_SENT` and its answer (`PROMPT_RECEIVED` / `PROMPT_FAILED`), or of a
/// prompt still in flight (`answer` = `None`).
pub(crate) fn prompt_spans(sent: &SourcedEntry, answer: Option<&SourcedEntry>) -> Vec<Span> {
    let se = &sent.entry;
    let trace = trace_of(se);
    let sent_ns = nanos(&se.timestamp);
    let end_ns = answer.map_or(sent_ns, |a| nanos(&a.entry.timestamp).max(sent_ns));
    let attention = se.metadata.get("attention").cloned().unwrap_or(Value::Null);
    let elapsed_ns = attention["budget_used"]["elapsed_ms"].as_u64().unwrap_or(0).saturating_mul(1_000_000);
    let root_start = sent_ns.saturating_sub(elapsed_ns);
    let root_id = span_id(&se.id, "root");
    let orchestrator_parent = match (se.trace_id.as_deref().and_then(parse_trace_id), se.span_id.as_deref()) {
        (Some(_), Some(p)) => parse_span_id(p),
        _ => None,
    };
    let failed = answer.is_some_and(|a| a.entry.event_type == event::PROMPT_FAILED);
    let error_code = answer.and_then(|a| meta_str(&a.entry, "error_code"));

    let (op, name) = match se.agent_id.as_deref() {
        Some(agent) => ("invoke_agent", format!("invoke_agent {agent}")),
        None => ("chat", "chat".to_string()),
    };
    let mut root = span(trace, root_id, orchestrator_parent, name, SpanKind::Internal);
    root.start_time_unix_nano = root_start;
    root.end_time_unix_nano = end_ns;
    root.attributes.push(s("gen_ai.operation.name", op));
    push_s(&mut root.attributes, "gen_ai.agent.id", se.agent_id.as_deref());
    push_s(&mut root.attributes, "cp.template_id", meta_str(se, "template_id"));
    push_s(&mut root.attributes, "cp.context_hash", meta_str(se, "context_hash"));
    push_s(&mut root.attributes, "cp.contract_id", meta_str(se, "contract_id"));
    push_s(&mut root.attributes, "cp.contract_version", meta_str(se, "contract_version"));
    push_s(&mut root.attributes, "cp.principal", meta_str(se, "principal"));
    push_s(&mut root.attributes, "cp.prompt_hash", meta_str(se, "prompt_hash"));
    root.attributes.extend(cp_attrs(sent));
    if answer.is_none() {
        root.attributes.push(b("cp.in_flight", true));
    }
    if failed {
        root.status = error_status(error_code.unwrap_or("PROMPT_FAILED"));
        push_s(&mut root.attributes, "error.type", error_code);
    }
    let mut out = vec![root];
    out.extend(stage_spans(sent, trace, root_id, root_start, sent_ns, &attention));
    out.push(llm_span(sent, answer, trace, root_id, (sent_ns, end_ns)));
    out
}

/// One span per attention stage run, laid end to end from the root's start; candidates are
/// events of the last run of the stage that produced them.
fn stage_spans(
    sent: &SourcedEntry,
    trace: TraceId,
    root: [u8; 8],
    start: u64,
    cap: u64,
    attention: &Value,
) -> Vec<Span> {
    let se = &sent.entry;
    let stages = attention["stages"].as_array().cloned().unwrap_or_default();
    let candidates = se.metadata.get("retrieval").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut out = Vec::new();
    let mut at = start;
    for (n, st) in stages.iter().enumerate() {
        let name = st["stage"].as_str().unwrap_or("stage");
        let kind = st["type"].as_str().unwrap_or("");
        let sid = stage_id(kind);
        let dur = st["duration_ms"].as_u64().unwrap_or(0).saturating_mul(1_000_000);
        let mut sp = span(
            trace,
            span_id(&se.id, &format!("stage:{n}")),
            Some(root),
            format!("{sid} {name}"),
            SpanKind::Internal,
        );
        sp.start_time_unix_nano = at.min(cap);
        sp.end_time_unix_nano = at.saturating_add(dur).min(cap).max(sp.start_time_unix_nano);
        at = sp.end_time_unix_nano;
        sp.attributes.push(s("stage_id", sid));
        sp.attributes.push(s("cp.stage", name));
        sp.attributes.push(s("cp.stage.type", kind));
        push_s(&mut sp.attributes, "cp.stage.status", st["status"].as_str());
        push_u(&mut sp.attributes, "cp.stage.fragments", st["fragments"].as_u64());
        push_u(&mut sp.attributes, "cp.stage.tokens", st["tokens"].as_u64());
        push_u(&mut sp.attributes, "cp.stage.rerun", st["rerun"].as_u64());
        push_s(&mut sp.attributes, "cp.stage.detail", st["detail"].as_str());
        sp.attributes.push(s("cp.ledger", sent.ledger.clone()));
        sp.attributes.push(u("cp.seq", se.seq));
        sp.attributes.push(s("cp.entry_hash", se.entry_hash.clone()));
        if st["status"] == "error" {
            sp.status = error_status(st["detail"].as_str().unwrap_or("stage error"));
        }
        let last_run = !stages[n + 1..].iter().any(|o| o["stage"] == st["stage"]);
        if last_run {
            for c in candidates.iter().filter(|c| c["stage"] == st["stage"]) {
                sp.events.push(candidate_event(c, sp.start_time_unix_nano));
            }
        }
        out.push(sp);
    }
    out
}

fn candidate_event(c: &Value, at: u64) -> Event {
    let mut a = Vec::new();
    push_s(&mut a, "doc_id", c["source_id"].as_str());
    push_s(&mut a, "source", c["source"].as_str());
    if let Some(r) = c["rank_before"].as_i64() {
        a.push(i("rank_before", r));
    }
    if let Some(r) = c["rank_after"].as_i64() {
        a.push(i("rank_after", r));
    }
    if let Some(r) = c["relevance"].as_f64() {
        a.push(d("relevance", r));
    }
    push_u(&mut a, "cp.tokens", c["tokens"].as_u64());
    push_s(&mut a, "cp.content_sha256", c["content_sha256"].as_str());
    Event { time_unix_nano: at, name: "retrieval.candidate".into(), attributes: a, ..Default::default() }
}

/// The provider call (`chat {model}`, CLIENT) with the GenAI and AEP attributes.
fn llm_span(
    sent: &SourcedEntry,
    answer: Option<&SourcedEntry>,
    trace: TraceId,
    root: [u8; 8],
    (start, end): (u64, u64),
) -> Span {
    let se = &sent.entry;
    let model = meta_str(se, "model").unwrap_or("unknown");
    let mut sp = span(trace, span_id(&se.id, "llm"), Some(root), format!("chat {model}"), SpanKind::Client);
    sp.start_time_unix_nano = start;
    sp.end_time_unix_nano = end;
    sp.attributes = request_attrs(se);
    if let Some(a) = answer {
        answer_attrs(&mut sp, a);
    }
    sp
}

fn request_attrs(se: &LedgerEntry) -> Vec<KeyValue> {
    let mut a = vec![s("gen_ai.operation.name", "chat")];
    push_s(&mut a, "gen_ai.provider.name", meta_str(se, "provider"));
    push_s(&mut a, "gen_ai.request.model", meta_str(se, "model"));
    push_u(&mut a, "gen_ai.request.max_tokens", meta_u64(se, "max_tokens"));
    if let Some(t) = meta_f64(se, "temperature") {
        a.push(d("gen_ai.request.temperature", t));
    }
    a.push(s("stage_id", "llm"));
    a
}

/// Adds what the answer says: usage, cost, response model, finish reason, or the error.
fn answer_attrs(sp: &mut Span, ans: &SourcedEntry) {
    let e = &ans.entry;
    let a = &mut sp.attributes;
    if e.event_type == event::PROMPT_FAILED {
        let code = meta_str(e, "error_code").unwrap_or("PROMPT_FAILED");
        a.push(s("error.type", code));
        sp.status = error_status(e.reason.as_deref().unwrap_or(code));
    } else {
        if let Some(p) = meta_str(e, "provider") {
            a.retain(|kv| kv.key != "gen_ai.provider.name");
            a.push(s("gen_ai.provider.name", p));
        }
        push_s(a, "gen_ai.response.model", meta_str(e, "model"));
        push_s(a, "gen_ai.response.id", e.submission_id.as_deref());
        if let Some(f) = meta_str(e, "finish_reason") {
            a.push(strings("gen_ai.response.finish_reasons", &[f]));
        }
        let (inp, out, cached) =
            (meta_u64(e, "input_tokens"), meta_u64(e, "output_tokens"), meta_u64(e, "cached_input_tokens"));
        push_u(a, "gen_ai.usage.input_tokens", inp);
        push_u(a, "gen_ai.usage.output_tokens", out);
        push_u(a, "gen_ai.usage.cache_read.input_tokens", cached);
        push_u(a, "llm.prompt_tokens", inp);
        push_u(a, "llm.completion_tokens", out);
        if let Some(micros) = meta_u64(e, "cost_micros") {
            let cost = micros as f64 / 1e6;
            if meta_str(e, "currency") == Some("USD") {
                a.push(d("llm.cost_usd", cost));
            }
            a.push(d("cp.cost", cost));
            push_s(a, "cp.currency", meta_str(e, "currency"));
        }
        push_s(a, "cp.price_book_version", meta_str(e, "price_book_version"));
        if let Some(valid) = e.metadata.get("output_validation").and_then(|v| v["valid"].as_bool()) {
            a.push(b("cp.output_valid", valid));
        }
        push_s(a, "cp.response_hash", meta_str(e, "response_hash"));
    }
    push_u(a, "cp.latency_ms", meta_u64(e, "latency_ms"));
    push_u(a, "cp.attempts", meta_u64(e, "attempt_count"));
    a.extend(cp_attrs(ans));
}

/// A provider call whose `PROMPT_SENT` is not among the projected entries: the call span alone
/// (same ids it has when the request is projected whole), without a parent.
pub(crate) fn orphan_answer_span(ans: &SourcedEntry) -> Span {
    let e = &ans.entry;
    let sent_id = e.parent_event_id.as_deref().unwrap_or(&e.id);
    let model = meta_str(e, "model").unwrap_or("unknown");
    let mut sp = span(trace_of(e), span_id(sent_id, "llm"), None, format!("chat {model}"), SpanKind::Client);
    let end = nanos(&e.timestamp);
    sp.end_time_unix_nano = end;
    sp.start_time_unix_nano = end.saturating_sub(meta_u64(e, "latency_ms").unwrap_or(0).saturating_mul(1_000_000));
    sp.attributes = vec![s("gen_ai.operation.name", "chat"), s("stage_id", "llm")];
    answer_attrs(&mut sp, ans);
    sp.attributes.push(b("cp.orphan", true));
    sp
}

/// A refusal (`PROMPT_REJECTED`, `ACCESS_DENIED`): one root span with error status and the code.
pub(crate) fn refusal_span(se: &SourcedEntry) -> Span {
    let e = &se.entry;
    let code = meta_str(e, "code").unwrap_or(&e.event_type);
    let (name, op) = if e.event_type == event::PROMPT_REJECTED {
        ("chat".to_string(), "chat")
    } else {
        (format!("access_denied {}", meta_str(e, "action").unwrap_or("")).trim_end().to_string(), "access")
    };
    let mut sp = span(trace_of(e), span_id(&e.id, "root"), None, name, SpanKind::Internal);
    let at = nanos(&e.timestamp);
    sp.start_time_unix_nano = at;
    sp.end_time_unix_nano = at;
    sp.status = error_status(e.reason.as_deref().unwrap_or(code));
    sp.attributes.push(s("gen_ai.operation.name", op));
    sp.attributes.push(s("error.type", code));
    push_s(&mut sp.attributes, "cp.contract_id", meta_str(e, "contract_id"));
    push_s(&mut sp.attributes, "cp.principal", meta_str(e, "principal"));
    push_s(&mut sp.attributes, "cp.price_book_version", meta_str(e, "price_book_version"));
    sp.attributes.extend(cp_attrs(se));
    sp
}
