//! Every rejection code and every provider failure kind leaves exactly the expected ledger
//! entries, and a success links RECEIVED to SENT with the issue's contents.

use cp_kernel::{LedgerEntry, LimitConfig, MockStep, ProviderErrorCode, RejectCode, RouterError, ScopeKey};
use serde_json::json;

use crate::router_support::*;

const ALLOC3: [&str; 3] = ["BUDGET_ALLOCATED", "BUDGET_ALLOCATED", "BUDGET_ALLOCATED"];

fn rejected(err: RouterError, code: RejectCode, fx: &Fx) -> LedgerEntry {
    let RouterError::Rejected { code: got, entry_id, seq, .. } = err else {
        panic!("expected a rejection, got {err:?}")
    };
    assert_eq!(got, code);
    let e = fx.entries().into_iter().find(|e| e.id == entry_id).expect("rejection entry on the ledger");
    assert_eq!(e.seq, seq);
    assert_eq!(e.event_type, "PROMPT_REJECTED");
    assert_eq!(e.metadata["code"], code.as_str());
    e
}

#[test]
fn success_links_received_to_sent_and_settles() {
    let fx = Fx::new();
    let tok = fx.token("t1", &["agent"]);
    let skip = fx.entries().len();
    let resp = fx.router.route(request("t1", &tok)).unwrap();
    let mut want: Vec<&str> = ALLOC3.to_vec();
    want.extend(["PROMPT_SENT", "PROMPT_RECEIVED"]);
    assert_eq!(fx.types_after(skip), want);
    let all = fx.entries();
    let sent = all.iter().find(|e| e.event_type == "PROMPT_SENT").unwrap();
    let rec = all.iter().find(|e| e.event_type == "PROMPT_RECEIVED").unwrap();
    assert_eq!(rec.parent_event_id.as_deref(), Some(sent.id.as_str()));
    assert_eq!((resp.sent.id.as_str(), resp.received.id.as_str()), (sent.id.as_str(), rec.id.as_str()));
    assert_eq!(sent.tenant_id.as_deref(), Some("t1"));
    assert_eq!(sent.agent_class.as_deref(), Some("KERNEL.semantic"));
    assert_eq!(sent.metadata["context_hash"], "c0ffee");
    assert_eq!(sent.metadata["template_id"], "ATT-TEST-001");
    assert_eq!(sent.metadata["attention"]["halting_reason"], "budget");
    assert_eq!(sent.metadata["provider"], "mock");
    assert_eq!(sent.metadata["log_content"], "hash");
    assert!(sent.metadata.get("prompt_text").is_none(), "log_content hash keeps the text out");
    let prompt = "Context: the plane has 12 packages\nQuestion: how many packages?";
    assert_eq!(sent.metadata["prompt_hash"], cp_kernel::sha256_hex(prompt.as_bytes()));
    assert_eq!(sent.metadata["budget"]["op"], "reserve");
    let reserved = sent.metadata["budget"]["micros"].as_u64().unwrap();
    // Usage comes from the mock; cost from the shipped price book (1 / 2 micro-units per token).
    assert_eq!(rec.metadata["input_tokens"], resp.usage.input_tokens);
    assert_eq!(resp.cost_micros, resp.usage.input_tokens + 2 * resp.usage.output_tokens);
    assert_eq!(rec.metadata["cost_micros"], resp.cost_micros);
    assert!(resp.cost_micros <= reserved);
    assert_eq!(rec.metadata["price_book_version"], "2026-11-01");
    assert_eq!(rec.metadata["output_validation"]["valid"], true);
    assert_eq!(rec.metadata["response_hash"], cp_kernel::sha256_hex(resp.text.as_bytes()));
    assert!(resp.output_valid);
    let st = fx.router.budget_report("t1").unwrap();
    assert!(st.open_reservations.is_empty());
    assert_eq!(st.scopes["tenant/t1"].spent_micros, resp.cost_micros);
    assert_eq!(st.scopes["session/t1/s1"].reserved_micros, 0);
}

