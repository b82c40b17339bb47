//! Property: any sequence of allocate / reserve / settle / release / restart leaves a live state
//! equal to the state rebuilt from the ledger, and the ledger sums equal the state.

use std::sync::Arc;

use cp_kernel::{
    BudgetState, Budgeter, LedgerQuery, LedgerStore, LimitConfig, MemoryStore, NewEntry, ReserveRequest, ScopeKey,
};
use proptest::prelude::*;

use crate::router_support::*;

#[derive(Debug, Clone)]
enum Op {
    Allocate { scope: usize, max: Option<u64> },
    Reserve { scopes: usize, tokens: u64, micros: u64 },
    Settle { pick: usize, tokens: u64, micros: u64 },
    Release { pick: usize },
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, proptest::option::of(0..5_000u64)).prop_map(|(scope, max)| Op::Allocate { scope, max }),
        (1..=3usize, 0..400u64, 0..900u64).prop_map(|(scopes, tokens, micros)| Op::Reserve { scopes, tokens, micros }),
        (0..8usize, 0..400u64, 0..900u64).prop_map(|(pick, tokens, micros)| Op::Settle { pick, tokens, micros }),
        (0..8usize).prop_map(|pick| Op::Release { pick }),
        Just(Op::Restart),
    ]
}

fn scopes() -> Vec<ScopeKey> {
    vec!["tenant/t".parse().unwrap(), "session/t/s".parse().unwrap(), "agent/t/a".parse().unwrap()]
}

fn config() -> cp_kernel::BudgetConfig {
    let mut b = budget_cfg();
    b["rate_limits"] = serde_json::json!([]);
    serde_json::from_value(b).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn live_state_equals_state_rebuilt_from_the_ledger(ops in proptest::collection::vec(op(), 1..40)) {
        let store: Arc<dyn LedgerStore> = Arc::new(MemoryStore::new("HO1/prompts"));
        let mut b = Budgeter::open(config(), store.clone()).unwrap();
        let mut n = 0u64;
        for o in ops {
            match o {
                Op::Allocate { scope, max } => {
                    let l = LimitConfig { max_tokens: None, max_cost_micros: max, warn_threshold_pct: 50 };
                    b.allocate(&scopes()[scope], l, Default::default()).unwrap();
                }
                Op::Reserve { scopes: k, tokens, micros } => {
                    n += 1;
                    let req = ReserveRequest {
                        reservation_id: format!("r{n}"),
                        scopes: scopes()[..k].to_vec(),
                        provider: "mock".into(),
                        tokens,
                        micros,
                        now_ms: T0 + n,
                        price_book_version: "v".into(),
                    };
                    let out = b.reserve(&req, NewEntry::new("PROMPT_SENT"), &mut |_| NewEntry::new("PROMPT_REJECTED")).unwrap();
                    // A hard limit is never exceeded by a reservation.
                    if out.decision.is_ok() {
                        for sc in &req.scopes {
                            let st = &b.state().unwrap().scopes[&sc.to_string()];
                            if let Some(m) = st.max_cost_micros {
                                prop_assert!(st.reserved_micros + st.spent_micros <= m, "{sc}: over its hard limit");
                            }
                        }
                    }
                }
                Op::Settle { pick, tokens, micros } => {
                    let st = b.state().unwrap();
                    if let Some(r) = st.open.values().nth(pick % st.open.len().max(1)).cloned() {
                        b.settle(&r, tokens.min(r.tokens), micros.min(r.micros), NewEntry::new("PROMPT_RECEIVED")).unwrap();
                    }
                }
                Op::Release { pick } => {
                    let st = b.state().unwrap();
                    if let Some(r) = st.open.values().nth(pick % st.open.len().max(1)).cloned() {
                        b.release(&r.reservation_id, NewEntry::new("PROMPT_FAILED")).unwrap();
                    }
                }
                Op::Restart => b = Budgeter::open(config(), store.clone()).unwrap(),
            }
            let entries = store.query(&LedgerQuery::default()).unwrap();
            let live = b.state().unwrap();
            prop_assert_eq!(&BudgetState::from_entries(&entries), &live);
            // Ledger sums equal the state: settled micros per scope, open reservations per scope.
            for (key, st) in &live.scopes {
                let settled: u64 = entries.iter()
                    .filter_map(|e| e.metadata.get("budget"))
                    .filter(|m| m["op"] == "settle" && m["scopes"].as_array().unwrap().iter().any(|s| s == key.as_str()))
                    .map(|m| m["micros"].as_u64().unwrap())
                    .sum();
                prop_assert_eq!(settled, st.spent_micros);
                let reserved: u64 = live.open.values().filter(|r| r.scopes.contains(key)).map(|r| r.micros).sum();
                prop_assert_eq!(reserved, st.reserved_micros);
            }
        }
    }
}
