//! A fixed ledger: two answered prompts (one with retrieval, one failed), one in flight, a
//! rejection, an access denial and an entry that is not a span.

use cp_kernel::{LedgerEntry, NewEntry, Provenance, event};
use cp_otel::{OtelConfig, ProjectionOptions, SourcedEntry, projection_options};
use serde_json::json;

pub(crate) const LEDGER: &str = "HO1/prompts";

fn prov(tenant: &str, agent: Option<&str>) -> Provenance {
    Provenance {
        tenant_id: Some(tenant.into()),
        session_id: Some("S-1".into()),
        work_order_id: Some("WO-7".into()),
        agent_id: agent.map(Into::into),
        ..Provenance::default()
    }
}

fn answer_prov(tenant: &str, sent: &LedgerEntry) -> Provenance {
    Provenance { parent_event_id: Some(sent.id.clone()), ..prov(tenant, sent.agent_id.as_deref()) }
}

fn sent(req: &str, tenant: &str, agent: Option<&str>, with_retrieval: bool) -> NewEntry {
    let mut e = NewEntry::new(event::PROMPT_SENT)
        .submission(req)
        .decision("ALLOW")
        .provenance(prov(tenant, agent))
        .meta("request_id", req)
        .meta("contract_id", "PRC-ANSWER-001")
        .meta("contract_version", "1.0.0")
        .meta("context_hash", "ab".repeat(32))
        .meta("template_id", "ATT-K")
        .meta("prompt_hash", "cd".repeat(32))
        .meta("provider", "mock")
        .meta("model", "mock-1")
        .meta("max_tokens", 256)
        .meta("temperature", 0.0)
        .meta("principal", "tester");
    if with_retrieval {
        e = e
            .meta(
                "attention",
                json!({"template_id": "ATT-K", "budget_used": {"tokens": 30, "queries": 1, "elapsed_ms": 12},
                  "stages": [
                    {"stage": "read", "type": "file_read", "status": "ok", "fragments": 1, "tokens": 10, "duration_ms": 2, "rerun": 0},
                    {"stage": "find", "type": "horizontal_search", "status": "ok", "fragments": 2, "tokens": 24, "duration_ms": 7, "rerun": 0},
                    {"stage": "organise", "type": "structuring", "status": "truncated", "fragments": 2, "tokens": 20, "duration_ms": 1, "rerun": 0, "detail": "dropped 1"}
                  ]}),
            )
            .meta(
                "retrieval",
                json!([
                  {"source": "file", "source_id": "HOT/keep.md", "stage": "read", "relevance": null, "rank_before": 0, "rank_after": 0, "tokens": 10, "content_sha256": "11".repeat(32)},
                  {"source": "search", "source_id": "HO2/docs/a.md", "stage": "find", "relevance": 1.0, "rank_before": 0, "rank_after": 1, "tokens": 12, "content_sha256": "22".repeat(32)},
                  {"source": "search", "source_id": "HO2/docs/b.md", "stage": "find", "relevance": 0.4, "rank_before": 1, "rank_after": -1, "tokens": 12, "content_sha256": "33".repeat(32)}
                ]),
            );
    }
    e
}

/// The entries of the fixed ledger of `tenant` (ids and times fixed).
pub(crate) fn entries(tenant: &str) -> Vec<SourcedEntry> {
    let mut out: Vec<LedgerEntry> = Vec::new();
    let push = |new: NewEntry, out: &mut Vec<LedgerEntry>| -> LedgerEntry {
        let seq = out.len() as u64;
        let prev = out.last().map_or("0".repeat(64), |e| e.entry_hash.clone());
        let id = format!("0192f000-0000-7000-8000-{:012}", seq);
        let ts = format!("2026-11-22T00:00:{:02}.000000000Z", seq * 2);
        let (e, _) = LedgerEntry::seal(new, seq, id, ts, prev);
        out.push(e.clone());
        e
    };
    let s1 = push(sent("R-1", tenant, Some("agent-1"), true), &mut out);
    push(
        NewEntry::new(event::PROMPT_RECEIVED)
            .submission("R-1")
            .decision("ACCEPT")
            .provenance(answer_prov(tenant, &s1))
            .meta("request_id", "R-1")
            .meta("provider", "mock")
            .meta("model", "mock-1")
            .meta("attempt_count", 1)
            .meta("input_tokens", 120)
            .meta("output_tokens", 30)
            .meta("cached_input_tokens", 20)
            .meta("cost_micros", 1500)
            .meta("currency", "USD")
            .meta("price_book_version", "2026-11-01")
            .meta("latency_ms", 850)
            .meta("finish_reason", "stop")
            .meta("response_hash", "ef".repeat(32))
            .meta("output_validation", json!({"valid": true, "errors": []})),
        &mut out,
    );
    let s2 = push(sent("R-2", tenant, None, false), &mut out);
    push(
        NewEntry::new(event::PROMPT_FAILED)
            .submission("R-2")
            .decision("FAIL")
            .reason("provider timed out")
            .provenance(answer_prov(tenant, &s2))
            .meta("request_id", "R-2")
            .meta("error_code", "TIMEOUT")
            .meta("attempt_count", 3)
            .meta("latency_ms", 3000),
        &mut out,
    );
    push(
        NewEntry::new(event::PROMPT_REJECTED)
            .submission("R-3")
            .decision("DENY")
            .reason("budget exhausted")
            .provenance(prov(tenant, None))
            .meta("request_id", "R-3")
            .meta("code", "BUDGET_EXHAUSTED")
            .meta("contract_id", "PRC-ANSWER-001"),
        &mut out,
    );
    push(NewEntry::new(event::BUDGET_ALLOCATED).provenance(prov(tenant, None)).meta("scope", "tenant"), &mut out);
    push(
        NewEntry::new(event::ACCESS_DENIED)
            .decision("DENY")
            .reason("token does not grant ledger:read")
            .provenance(prov(tenant, None))
            .meta("code", "FORBIDDEN")
            .meta("action", "ledger:read")
            .meta("principal", "tester"),
        &mut out,
    );
    push(sent("R-4", tenant, Some("agent-1"), false), &mut out);
    out.into_iter().map(|entry| SourcedEntry { ledger: LEDGER.into(), entry }).collect()
}

/// The shipped options with service name `cp-test`.
pub(crate) fn options() -> ProjectionOptions {
    projection_options(&OtelConfig::shipped().unwrap(), "cp-test")
}