#[test]
fn auth_denied_is_one_rejection_and_nothing_sent() {
    let fx = Fx::new();
    let skip = fx.entries().len();
    for bad in ["", "garbage", "cp1.00.00"] {
        let err = fx.router.route(request("t1", bad)).unwrap_err();
        rejected(err, RejectCode::AuthDenied, &fx);
    }
    // A token signed with another secret.
    let other = cp_kernel::AuthSecret::from_bytes(vec![9; 32], 32, "x").unwrap();
    let claims = cp_kernel::TokenClaims {
        principal: "mallory".into(),
        roles: vec!["operator".into()],
        tenant: "t1".into(),
        issued_at_ms: T0,
        expires_at_ms: T0 + 1_000_000,
        token_id: "x".into(),
    };
    let forged = cp_kernel::issue_token(&other, &claims);
    rejected(fx.router.route(request("t1", &forged)).unwrap_err(), RejectCode::AuthDenied, &fx);
    // An expired token.
    let tok = fx.token("t1", &["agent"]);
    let skip2 = fx.entries().len();
    fx.clock.advance(3_600_001);
    rejected(fx.router.route(request("t1", &tok)).unwrap_err(), RejectCode::AuthDenied, &fx);
    assert_eq!(fx.types_after(skip).iter().filter(|t| *t == "PROMPT_REJECTED").count(), 5);
    assert_eq!(fx.types_after(skip2), ["PROMPT_REJECTED"]);
    assert_eq!(fx.mock.calls(), 0);
}

#[test]
fn forbidden_for_wrong_tenant_or_role() {
    let fx = Fx::new();
    let other_tenant = fx.token("t2", &["agent"]);
    let no_route = fx.token("t1", &["auditor"]);
    let skip = fx.entries().len();
    rejected(fx.router.route(request("t1", &other_tenant)).unwrap_err(), RejectCode::Forbidden, &fx);
    let e = rejected(fx.router.route(request("t1", &no_route)).unwrap_err(), RejectCode::Forbidden, &fx);
    assert_eq!(e.metadata["principal"], "tester");
    assert_eq!(fx.types_after(skip), ["PROMPT_REJECTED", "PROMPT_REJECTED"]);
    assert_eq!(fx.mock.calls(), 0);
}

#[test]
fn budget_exhausted_refuses_before_sending() {
    let fx = Fx::new();
    let op = fx.token("t1", &["operator"]);
    let limit = LimitConfig { max_tokens: None, max_cost_micros: Some(10), warn_threshold_pct: 80 };
    fx.router.allocate(&op, &ScopeKey::tenant("t1"), limit).unwrap();
    let skip = fx.entries().len();
    let e = rejected(fx.router.route(request("t1", &op)).unwrap_err(), RejectCode::BudgetExhausted, &fx);
    assert_eq!(e.metadata["scope"], "tenant/t1");
    assert_eq!(fx.types_after(skip), ["PROMPT_REJECTED"]);
    assert_eq!(fx.mock.calls(), 0);
    assert!(fx.router.budget_report("t1").unwrap().open_reservations.is_empty());
}

#[test]
fn soft_limit_warns_once_and_continues() {
    let fx = Fx::new();
    let op = fx.token("t1", &["operator"]);
    // One reservation is ~295 micros (94-token input bound at 1, +1 for rounding, 100 max output at 2).
    let limit = LimitConfig { max_tokens: None, max_cost_micros: Some(1_000), warn_threshold_pct: 10 };
    fx.router.allocate(&op, &ScopeKey::tenant("t1"), limit).unwrap();
    let skip = fx.entries().len();
    fx.router.route(request("t1", &op)).unwrap();
    fx.router.route(request("t1", &op)).unwrap();
    let types = fx.types_after(skip);
    assert_eq!(types.iter().filter(|t| *t == "BUDGET_WARNING").count(), 1, "{types:?}");
    assert_eq!(types.iter().filter(|t| *t == "PROMPT_RECEIVED").count(), 2);
}

#[test]
fn rate_limited_per_tenant() {
    let (r, mut b, p) = test_configs();
    b["rate_limits"] = json!([{"applies_to": "tenant", "window_ms": 60000, "max_requests": 1, "max_tokens": null}]);
    let fx = Fx::with(r, b, p, false);
    let tok = fx.token("t1", &["agent"]);
    fx.router.route(request("t1", &tok)).unwrap();
    let skip = fx.entries().len();
    rejected(fx.router.route(request("t1", &tok)).unwrap_err(), RejectCode::RateLimited, &fx);
    assert_eq!(fx.types_after(skip), ["PROMPT_REJECTED"]);
    // Another tenant is not affected; the next window admits again.
    fx.router.route(request("t2", &fx.token("t2", &["agent"]))).unwrap();
    fx.clock.advance(60_000);
    fx.router.route(request("t1", &tok)).unwrap();
    assert_eq!(fx.mock.calls(), 3);
}

