//! Reconciliation and compensating entries: for random allocate / reserve / settle / release /
//! adjust sequences from several threads (each with its own budgeter on one ledger, as separate
//! processes have), reconcile finds no difference; a served state that drifts from the ledger is
//! reported with its scope, field and amount; invalid adjustments write nothing.

use std::sync::Arc;

use cp_kernel::{
    Adjustment, BudgetError, BudgetState, Budgeter, LedgerQuery, LedgerStore, LimitConfig, MemoryStore, NewEntry,
    Provenance, ReserveRequest, ScopeKey, ServedBudget, reconcile_budget,
};
use proptest::prelude::*;
use serde_json::json;

use crate::router_support::*;

#[derive(Debug, Clone)]
enum Op {
    Allocate { scope: usize, max: Option<u64> },
    Reserve { scopes: usize, tokens: u64, micros: u64 },
    Settle { pick: usize, tokens: u64, micros: u64 },
    Release { pick: usize },
    Adjust { pick: usize, micros: i64, tokens: i64 },
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, proptest::option::of(0..5_000u64)).prop_map(|(scope, max)| Op::Allocate { scope, max }),
        (1..=3usize, 0..400u64, 0..900u64).prop_map(|(scopes, tokens, micros)| Op::Reserve { scopes, tokens, micros }),
        (0..8usize, 0..400u64, 0..900u64).prop_map(|(pick, tokens, micros)| Op::Settle { pick, tokens, micros }),
        (0..8usize).prop_map(|pick| Op::Release { pick }),
        (0..8usize, -900..900i64, -50..50i64).prop_map(|(pick, micros, tokens)| Op::Adjust { pick, micros, tokens }),
        Just(Op::Restart),
    ]
}

fn scopes() -> Vec<ScopeKey> {
    vec!["tenant/t".parse().unwrap(), "session/t/s".parse().unwrap(), "agent/t/a".parse().unwrap()]
}

fn config() -> cp_kernel::BudgetConfig {
    let mut b = budget_cfg();
    b["rate_limits"] = json!([]);
    serde_json::from_value(b).unwrap()
}

fn tenant_t() -> Provenance {
    Provenance { tenant_id: Some("t".into()), ..Provenance::default() }
}

fn received(id: &str) -> NewEntry {
    NewEntry::new("PROMPT_RECEIVED").provenance(tenant_t()).meta("request_id", id)
}

fn adjustment(id: &str, micros: i64, tokens: i64) -> Adjustment {
    Adjustment {
        tenant: "t".into(),
        request_id: id.into(),
        delta_micros: micros,
        delta_tokens: tokens,
        reason: "provider invoice".into(),
        actor: "operator:test".into(),
    }
}

