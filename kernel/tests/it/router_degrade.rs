//! Degrade profiles: one test per trigger (breaker open, budget soft threshold, error rate),
//! state shared through the ledger by two routers (as two processes have), operator degrade and
//! resume, and config checks.

use std::sync::Arc;

use cp_kernel::{
    LedgerEntry, LimitConfig, MockProvider, MockStep, PromptRouter, ProviderErrorCode, RejectCode, RouterError,
    RouterOptions, ScopeKey,
};
use serde_json::{Value, json};

use crate::router_support::*;

fn degrade_fx(profiles: Value, threshold: u64) -> Fx {
    let (mut r, b, p) = test_configs();
    r["degrade_profiles"] = profiles;
    r["providers"]["mock"]["circuit_breaker"] =
        json!({"failure_threshold": threshold, "recovery_timeout_ms": 10_000, "half_open_probes": 1});
    Fx::with(r, b, p, false)
}

fn of_type(fx: &Fx, t: &str) -> Vec<LedgerEntry> {
    fx.entries().into_iter().filter(|e| e.event_type == t).collect()
}

fn last_sent(fx: &Fx) -> LedgerEntry {
    of_type(fx, "PROMPT_SENT").pop().unwrap()
}

/// A second router on the same plane and clock, with providers of its own (nothing in memory
/// is shared with the first: only the ledger).
fn second_router(fx: &Fx) -> (PromptRouter, Arc<MockProvider>, Arc<MockProvider>) {
    let (mock, backup) = (Arc::new(MockProvider::new("mock", 4)), Arc::new(MockProvider::new("backup", 4)));
    let opts = RouterOptions::new()
        .provider("mock", mock.clone())
        .provider("backup", backup.clone())
        .clock(fx.clock.clone())
        .auth_secret(secret());
    (PromptRouter::open(&fx.tp.plane, opts).unwrap(), mock, backup)
}

#[test]
fn a_failing_primary_trips_the_profile_and_another_router_routes_under_it() {
    let profiles = json!([{"name": "failover", "triggers": [{"kind": "breaker_open", "provider": "mock"}],
                           "actions": {"provider": "backup", "max_tokens": 50}}]);
    let fx = degrade_fx(profiles, 2);
    let tok = fx.token("t1", &["agent"]);
    fx.mock.push(vec![MockStep::Fail(ProviderErrorCode::Auth, None); 2]);
    for _ in 0..2 {
        assert!(matches!(fx.router.route(request("t1", &tok)), Err(RouterError::Failed { .. })));
    }
    // The router that saw the second failure entered the profile.
    let entered = of_type(&fx, "DEGRADE_ENTERED");
    assert_eq!(entered.len(), 1);
    let e = &entered[0];
    assert_eq!((e.decision.as_deref(), e.metadata["actor"].as_str()), (Some("ENTERED"), Some("system")));
    assert_eq!(e.metadata["policy_id"], "router.degrade");
    assert_eq!(e.metadata["trigger"], json!({"kind": "breaker_open", "provider": "mock"}));
    // Another router (fresh breakers in memory) routes under it: backup first, max_tokens capped.
    let (other, mock2, backup2) = second_router(&fx);
    let resp = other.route(request("t1", &tok)).unwrap();
    assert_eq!(resp.provider, "backup");
    assert_eq!((mock2.calls(), backup2.calls()), (0, 1));
    let sent = last_sent(&fx);
    assert_eq!(sent.metadata["degrade_profile"], "failover");
    assert_eq!(sent.metadata["max_tokens"], 50);
    assert_eq!(of_type(&fx, "DEGRADE_ENTERED").len(), 1, "entered once, not once per router");
    // Past the recovery timeout the breaker half-opens, the trigger clears: the profile is left.
    fx.clock.advance(10_000);
    let resp = other.route(request("t1", &tok)).unwrap();
    assert_eq!(resp.provider, "mock");
    let exited = of_type(&fx, "DEGRADE_EXITED");
    assert_eq!(exited.len(), 1);
    assert_eq!(
        (exited[0].decision.as_deref(), exited[0].metadata["profile"].as_str()),
        (Some("EXITED"), Some("failover"))
    );
    assert!(last_sent(&fx).metadata.get("degrade_profile").is_none());
}