#[test]
fn rate_limited_per_provider_tokens() {
    let (r, mut b, p) = test_configs();
    // One reservation is ~194 tokens (62 prompt bytes + 32 overhead + 100 output): one fits.
    b["rate_limits"] = json!([{"applies_to": "provider", "provider": "mock", "window_ms": 1000, "max_requests": null, "max_tokens": 300}]);
    let fx = Fx::with(r, b, p, false);
    let tok = fx.token("t1", &["agent"]);
    fx.router.route(request("t1", &tok)).unwrap();
    let e = rejected(fx.router.route(request("t1", &tok)).unwrap_err(), RejectCode::RateLimited, &fx);
    assert_eq!(e.metadata["scope"], "provider/mock");
}

#[test]
fn circuit_open_refuses_without_sending() {
    let (mut r, b, p) = test_configs();
    r["providers"]["mock"]["circuit_breaker"]["failure_threshold"] = json!(1);
    let fx = Fx::with(r, b, p, false);
    let tok = fx.token("t1", &["agent"]);
    fx.mock.push([MockStep::Fail(ProviderErrorCode::Auth, None)]);
    fx.router.route(request("t1", &tok)).unwrap_err();
    let skip = fx.entries().len();
    rejected(fx.router.route(request("t1", &tok)).unwrap_err(), RejectCode::CircuitOpen, &fx);
    assert_eq!(fx.types_after(skip), ["PROMPT_REJECTED"]);
    assert_eq!(fx.mock.calls(), 1);
}

#[test]
fn invalid_input_and_contract_invalid() {
    let fx = Fx::new();
    let tok = fx.token("t1", &["agent"]);
    let skip = fx.entries().len();
    let mut r = request("t1", &tok);
    r.input = json!({"question": ""});
    rejected(fx.router.route(r).unwrap_err(), RejectCode::InvalidInput, &fx);
    let mut r = request("t1", &tok);
    r.input = json!({"question": "q", "extra": 1});
    rejected(fx.router.route(r).unwrap_err(), RejectCode::InvalidInput, &fx);
    let mut r = request("t1", &tok);
    r.provenance.tenant_id = None;
    rejected(fx.router.route(r).unwrap_err(), RejectCode::InvalidInput, &fx);
    let mut r = request("t1", &tok);
    r.contract.boundary.max_tokens = 0;
    rejected(fx.router.route(r).unwrap_err(), RejectCode::ContractInvalid, &fx);
    let mut r = request("t1", &tok);
    r.contract.boundary.max_tokens = 1_000_000;
    rejected(fx.router.route(r).unwrap_err(), RejectCode::ContractInvalid, &fx);
    let mut r = request("t1", &tok);
    r.contract.boundary.temperature = 3.5;
    rejected(fx.router.route(r).unwrap_err(), RejectCode::ContractInvalid, &fx);
    let mut r = request("t1", &tok);
    r.contract.prompt_template = "{{secret}}".into();
    rejected(fx.router.route(r).unwrap_err(), RejectCode::ContractInvalid, &fx);
    let mut r = request("t1", &tok);
    r.contract.input_schema = json!({"type": "no-such-type"});
    rejected(fx.router.route(r).unwrap_err(), RejectCode::ContractInvalid, &fx);
    assert_eq!(fx.types_after(skip), vec!["PROMPT_REJECTED"; 8]);
    assert_eq!(fx.mock.calls(), 0);
}

#[test]
fn every_provider_failure_kind_is_sent_then_failed_and_released() {
    let (mut r, b, p) = test_configs();
    r["providers"]["mock"]["circuit_breaker"]["failure_threshold"] = json!(1000);
    let fx = Fx::with(r, b, p, false);
    let tok = fx.token("t1", &["agent"]);
    let retryable = ["PROVIDER_RATE_LIMITED", "PROVIDER_SERVER_ERROR", "PROVIDER_TIMEOUT", "PROVIDER_UNAVAILABLE"];
    for (i, code) in ProviderErrorCode::ALL.into_iter().enumerate() {
        fx.mock.push(vec![MockStep::Fail(code, None); 3]);
        let calls = fx.mock.calls();
        let skip = fx.entries().len();
        let err = fx.router.route(request("t1", &tok)).unwrap_err();
        let RouterError::Failed { code: got, attempts, entry_id, .. } = err else { panic!("{err:?}") };
        assert_eq!(got, code);
        let expect_attempts = if retryable.contains(&code.as_str()) { 3 } else { 1 };
        assert_eq!(attempts, expect_attempts, "{code:?}");
        assert_eq!(fx.mock.calls() - calls, u64::from(expect_attempts));
        let mut want = if i == 0 { ALLOC3.to_vec() } else { vec![] };
        want.extend(["PROMPT_SENT", "PROMPT_FAILED"]);
        assert_eq!(fx.types_after(skip), want, "{code:?}");
        let all = fx.entries();
        let failed = all.iter().find(|e| e.id == entry_id).unwrap();
        let sent = all.iter().rev().find(|e| e.event_type == "PROMPT_SENT").unwrap();
        assert_eq!(failed.parent_event_id.as_deref(), Some(sent.id.as_str()));
        assert_eq!(failed.metadata["error_code"], code.as_str());
        assert_eq!(failed.metadata["attempt_count"], expect_attempts);
        assert_eq!(failed.metadata["budget"]["op"], "release");
        // Drain what a non-retryable failure left in the script.
        while fx.mock.calls() - calls < 3 {
            let _ = fx.router.route(request("t1", &tok));
        }
    }
    let st = fx.router.budget_report("t1").unwrap();
    assert!(st.open_reservations.is_empty());
    assert_eq!(st.scopes["tenant/t1"].reserved_micros, 0);
}

