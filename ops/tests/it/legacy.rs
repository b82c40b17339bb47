//! Stores written by the service's first versions — one `OPS_EVENT` per event, one `COST_FACT`
//! per event — are read as they are: their events and spend are in the views, a fact an
//! interrupted ingest left out is projected (as a `COST_FACTS` entry after the old facts), their
//! ids stay duplicates, and new ingests continue the same ledgers with `OPS_EVENTS` entries.

use std::sync::Arc;

use cp_kernel::testkit::{TempPlane, router_test_configs, write_router_configs};
use cp_kernel::{Clock, LedgerQuery, LedgerSet, ManualClock, NewEntry, Provenance, event};
use cp_ops::{Event, Filter, Ops, OpsConfig, validate};
use serde_json::json;

fn ev(ops_limits: &cp_ops::LimitsConfig, id: &str, ts: &str, cost: f64) -> Event {
    let v = json!({"id": id, "timestamp": ts, "agent_id": "a", "workflow_id": "w", "status": "success",
        "latency_ms": 5, "cost_usd": cost});
    validate("", v, ops_limits).unwrap()
}

/// The `OPS_EVENT` entry the first versions wrote for event `id`.
fn old_event(id: &str, e: &Event) -> NewEntry {
    NewEntry::new(event::OPS_EVENT)
        .submission(id)
        .decision("success")
        .provenance(Provenance {
            tenant_id: Some("acme".into()),
            agent_id: Some(e.agent_id.clone()),
            ..Provenance::default()
        })
        .meta("event_id", id)
        .meta("event", serde_json::to_value(e).unwrap())
}

/// The `COST_FACT` entry the first versions wrote for event `id` stored at `seq`.
fn old_fact(id: &str, e: &Event, seq: u64) -> NewEntry {
    NewEntry::new(event::COST_FACT)
        .submission(id)
        .decision("RECORDED")
        .provenance(Provenance { tenant_id: Some("acme".into()), ..Provenance::default() })
        .meta("event_id", id)
        .meta("amount_usd", e.cost_usd)
        .meta("currency", "USD")
        .meta("ts_ms", e.ts_ms)
        .meta("workflow_id", e.workflow_id.clone())
        .meta("agent_id", e.agent_id.clone())
        .meta("budget_scope", "tenant")
        .meta("event_seq", seq)
}

#[test]
fn stores_of_the_first_versions_are_read_and_continued() {
    let tp = TempPlane::new();
    let (r, b, p) = router_test_configs();
    write_router_configs(&tp, &r, &b, &p);
    let clock = Arc::new(ManualClock::new(1_930_946_400_000));
    let ts = format!("{:.3}", clock.wall_now());
    let cfg = OpsConfig::shipped().unwrap();
    let (ev_name, cost_name, _) = cp_ops::ledger_names("acme");
    let set = LedgerSet::new(&tp.plane);
    let olds: Vec<Event> = (0..3).map(|i| ev(&cfg.limits, &format!("old-{i}"), &ts, 1.0 + i as f64)).collect();
    for (i, e) in olds.iter().enumerate() {
        let seq = set.open(&ev_name).unwrap().append(old_event(&format!("old-{i}"), e)).unwrap().seq;
        // The process died before the last event's fact was written.
        if i < 2 {
            set.open(&cost_name).unwrap().append(old_fact(&format!("old-{i}"), e, seq)).unwrap();
        }
    }
    drop(set);

    let ops = Ops::open(tp.plane.clone(), cfg.clone(), clock.clone()).unwrap();
    let o = ops.overview("acme", 24, &Filter::default()).unwrap();
    assert_eq!((o.runs, o.spend_usd), (3, 6.0));
    let set = LedgerSet::new(&tp.plane);
    let q = LedgerQuery { event_types: vec![event::COST_FACTS.into()], ..LedgerQuery::default() };
    let projected = set.open(&cost_name).unwrap().query(&q).unwrap();
    assert_eq!(projected.len(), 1, "the missing fact is projected once");
    assert_eq!(projected[0].metadata["event_seq"], 2);
    assert_eq!(projected[0].metadata["facts"][0]["event_id"], "old-2");

    let again = vec![ev(&cfg.limits, "old-1", &ts, 1.0), ev(&cfg.limits, "new-1", &ts, 0.5)];
    let rep = ops.ingest("acme", again).unwrap();
    assert_eq!((rep.accepted, rep.duplicates), (1, 1), "an id of an old entry is a duplicate");
    ops.flush_cost_facts();
    drop(ops);

    // A fresh open reads both formats and projects nothing twice.
    let ops = Ops::open(tp.plane.clone(), cfg, clock).unwrap();
    let o = ops.overview("acme", 24, &Filter::default()).unwrap();
    assert_eq!((o.runs, o.spend_usd), (4, 6.5));
    let types: Vec<String> = set
        .open(&cost_name)
        .unwrap()
        .query(&LedgerQuery::default())
        .unwrap()
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(types, ["COST_FACT", "COST_FACT", "COST_FACTS", "COST_FACTS"]);
    let stored = set.open(&ev_name).unwrap().query(&LedgerQuery::default()).unwrap();
    assert_eq!(stored.last().map(|e| e.event_type.as_str()), Some(event::OPS_EVENTS));
    assert!(cp_kernel::verify_store(set.open(&ev_name).unwrap().as_ref()).unwrap().ok);
}
