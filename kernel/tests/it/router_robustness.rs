//! Router robustness (issue 8 §5): the dispatch deadline across retries and fallbacks, the
//! per-dimension `overrun` record, reservations that bound the settled usage (the provider's
//! `max_tokens` is the reserved output), and the `NO_PRICE` refusals.

use std::sync::{Arc, Mutex};

use cp_kernel::LedgerEntry;
use cp_kernel::testkit::TempPlane;
use cp_kernel::{Clock, ManualClock, PromptRouter, RejectCode, RouterError, RouterOptions};
use cp_kernel::{
    MockProvider, MockStep, Provider, ProviderError, ProviderErrorCode, ProviderRequest, ProviderResponse, Usage,
};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::router_support::*;

fn last(fx: &Fx, event: &str) -> LedgerEntry {
    fx.entries().into_iter().rev().find(|e| e.event_type == event).unwrap()
}

// ---------------------------------------------------------------------------------------------
// 4. Dispatch deadline

/// Mock and backup both take 1 s per call and always fail with a retryable error.
fn slow_failing(deadline_ms: u64) -> (TempPlane, Arc<ManualClock>, Arc<MockProvider>, Arc<MockProvider>, PromptRouter) {
    let (mut r, b, p) = test_configs();
    r["fallback_providers"] = json!(["backup"]);
    r["dispatch_deadline_ms"] = json!(deadline_ms);
    let tp = TempPlane::new();
    write_configs(&tp, &r, &b, &p);
    let clock = Arc::new(ManualClock::new(T0));
    let dyn_clock: Arc<dyn Clock> = clock.clone();
    let mock = Arc::new(MockProvider::new("mock", 4).with_latency(dyn_clock.clone(), 1_000));
    let backup = Arc::new(MockProvider::new("backup", 4).with_latency(dyn_clock, 1_000));
    mock.push(vec![MockStep::Fail(ProviderErrorCode::ServerError, None); 10]);
    backup.push(vec![MockStep::Fail(ProviderErrorCode::ServerError, None); 10]);
    let router = PromptRouter::open(
        &tp.plane,
        RouterOptions::new()
            .provider("mock", mock.clone())
            .provider("backup", backup.clone())
            .clock(clock.clone())
            .auth_secret(secret()),
    )
    .unwrap();
    (tp, clock, mock, backup, router)
}

#[test]
fn deadline_stops_retries_and_fallback_and_is_logged() {
    let (_tp, clock, mock, backup, router) = slow_failing(2_500);
    let tok = router.issue_token("tester", &["agent".into()], "t1", None).unwrap().0;
    let start = clock.now_ms();
    let err = router.route(request("t1", &tok)).unwrap_err();
    // Attempt 1: 0–1000, backoff 10, attempt 2: 1010–2010, backoff 20, attempt 3: 2030–3030
    // (started before the deadline, its timeout cut to the 470 ms left); then the deadline
    // stops the fallback to `backup`.
    assert_eq!(mock.calls(), 3);
    assert_eq!(backup.calls(), 0, "the fallback provider is not tried after the deadline");
    let RouterError::Failed { attempts, message, seq, .. } = &err else { panic!("{err:?}") };
    assert_eq!(*attempts, 3);
    assert!(message.contains("deadline") && message.contains("2500"), "{message}");
    let store = router.store();
    let failed = store.get(*seq).unwrap().unwrap();
    assert_eq!(failed.event_type, "PROMPT_FAILED");
    assert_eq!(failed.metadata["deadline"]["reached"], true);
    assert_eq!(failed.metadata["deadline"]["deadline_ms"], 2_500);
    assert_eq!(failed.metadata["deadline"]["elapsed_ms"], 3_030);
    assert!(failed.reason.as_deref().unwrap().contains("deadline"), "{:?}", failed.reason);
    let atts = failed.metadata["attempts"].as_array().unwrap();
    assert_eq!(atts.last().unwrap()["code"], "DEADLINE_EXCEEDED");
    assert_eq!(atts.last().unwrap()["provider"], "backup");
    assert_eq!(clock.now_ms() - start, 3_030);
}