#[test]
fn a_scope_past_its_soft_threshold_enters_the_profile_that_refuses_an_agent_class() {
    let profiles = json!([{"name": "frugal", "triggers": [{"kind": "budget_soft_threshold", "scope": "tenant/t1"}],
                           "actions": {"max_tokens": 40, "refuse_agent_classes": ["KERNEL.semantic"]}}]);
    let fx = degrade_fx(profiles, 5);
    let tok = fx.token("t1", &["operator"]);
    let limit = LimitConfig { max_tokens: Some(2_000), max_cost_micros: None, warn_threshold_pct: 1 };
    fx.router.allocate(&tok, &ScopeKey::tenant("t1"), limit).unwrap();
    fx.router.route(request("t1", &tok)).unwrap();
    assert!(of_type(&fx, "DEGRADE_ENTERED").is_empty(), "under the threshold before the first prompt");
    let err = fx.router.route(request("t1", &tok)).unwrap_err();
    assert_eq!(err.reject_code(), Some(RejectCode::Degraded), "{err:?}");
    let entered = of_type(&fx, "DEGRADE_ENTERED");
    assert_eq!(entered[0].metadata["trigger"]["kind"], "budget_soft_threshold");
    assert_eq!(entered[0].metadata["trigger"]["scope"], "tenant/t1");
    let rejected = of_type(&fx, "PROMPT_REJECTED").pop().unwrap();
    assert_eq!(rejected.metadata["code"], "DEGRADED");
    assert_eq!(rejected.metadata["degrade_profile"], "frugal");
    assert_eq!(rejected.metadata["policy_id"], "router.degrade");
    // Another agent class still routes, with the cap.
    let mut req = request("t1", &tok);
    req.provenance.agent_class = None;
    fx.router.route(req).unwrap();
    assert_eq!(last_sent(&fx).metadata["max_tokens"], 40);
}

#[test]
fn an_error_rate_over_the_window_enters_the_profile_until_the_window_passes() {
    let profiles = json!([{"name": "shaky", "triggers": [{"kind": "error_rate", "window_ms": 60_000,
                           "min_requests": 2, "max_error_pct": 50}], "actions": {"provider": "backup"}}]);
    let fx = degrade_fx(profiles, 5);
    let tok = fx.token("t1", &["agent"]);
    fx.router.route(request("t1", &tok)).unwrap();
    fx.mock.push([MockStep::Fail(ProviderErrorCode::Auth, None)]);
    assert!(fx.router.route(request("t1", &tok)).is_err());
    let entered = of_type(&fx, "DEGRADE_ENTERED");
    assert_eq!(entered.len(), 1);
    assert_eq!(entered[0].metadata["trigger"]["requests"], 2);
    assert_eq!(entered[0].metadata["trigger"]["failed"], 1);
    assert_eq!(fx.router.route(request("t1", &tok)).unwrap().provider, "backup");
    fx.clock.advance(61_000);
    assert_eq!(fx.router.route(request("t1", &tok)).unwrap().provider, "mock");
    assert_eq!(of_type(&fx, "DEGRADE_EXITED").len(), 1);
}

#[test]
fn an_operator_degrades_and_resumes_and_automatic_triggers_do_not_override() {
    let profiles = json!([{"name": "economy", "actions": {"max_tokens": 20}}]);
    let fx = degrade_fx(profiles, 5);
    let tok = fx.token("t1", &["agent"]);
    let before = fx.entries().len();
    let err = fx.router.degrade("nope", "why", "operator:ann").unwrap_err();
    assert!(
        err.to_string().contains("unknown degrade profile \"nope\" (router_config degrade_profiles defines: economy)"),
        "{err}"
    );
    assert!(fx.router.resume("nothing to resume", "operator:ann").unwrap().is_empty());
    assert_eq!(fx.entries().len(), before, "refused or empty: nothing written");
    let v = fx.router.degrade("economy", "provider incident", "operator:ann").unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0].reason.as_deref(), v[0].metadata["actor"].as_str()),
        (Some("provider incident"), Some("operator:ann"))
    );
    assert_eq!(v[0].metadata["trigger"], Value::Null);
    // No trigger fires, yet the operator's profile stays.
    fx.router.route(request("t1", &tok)).unwrap();
    assert_eq!(last_sent(&fx).metadata["max_tokens"], 20);
    assert!(of_type(&fx, "DEGRADE_EXITED").is_empty());
    let status = fx.router.degrade_status().unwrap();
    assert_eq!(status.active.unwrap().profile, "economy");
    let v = fx.router.resume("incident over", "operator:ann").unwrap();
    assert_eq!((v[0].event_type.as_str(), v[0].metadata["profile"].as_str()), ("DEGRADE_EXITED", Some("economy")));
    fx.router.route(request("t1", &tok)).unwrap();
    assert_eq!(last_sent(&fx).metadata["max_tokens"], 100);
}

#[test]
fn a_profile_naming_an_undefined_provider_is_refused_with_its_field() {
    let (mut r, b, p) = test_configs();
    r["degrade_profiles"] = json!([{"name": "x", "actions": {"provider": "ghost"}}]);
    let tp = cp_kernel::testkit::TempPlane::new();
    write_configs(&tp, &r, &b, &p);
    let err = PromptRouter::open(&tp.plane, RouterOptions::new().auth_secret(secret())).unwrap_err().to_string();
    assert!(err.contains("degrade_profiles[0].actions.provider: provider \"ghost\" is not defined"), "{err}");
    r["degrade_profiles"] = json!([{"name": "x", "triggers": [{"kind": "moon_phase"}], "actions": {"max_tokens": 1}}]);
    write_configs(&tp, &r, &b, &p);
    assert!(PromptRouter::open(&tp.plane, RouterOptions::new().auth_secret(secret())).is_err());
}