/// Runs `ops` as worker `w` with its own budgeter on `store`; reservation ids are `w<w>-<n>`.
fn run_worker(store: Arc<dyn LedgerStore>, w: usize, ops: Vec<Op>) {
    let mut b = Budgeter::open(config(), store.clone()).unwrap();
    let mut settled: Vec<String> = Vec::new();
    let mine = |st: &BudgetState, pick: usize| {
        let own: Vec<_> = st.open.values().filter(|r| r.reservation_id.starts_with(&format!("w{w}-"))).collect();
        own.get(pick % own.len().max(1)).map(|r| (*r).clone())
    };
    for (n, o) in ops.into_iter().enumerate() {
        match o {
            Op::Allocate { scope, max } => {
                let l = LimitConfig { max_tokens: None, max_cost_micros: max, warn_threshold_pct: 50 };
                b.allocate(&scopes()[scope], l, Default::default()).unwrap();
            }
            Op::Reserve { scopes: k, tokens, micros } => {
                let req = ReserveRequest {
                    reservation_id: format!("w{w}-{n}"),
                    scopes: scopes()[..k].to_vec(),
                    provider: "mock".into(),
                    tokens,
                    micros,
                    now_ms: T0 + n as u64,
                    price_book_version: "v".into(),
                };
                b.reserve(&req, NewEntry::new("PROMPT_SENT").provenance(tenant_t()), &mut |_| {
                    NewEntry::new("PROMPT_REJECTED")
                })
                .unwrap();
            }
            Op::Settle { pick, tokens, micros } => {
                if let Some(r) = mine(&b.state().unwrap(), pick) {
                    b.settle(&r, tokens.min(r.tokens), micros.min(r.micros), received(&r.reservation_id)).unwrap();
                    settled.push(r.reservation_id);
                }
            }
            Op::Release { pick } => {
                if let Some(r) = mine(&b.state().unwrap(), pick) {
                    b.release(&r.reservation_id, NewEntry::new("PROMPT_FAILED")).unwrap();
                }
            }
            Op::Adjust { pick, micros, tokens } => {
                if let Some(id) = settled.get(pick % settled.len().max(1)) {
                    let before = store.head().unwrap().map(|h| h.seq);
                    match b.adjust(&adjustment(id, micros, tokens)) {
                        Ok(e) => assert_eq!(e.event_type, "COST_ADJUSTED"),
                        // Refused (zero delta, or below zero): nothing written by this call.
                        Err(BudgetError::InvalidAdjustment(_)) => {
                            let after: Vec<_> =
                                store.query(&LedgerQuery { after_seq: before, ..LedgerQuery::default() }).unwrap();
                            assert!(after.iter().all(|e| e.event_type != "COST_ADJUSTED"
                                || e.metadata["request_id"] != id.as_str()
                                || e.metadata["delta_micros"] != micros));
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            Op::Restart => b = Budgeter::open(config(), store.clone()).unwrap(),
        }
        let r = reconcile_budget(&b, store.as_ref(), None).unwrap();
        assert!(r.is_clean(), "worker {w}: {r:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]
    #[test]
    fn reconcile_finds_no_difference_across_threads(
        ops in proptest::collection::vec(proptest::collection::vec(op(), 1..25), 1..4)
    ) {
        let store: Arc<dyn LedgerStore> = Arc::new(MemoryStore::new("HO1/prompts"));
        std::thread::scope(|s| {
            for (w, ops) in ops.into_iter().enumerate() {
                let store = store.clone();
                s.spawn(move || run_worker(store, w, ops));
            }
        });
        let fresh = Budgeter::open(config(), store.clone()).unwrap();
        let r = reconcile_budget(&fresh, store.as_ref(), None).unwrap();
        prop_assert!(r.is_clean(), "{:?}", r);
        // Adjustments are in the budget: spent = settled + adjusted, per scope.
        let st = fresh.state().unwrap();
        let entries = store.query(&LedgerQuery::default()).unwrap();
        for (key, sc) in &st.scopes {
            let sum = |op: &str, field: &str| -> i128 {
                entries.iter().filter_map(|e| e.metadata.get("budget"))
                    .filter(|m| m["op"] == op && m["scopes"].as_array().unwrap().iter().any(|s| s == key.as_str()))
                    .map(|m| i128::from(m[field].as_i64().unwrap()))
                    .sum()
            };
            prop_assert_eq!(i128::from(sc.spent_micros), sum("settle", "micros") + sum("adjust", "delta_micros"));
            prop_assert_eq!(i128::from(sc.adjusted_micros), sum("adjust", "delta_micros"));
        }
    }
}

/// A test backend serving the budgeter's state with one scope's spent micro-units shifted.
struct Drifted {
    inner: Budgeter,
    scope: &'static str,
    extra: u64,
}

impl ServedBudget for Drifted {
    fn served(&self) -> Result<BudgetState, BudgetError> {
        let mut st = self.inner.state()?;
        if let Some(sc) = st.scopes.get_mut(self.scope) {
            sc.spent_micros += self.extra;
        }
        Ok(st)
    }
}

fn settled_store() -> (Arc<dyn LedgerStore>, Budgeter) {
    let store: Arc<dyn LedgerStore> = Arc::new(MemoryStore::new("HO1/prompts"));
    let b = Budgeter::open(config(), store.clone()).unwrap();
    let req = ReserveRequest {
        reservation_id: "r1".into(),
        scopes: scopes()[..2].to_vec(),
        provider: "mock".into(),
        tokens: 100,
        micros: 500,
        now_ms: T0,
        price_book_version: "v".into(),
    };
    let out = b.reserve(&req, NewEntry::new("PROMPT_SENT"), &mut |_| NewEntry::new("PROMPT_REJECTED")).unwrap();
    b.settle(&out.decision.unwrap(), 80, 400, received("r1")).unwrap();
    (store, b)
}

#[test]
fn an_injected_mismatch_is_reported_with_scope_and_amount() {
    let (store, b) = settled_store();
    assert!(reconcile_budget(&b, store.as_ref(), None).unwrap().is_clean());
    let drifted = Drifted { inner: b, scope: "session/t/s", extra: 37 };
    let r = reconcile_budget(&drifted, store.as_ref(), None).unwrap();
    assert_eq!(r.differences.len(), 1, "{r:?}");
    let d = &r.differences[0];
    assert_eq!((d.scope.as_str(), d.field.as_str()), ("session/t/s", "spent_micros"));
    assert_eq!((d.ledger, d.served, d.delta), (Some(400), Some(437), Some(37)));
    // Limited to another scope: that scope agrees.
    let r = reconcile_budget(&drifted, store.as_ref(), Some(&"tenant/t".parse().unwrap())).unwrap();
    assert!(r.is_clean() && r.scopes_checked == 1, "{r:?}");
}

#[test]
fn a_reused_reservation_id_is_a_difference_the_budgeter_cannot_see() {
    // Written by something other than the budgeter: the same reservation id reserved twice. The
    // incremental state keeps one reservation's tokens held after the settle; the sums do not.
    let (store, _) = settled_store();
    let res = json!({"op": "reserve", "reservation_id": "dup", "scopes": ["tenant/t"], "tokens": 10, "micros": 20,
                     "provider": "mock", "at_ms": T0, "price_book_version": "v"});
    store.append(NewEntry::new("PROMPT_SENT").meta("budget", res.clone())).unwrap();
    store.append(NewEntry::new("PROMPT_SENT").meta("budget", res)).unwrap();
    let settle = json!({"op": "settle", "reservation_id": "dup", "scopes": ["tenant/t"], "tokens": 10, "micros": 20});
    store.append(NewEntry::new("PROMPT_RECEIVED").meta("budget", settle)).unwrap();
    let b = Budgeter::open(config(), store.clone()).unwrap();
    let r = reconcile_budget(&b, store.as_ref(), None).unwrap();
    let fields: Vec<_> = r.differences.iter().map(|d| (d.scope.as_str(), d.field.as_str(), d.delta)).collect();
    assert_eq!(fields, [("tenant/t", "reserved_tokens", Some(10)), ("tenant/t", "reserved_micros", Some(20))]);
}

#[test]
fn adjustments_are_checked_and_invalid_ones_write_nothing() {
    let (store, b) = settled_store();
    let head = store.head().unwrap().unwrap().seq;
    for (adj, why) in [
        (adjustment("nope", 5, 0), "no settled"),
        (adjustment("r1", 0, 0), "non-zero"),
        (adjustment("r1", -401, 0), "below zero"),
        (Adjustment { tenant: "other".into(), ..adjustment("r1", 5, 0) }, "not a request of tenant"),
        (Adjustment { reason: " ".into(), ..adjustment("r1", 5, 0) }, "reason"),
    ] {
        let err = b.adjust(&adj).unwrap_err().to_string();
        assert!(err.contains(why), "{err} lacks {why}");
        assert_eq!(store.head().unwrap().unwrap().seq, head, "{why}: something was written");
    }
    let e = b.adjust(&adjustment("r1", -150, -10)).unwrap();
    assert_eq!(e.event_type, "COST_ADJUSTED");
    assert_eq!(e.decision.as_deref(), Some("ADJUSTED"));
    assert_eq!(e.metadata["policy_id"], "budget.adjust");
    assert_eq!(e.metadata["actor"], "operator:test");
    assert_eq!(e.tenant_id.as_deref(), Some("t"));
    let received =
        store.query(&LedgerQuery::default()).unwrap().into_iter().find(|e| e.event_type == "PROMPT_RECEIVED");
    assert_eq!(e.parent_event_id, received.map(|r| r.id));
    let st = b.state().unwrap();
    for key in ["tenant/t", "session/t/s"] {
        assert_eq!((st.scopes[key].spent_micros, st.scopes[key].spent_tokens), (250, 70), "{key}");
        assert_eq!(st.scopes[key].adjusted_micros, -150);
    }
    assert!(reconcile_budget(&b, store.as_ref(), None).unwrap().is_clean());
}