#[test]
fn deadline_is_not_slept_past_by_a_backoff() {
    let (_tp, clock, mock, backup, router) = slow_failing(1_005);
    let tok = router.issue_token("tester", &["agent".into()], "t1", None).unwrap().0;
    let start = clock.now_ms();
    let err = router.route(request("t1", &tok)).unwrap_err();
    assert!(matches!(err, RouterError::Failed { attempts: 1, .. }), "{err:?}");
    assert_eq!((mock.calls(), backup.calls()), (1, 0));
    // The 10 ms backoff would end past the deadline: no sleep, no second attempt.
    assert_eq!(clock.now_ms() - start, 1_000);
}

#[test]
fn without_reaching_the_deadline_nothing_changes() {
    let (_tp, _clock, mock, backup, router) = slow_failing(600_000);
    let tok = router.issue_token("tester", &["agent".into()], "t1", None).unwrap().0;
    let err = router.route(request("t1", &tok)).unwrap_err();
    assert!(matches!(err, RouterError::Failed { attempts: 6, .. }), "{err:?}");
    assert_eq!((mock.calls(), backup.calls()), (3, 3));
    let failed = router.store().get(err_seq(&err)).unwrap().unwrap();
    assert_eq!(failed.metadata["deadline"]["reached"], false);
}

fn err_seq(e: &RouterError) -> u64 {
    match e {
        RouterError::Failed { seq, .. } | RouterError::Rejected { seq, .. } => *seq,
        other => panic!("{other:?}"),
    }
}

#[test]
fn deadline_is_required_and_positive_in_router_config() {
    let s = cp_kernel::SchemaSet::embedded().unwrap();
    let shipped: cp_kernel::RouterConfig = serde_json::from_value(router_cfg()).unwrap();
    assert!(shipped.dispatch_deadline_ms >= shipped.default_timeout_ms, "one full attempt fits the shipped deadline");
    let mut r = router_cfg();
    r["dispatch_deadline_ms"] = json!(0);
    assert!(s.validate("router_config", &r).is_err());
    r.as_object_mut().unwrap().remove("dispatch_deadline_ms");
    assert!(s.validate("router_config", &r).is_err());
}

// ---------------------------------------------------------------------------------------------
// 5. Overrun: per dimension, only what exceeded

fn sent_reservation(fx: &Fx) -> (u64, u64) {
    let sent = last(fx, "PROMPT_SENT");
    (sent.metadata["budget"]["tokens"].as_u64().unwrap(), sent.metadata["budget"]["micros"].as_u64().unwrap())
}

#[test]
fn overrun_of_tokens_only_records_only_tokens() {
    let (r, b, mut p) = test_configs();
    // Cached input is free: many cached input tokens exceed the token reservation, not the cost.
    p["versions"][0]["prices"][0]["cached_input_per_mtok"] = json!(0);
    let fx = Fx::with(r, b, p, false);
    let tok = fx.token("t1", &["agent"]);
    fx.mock.push([MockStep::Reply {
        text: "{\"answer\": \"x\"}".into(),
        input_tokens: Some(50_000),
        output_tokens: Some(10),
        cached_input_tokens: 50_000,
    }]);
    let resp = fx.router.route(request("t1", &tok)).unwrap();
    let (rt, rm) = sent_reservation(&fx);
    let rec = last(&fx, "PROMPT_RECEIVED");
    assert!(resp.cost_micros <= rm);
    assert_eq!(
        rec.metadata["overrun"],
        json!({"tokens": {"reserved": rt, "actual": 50_010, "excess": 50_010 - rt}}),
        "{:?}",
        rec.metadata
    );
}

