//! Circuit breaker through the router, retries, Retry-After, fallback, restart and recovery.

use std::sync::Arc;

use cp_kernel::{
    BreakerState, BudgetState, Budgeter, ManualClock, MockStep, NewEntry, PromptRouter, ProviderErrorCode, RejectCode,
    ReserveRequest, RouterError, RouterOptions, ScopeKey, dangling_prompts,
};
use serde_json::json;

use crate::router_support::*;

fn breaker_fx(threshold: u64, recovery_ms: u64, probes: u64, fallback: bool) -> Fx {
    let (mut r, b, p) = test_configs();
    r["providers"]["mock"]["circuit_breaker"] =
        json!({"failure_threshold": threshold, "recovery_timeout_ms": recovery_ms, "half_open_probes": probes});
    if fallback {
        r["fallback_providers"] = json!(["backup"]);
    }
    Fx::with(r, b, p, false)
}

#[test]
fn breaker_opens_half_opens_and_closes() {
    let fx = breaker_fx(2, 1_000, 1, false);
    let tok = fx.token("t1", &["agent"]);
    fx.mock.push(vec![MockStep::Fail(ProviderErrorCode::Auth, None); 2]);
    assert!(matches!(fx.router.route(request("t1", &tok)), Err(RouterError::Failed { .. })));
    assert_eq!(fx.router.breaker_state("mock"), Some(BreakerState::Closed));
    assert!(matches!(fx.router.route(request("t1", &tok)), Err(RouterError::Failed { .. })));
    assert_eq!(fx.router.breaker_state("mock"), Some(BreakerState::Open));
    let e = fx.router.route(request("t1", &tok)).unwrap_err();
    assert_eq!(e.reject_code(), Some(RejectCode::CircuitOpen));
    fx.clock.advance(1_000);
    assert_eq!(fx.router.breaker_state("mock"), Some(BreakerState::HalfOpen));
    // A failed probe opens it again.
    fx.mock.push([MockStep::Fail(ProviderErrorCode::ServerError, None)]);
    assert!(matches!(fx.router.route(request("t1", &tok)), Err(RouterError::Failed { attempts: 1, .. })));
    assert_eq!(fx.router.breaker_state("mock"), Some(BreakerState::Open));
    fx.clock.advance(1_000);
    // A successful probe closes it.
    fx.router.route(request("t1", &tok)).unwrap();
    assert_eq!(fx.router.breaker_state("mock"), Some(BreakerState::Closed));
    fx.router.route(request("t1", &tok)).unwrap();
}

#[test]
fn retries_stop_at_the_configured_count_with_backoff() {
    let (mut r, b, p) = test_configs();
    r["retries"]["max_attempts"] = json!(4);
    r["retries"]["backoff_initial_ms"] = json!(100);
    r["retries"]["backoff_multiplier"] = json!(3);
    r["retries"]["backoff_max_ms"] = json!(500);
    let fx = Fx::with(r, b, p, false);
    let tok = fx.token("t1", &["agent"]);
    fx.mock.push(vec![MockStep::Fail(ProviderErrorCode::ServerError, None); 10]);
    let t = fx.clock.now_ms_for_test();
    let err = fx.router.route(request("t1", &tok)).unwrap_err();
    assert!(matches!(err, RouterError::Failed { attempts: 4, code: ProviderErrorCode::ServerError, .. }), "{err:?}");
    assert_eq!(fx.mock.calls(), 4);
    // Backoff on the manual clock: 100 + 300 + 500 (capped).
    assert_eq!(fx.clock.now_ms_for_test() - t, 900);
    let failed = fx.entries().into_iter().find(|e| e.event_type == "PROMPT_FAILED").unwrap();
    assert_eq!(failed.metadata["latency_ms"], 900);
    assert_eq!(failed.metadata["attempts"].as_array().unwrap().len(), 4);
}

#[test]
fn retry_after_is_honoured_within_the_limit() {
    let fx = Fx::new();
    let tok = fx.token("t1", &["agent"]);
    // Within max_retry_after_ms: waited for, then retried.
    fx.mock.push([MockStep::Fail(ProviderErrorCode::RateLimited, Some(7_000))]);
    let t = fx.clock.now_ms_for_test();
    let resp = fx.router.route(request("t1", &tok)).unwrap();
    assert_eq!(resp.attempts, 2);
    assert_eq!(fx.clock.now_ms_for_test() - t, 7_000);
    // Beyond it: no retry.
    fx.mock.push([MockStep::Fail(ProviderErrorCode::RateLimited, Some(31_000))]);
    let err = fx.router.route(request("t1", &tok)).unwrap_err();
    assert!(matches!(err, RouterError::Failed { attempts: 1, .. }), "{err:?}");
}