#[test]
fn log_content_full_and_none() {
    for (policy, has_text, has_hash) in [("full", true, true), ("none", false, false)] {
        let (mut r, b, p) = test_configs();
        r["log_content"] = json!(policy);
        let fx = Fx::with(r, b, p, false);
        let tok = fx.token("t1", &["agent"]);
        let resp = fx.router.route(request("t1", &tok)).unwrap();
        let all = fx.entries();
        let sent = all.iter().find(|e| e.event_type == "PROMPT_SENT").unwrap();
        let rec = all.iter().find(|e| e.event_type == "PROMPT_RECEIVED").unwrap();
        assert_eq!(sent.metadata.contains_key("prompt_text"), has_text, "{policy}");
        assert!(sent.metadata.contains_key("prompt_hash"));
        assert_eq!(rec.metadata.get("response_text").and_then(|v| v.as_str()), has_text.then_some(resp.text.as_str()));
        assert_eq!(rec.metadata.contains_key("response_hash"), has_hash);
    }
}

#[test]
fn invalid_output_is_recorded_not_hidden() {
    let fx = Fx::new();
    let tok = fx.token("t1", &["agent"]);
    fx.mock.push([MockStep::reply(r#"{"answer": 42}"#)]);
    let resp = fx.router.route(request("t1", &tok)).unwrap();
    assert!(!resp.output_valid);
    let rec = fx.entries().into_iter().find(|e| e.event_type == "PROMPT_RECEIVED").unwrap();
    assert_eq!(rec.metadata["output_validation"]["valid"], false);
    assert_eq!(rec.decision.as_deref(), Some("INVALID_OUTPUT"));
}

#[test]
fn rate_limits_hold_across_router_instances() {
    let (r, mut b, p) = test_configs();
    b["rate_limits"] = json!([{"applies_to": "session", "window_ms": 60000, "max_requests": 1, "max_tokens": null}]);
    let fx = Fx::with(r, b, p, false);
    let tok = fx.token("t1", &["agent"]);
    fx.router.route(request("t1", &tok)).unwrap();
    // A second router on the same plane (same clock time) rebuilds the window from the ledger.
    let clock = std::sync::Arc::new(cp_kernel::ManualClock::new(T0));
    let opts = cp_kernel::RouterOptions::new().clock(clock).auth_secret(secret());
    let other = cp_kernel::PromptRouter::open(&fx.tp.plane, opts).unwrap();
    let e = other.route(request("t1", &tok)).unwrap_err();
    assert_eq!(e.reject_code(), Some(RejectCode::RateLimited));
}

#[test]
fn contracts_are_validated_against_the_planes_prompt_contract_schema() {
    let fx = Fx::new();
    let tok = fx.token("t1", &["agent"]);
    // An installed schema (HOT/schemas) takes precedence over the embedded one.
    let strict = json!({"type": "object", "required": ["contract_id"], "properties": {"contract_id": {"pattern": "^PRC-[A-Z]+-[0-9]{3}$"}}});
    let dir = fx.tp.plane.root().join("HOT/schemas");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("prompt_contract.schema.json"), serde_json::to_vec(&strict).unwrap()).unwrap();
    let clock = std::sync::Arc::new(cp_kernel::ManualClock::new(T0));
    let router = cp_kernel::PromptRouter::open(
        &fx.tp.plane,
        cp_kernel::RouterOptions::new().clock(clock).auth_secret(secret()).provider("mock", fx.mock.clone()),
    )
    .unwrap();
    router.route(request("t1", &tok)).unwrap();
    let mut r = request("t1", &tok);
    r.contract.contract_id = "NOT-A-CONTRACT".into();
    let e = router.route(r).unwrap_err();
    assert_eq!(e.reject_code(), Some(RejectCode::ContractInvalid));
    assert_eq!(fx.mock.calls(), 1);
}
