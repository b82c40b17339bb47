//! 16 threads × 200 calls against a hard budget that admits far fewer: the settled total never
//! exceeds the limit and the ledger sum equals the budget state.

use std::sync::Arc;

use cp_kernel::{BudgetState, Budgeter, LimitConfig, RejectCode, RouterError, ScopeKey};

use crate::router_support::*;

#[test]
fn concurrent_calls_never_overspend_a_hard_limit() {
    let (r, b, p) = test_configs();
    let fx = Fx::with(r, b, p, true);
    let op = fx.token("t1", &["operator"]);
    const LIMIT: u64 = 4_000;
    fx.router
        .allocate(
            &op,
            &ScopeKey::tenant("t1"),
            LimitConfig { max_tokens: None, max_cost_micros: Some(LIMIT), warn_threshold_pct: 90 },
        )
        .unwrap();
    let router = &fx.router;
    let (mut ok, mut refused) = (0u64, 0u64);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let op = op.clone();
                s.spawn(move || {
                    let (mut ok, mut refused) = (0u64, 0u64);
                    for _ in 0..200 {
                        match router.route(request("t1", &op)) {
                            Ok(_) => ok += 1,
                            Err(RouterError::Rejected { code: RejectCode::BudgetExhausted, .. }) => refused += 1,
                            Err(e) => panic!("unexpected {e:?}"),
                        }
                    }
                    (ok, refused)
                })
            })
            .collect();
        for h in handles {
            let (o, r) = h.join().unwrap();
            ok += o;
            refused += r;
        }
    });
    assert_eq!(ok + refused, 3_200);
    assert!(ok > 0 && refused > 2_000, "ok {ok}, refused {refused}");
    let entries = fx.entries();
    let received: Vec<_> = entries.iter().filter(|e| e.event_type == "PROMPT_RECEIVED").collect();
    assert_eq!(received.len() as u64, ok);
    assert_eq!(entries.iter().filter(|e| e.event_type == "PROMPT_REJECTED").count() as u64, refused);
    let ledger_sum: u64 = received.iter().map(|e| e.metadata["cost_micros"].as_u64().unwrap()).sum();
    let state = fx.router.budgeter().state().unwrap();
    let tenant = &state.scopes["tenant/t1"];
    assert!(tenant.spent_micros <= LIMIT, "spent {} > limit {LIMIT}", tenant.spent_micros);
    assert_eq!(tenant.spent_micros, ledger_sum);
    assert_eq!(tenant.reserved_micros, 0);
    assert!(state.open.is_empty());
    // Pure function of the ledger, and a fresh budgeter on the same store agrees.
    assert_eq!(BudgetState::from_entries(&entries), state);
    let again = Budgeter::open(fx.router.budgeter().config().clone(), Arc::clone(fx.router.store())).unwrap();
    assert_eq!(again.state().unwrap(), state);
}