#[test]
fn fallback_used_when_the_first_is_open_or_failing() {
    let fx = breaker_fx(1, 60_000, 1, true);
    let tok = fx.token("t1", &["agent"]);
    // The primary fails (non-retryable): the same request falls back to `backup`.
    fx.mock.push([MockStep::Fail(ProviderErrorCode::Auth, None)]);
    let resp = fx.router.route(request("t1", &tok)).unwrap();
    assert_eq!(resp.provider, "backup");
    assert_eq!(resp.attempts, 2);
    assert_eq!(fx.router.breaker_state("mock"), Some(BreakerState::Open));
    // The primary is open: SENT names backup and mock is not called.
    let calls = fx.mock.calls();
    let resp = fx.router.route(request("t1", &tok)).unwrap();
    assert_eq!(resp.provider, "backup");
    assert_eq!(fx.mock.calls(), calls);
    let sent = fx.entries().into_iter().rev().find(|e| e.event_type == "PROMPT_SENT").unwrap();
    assert_eq!(sent.metadata["provider"], "backup");
    assert_eq!(sent.metadata["skipped_providers"][0]["code"], "CIRCUIT_OPEN");
    assert_eq!(fx.backup.calls(), 2);
}

#[test]
fn a_new_router_on_the_same_plane_rebuilds_the_budget_exactly() {
    let fx = Fx::new();
    let tok = fx.token("t1", &["agent"]);
    for _ in 0..3 {
        fx.router.route(request("t1", &tok)).unwrap();
    }
    fx.mock.push([MockStep::Fail(ProviderErrorCode::Auth, None)]);
    let _ = fx.router.route(request("t1", &tok));
    let live = fx.router.budgeter().state().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let again = PromptRouter::open(&fx.tp.plane, RouterOptions::new().clock(clock).auth_secret(secret())).unwrap();
    assert_eq!(again.budgeter().state().unwrap(), live);
    assert_eq!(BudgetState::from_entries(&fx.entries()), live);
    assert_eq!(
        live.scopes["tenant/t1"].spent_micros,
        again.budget_report("t1").unwrap().scopes["tenant/t1"].spent_micros
    );
}

#[test]
fn dangling_sent_is_listed_and_recovered() {
    let fx = Fx::new();
    // A crash between PROMPT_SENT and PROMPT_RECEIVED: reserve without settling.
    let req = ReserveRequest {
        reservation_id: "r-crash".into(),
        scopes: vec![ScopeKey::tenant("t1")],
        provider: "mock".into(),
        tokens: 50,
        micros: 70,
        now_ms: T0,
        price_book_version: "2026-11-01".into(),
    };
    let out = fx
        .router
        .budgeter()
        .reserve(&req, NewEntry::new("PROMPT_SENT"), &mut |_| NewEntry::new("PROMPT_REJECTED"))
        .unwrap();
    assert!(out.decision.is_ok());
    let tok = fx.token("t1", &["agent"]);
    fx.router.route(request("t1", &tok)).unwrap();
    let dangling = dangling_prompts(fx.router.store().as_ref()).unwrap();
    assert_eq!(dangling.len(), 1);
    assert_eq!(dangling[0].metadata["budget"]["reservation_id"], "r-crash");
    assert_eq!(fx.router.budget_report("t1").unwrap().scopes["tenant/t1"].reserved_micros, 70);
    let rec = fx.router.recover().unwrap();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].event_type, "BUDGET_RECOVERED");
    assert_eq!(rec[0].parent_event_id.as_deref(), Some(dangling[0].id.as_str()));
    assert!(dangling_prompts(fx.router.store().as_ref()).unwrap().is_empty());
    let st = fx.router.budget_report("t1").unwrap();
    assert_eq!(st.scopes["tenant/t1"].reserved_micros, 0);
    assert!(st.open_reservations.is_empty());
    assert!(fx.router.recover().unwrap().is_empty(), "recovery is idempotent");
    // A fresh budgeter agrees.
    let b2 = Budgeter::open(fx.router.budgeter().config().clone(), fx.router.store().clone()).unwrap();
    assert_eq!(b2.state().unwrap(), fx.router.budgeter().state().unwrap());
}

#[test]
fn mock_latency_runs_on_the_injected_clock_and_is_logged() {
    let (r, b, p) = test_configs();
    let tp = cp_kernel::testkit::TempPlane::new();
    write_configs(&tp, &r, &b, &p);
    let clock = Arc::new(ManualClock::new(T0));
    let mock = Arc::new(cp_kernel::MockProvider::new("mock", 4).with_latency(clock.clone(), 250));
    let router = PromptRouter::open(
        &tp.plane,
        RouterOptions::new().clock(clock.clone()).auth_secret(secret()).provider("mock", mock),
    )
    .unwrap();
    let tok = router.issue_token("t", &["agent".into()], "t1", None).unwrap().0;
    let resp = router.route(request("t1", &tok)).unwrap();
    assert_eq!(resp.latency_ms, 250);
    let rec = router.store().query(&Default::default()).unwrap().pop().unwrap();
    assert_eq!(rec.event_type, "PROMPT_RECEIVED");
    assert_eq!(rec.metadata["latency_ms"], 250);
}