#[test]
fn overrun_of_cost_only_records_only_micros() {
    let (r, b, mut p) = test_configs();
    // Input dearer than output: more input than the bound, less output than reserved.
    p["versions"][0]["prices"][0]["input_per_mtok"] = json!(10_000_000);
    p["versions"][0]["prices"][0]["output_per_mtok"] = json!(1_000_000);
    let fx = Fx::with(r, b, p, false);
    let tok = fx.token("t1", &["agent"]);
    fx.router.route(request("t1", &tok)).unwrap();
    let (rt, _) = sent_reservation(&fx);
    let input_bound = rt - 100; // contract max_tokens = 100
    fx.mock.push([MockStep::Reply {
        text: "{\"answer\": \"x\"}".into(),
        input_tokens: Some(input_bound + 50),
        output_tokens: Some(10),
        cached_input_tokens: 0,
    }]);
    let resp = fx.router.route(request("t1", &tok)).unwrap();
    let (rt, rm) = sent_reservation(&fx);
    assert!(resp.usage.input_tokens + resp.usage.output_tokens <= rt);
    let rec = last(&fx, "PROMPT_RECEIVED");
    assert_eq!(
        rec.metadata["overrun"],
        json!({"micros": {"reserved": rm, "actual": resp.cost_micros, "excess": resp.cost_micros - rm}}),
        "{:?}",
        rec.metadata
    );
}

#[test]
fn no_overrun_no_record() {
    let fx = Fx::new();
    let tok = fx.token("t1", &["agent"]);
    fx.router.route(request("t1", &tok)).unwrap();
    assert!(last(&fx, "PROMPT_RECEIVED").metadata.get("overrun").is_none());
}

/// A provider that honours `max_tokens` and reports the worst usage the reservation bound allows:
/// one input token per prompt byte plus the configured overhead, and `max_tokens` output tokens.
struct WorstCase {
    overhead: u64,
    seen: Mutex<Vec<ProviderRequest>>,
}

impl Provider for WorstCase {
    fn name(&self) -> &str {
        "mock"
    }
    fn complete(&self, req: &ProviderRequest) -> Result<ProviderResponse, ProviderError> {
        self.seen.lock().unwrap().push(req.clone());
        Ok(ProviderResponse {
            text: "{\"answer\": \"x\"}".into(),
            model: req.model.clone(),
            usage: Usage {
                input_tokens: req.prompt.len() as u64 + self.overhead,
                output_tokens: req.max_tokens,
                cached_input_tokens: 0,
            },
            finish_reason: "length".into(),
        })
    }
}

fn worst_case_router() -> (TempPlane, Arc<WorstCase>, PromptRouter, String, Value) {
    let (r, b, p) = test_configs();
    let tp = TempPlane::new();
    write_configs(&tp, &r, &b, &p);
    let overhead = b["input_bound"]["overhead_tokens"].as_u64().unwrap();
    let worst = Arc::new(WorstCase { overhead, seen: Mutex::new(Vec::new()) });
    let router = PromptRouter::open(
        &tp.plane,
        RouterOptions::new()
            .provider("mock", worst.clone())
            .clock(Arc::new(ManualClock::new(T0)))
            .auth_secret(secret()),
    )
    .unwrap();
    let tok = router.issue_token("tester", &["agent".into()], "t1", None).unwrap().0;
    (tp, worst, router, tok, b)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    /// For any context (ASCII, accents, CJK, emoji) and any max_tokens, the reservation bounds the
    /// settled tokens and cost of a provider that honours max_tokens and counts at most one token
    /// per byte plus the overhead; the provider is asked for exactly the reserved output.
    #[test]
    fn reservation_is_an_upper_bound_when_the_provider_honours_max_tokens(
        context in "[a-z é漢😀\\n]{0,200}",
        max_tokens in 1u64..2_000,
    ) {
        let (_tp, worst, router, tok, _) = worst_case_router();
        let mut req = request("t1", &tok);
        req.context.context_text = context;
        req.contract.boundary.max_tokens = max_tokens;
        let resp = router.route(req).unwrap();
        let entries = router.store().query(&Default::default()).unwrap();
        let sent = entries.iter().rev().find(|e| e.event_type == "PROMPT_SENT").unwrap();
        let rec = entries.iter().rev().find(|e| e.event_type == "PROMPT_RECEIVED").unwrap();
        let reserved_tokens = sent.metadata["budget"]["tokens"].as_u64().unwrap();
        let reserved_micros = sent.metadata["budget"]["micros"].as_u64().unwrap();
        let asked = worst.seen.lock().unwrap().last().unwrap().clone();
        prop_assert_eq!(asked.max_tokens, max_tokens);
        prop_assert_eq!(sent.metadata["max_tokens"].as_u64(), Some(max_tokens));
        prop_assert_eq!(
            sent.metadata["input_tokens_bound"].as_u64().unwrap() + max_tokens,
            reserved_tokens
        );
        prop_assert!(resp.usage.input_tokens + resp.usage.output_tokens <= reserved_tokens);
        prop_assert!(resp.cost_micros <= reserved_micros);
        prop_assert!(rec.metadata.get("overrun").is_none(), "{}", rec.metadata["overrun"]);
    }
}

