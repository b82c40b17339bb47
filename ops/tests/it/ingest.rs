//! Group commit: many threads ingesting for two tenants at once, with ids repeated across
//! requests, store every id exactly once in the tenant's own event store, each request gets a
//! report of its own events, and the views and a rebuild agree with what was stored.

use std::sync::Arc;

use cp_kernel::testkit::{TempPlane, router_test_configs, write_router_configs};
use cp_kernel::{Clock, LedgerQuery, LedgerSet, ManualClock, event};
use cp_ops::{Filter, Ops, OpsConfig, validate};
use serde_json::json;

fn plane() -> TempPlane {
    let tp = TempPlane::new();
    let (r, b, p) = router_test_configs();
    write_router_configs(&tp, &r, &b, &p);
    tp
}

/// The ids listed under `list` (with the id under `key`) in the `ty` entries of `ledger`.
fn stored(tp: &TempPlane, ledger: &str, ty: &str, list: &str, key: &str) -> Vec<String> {
    let set = LedgerSet::new(&tp.plane);
    let q = LedgerQuery { event_types: vec![ty.into()], ..LedgerQuery::default() };
    let entries = set.open(ledger).unwrap().query(&q).unwrap();
    entries
        .iter()
        .flat_map(|e| e.metadata[list].as_array().unwrap().iter().map(|v| v[key].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn concurrent_requests_are_stored_once_each_in_their_tenant() {
    let tp = plane();
    let clock = Arc::new(ManualClock::new(1_930_946_400_000));
    let ops = Arc::new(Ops::open(tp.plane.clone(), OpsConfig::shipped().unwrap(), clock.clone()).unwrap());
    let now = clock.wall_now();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let ops = ops.clone();
            std::thread::spawn(move || {
                let tenant = if t % 2 == 0 { "acme" } else { "globex" };
                let mut accepted = 0;
                for r in 0..10 {
                    // Ids 0..20 per tenant, each sent by several threads.
                    let evs = (0..5)
                        .map(|i| {
                            let e = json!({"id": format!("e{}", (r * 5 + i + t) % 20), "timestamp": format!("{now:.3}"),
                                "agent_id": "a", "workflow_id": "w", "status": "success", "latency_ms": 3, "cost_usd": 0.5});
                            validate("", e, &ops.config().limits).unwrap()
                        })
                        .collect();
                    let rep = ops.ingest(tenant, evs).unwrap();
                    assert_eq!(rep.ids.len(), 5);
                    assert_eq!(rep.accepted + rep.duplicates, 5);
                    accepted += rep.accepted;
                }
                (tenant, accepted)
            })
        })
        .collect();
    let mut per_tenant = std::collections::BTreeMap::<&str, usize>::new();
    for h in threads {
        let (t, n) = h.join().unwrap();
        *per_tenant.entry(t).or_default() += n;
    }
    assert_eq!(per_tenant.values().copied().collect::<Vec<_>>(), [20, 20], "each id accepted exactly once");
    for t in ["acme", "globex"] {
        let (ev, costs, _) = cp_ops::ledger_names(t);
        ops.flush_cost_facts();
        let mut ids = stored(&tp, &ev, event::OPS_EVENTS, "events", "id");
        assert_eq!(ids.len(), 20, "no id stored twice");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 20);
        let mut facts = stored(&tp, &costs, event::COST_FACTS, "facts", "event_id");
        facts.sort();
        assert_eq!(facts, ids, "one cost fact per stored event");
        let o = ops.overview(t, 24, &Filter::default()).unwrap();
        assert_eq!((o.runs, o.spend_usd), (20, 10.0));
    }
    ops.rebuild().unwrap();
    assert_eq!(ops.overview("acme", 24, &Filter::default()).unwrap().spend_usd, 10.0);
}