// ---------------------------------------------------------------------------------------------
// 6. NO_PRICE

fn rejected_no_price(fx: &Fx, err: RouterError) -> LedgerEntry {
    assert_eq!(err.reject_code(), Some(RejectCode::NoPrice), "{err:?}");
    let e = fx.router.store().get(err_seq(&err)).unwrap().unwrap();
    assert_eq!(e.event_type, "PROMPT_REJECTED");
    assert_eq!(e.metadata["code"], "NO_PRICE");
    assert_eq!(fx.mock.calls() + fx.backup.calls(), 0, "nothing is sent");
    assert!(fx.entries().iter().all(|e| e.event_type != "PROMPT_SENT"));
    e
}

#[test]
fn no_price_when_the_provider_has_no_price() {
    let (r, b, mut p) = test_configs();
    p["versions"][0]["prices"] = json!([{"provider": "openai", "model": "*", "input_per_mtok": 1,
        "cached_input_per_mtok": 1, "output_per_mtok": 1}]);
    let fx = Fx::with(r, b, p, false);
    let tok = fx.token("t1", &["agent"]);
    let e = rejected_no_price(&fx, fx.router.route(request("t1", &tok)).unwrap_err());
    assert_eq!(e.metadata["price_book_version"], "2026-11-01");
    assert_eq!(e.metadata["skipped"][0]["provider"], "mock");
    assert_eq!(e.metadata["skipped"][0]["code"], "NO_PRICE");
}

#[test]
fn no_price_when_no_price_book_version_is_in_force() {
    let (r, b, mut p) = test_configs();
    p["versions"][0]["effective_from"] = json!("2099-01-01T00:00:00Z");
    let fx = Fx::with(r, b, p, false);
    let tok = fx.token("t1", &["agent"]);
    let e = rejected_no_price(&fx, fx.router.route(request("t1", &tok)).unwrap_err());
    assert!(e.reason.as_deref().unwrap().contains("no price-book version is in force"), "{:?}", e.reason);
}

#[test]
fn unpriced_primary_is_skipped_for_a_priced_fallback() {
    let (mut r, b, mut p) = test_configs();
    r["fallback_providers"] = json!(["backup"]);
    p["versions"][0]["prices"].as_array_mut().unwrap().retain(|x| x["provider"] != "mock");
    let fx = Fx::with(r, b, p, false);
    let tok = fx.token("t1", &["agent"]);
    let resp = fx.router.route(request("t1", &tok)).unwrap();
    assert_eq!(resp.provider, "backup");
    assert_eq!(fx.mock.calls(), 0);
    let sent = last(&fx, "PROMPT_SENT");
    assert_eq!(sent.metadata["skipped_providers"][0]["code"], "NO_PRICE");
}
