//! The budget's `COST_ADJUSTED` entries (`cpctl budget adjust`: in the router's ledger, metadata
//! `delta_micros`, parent = the adjusted request's `PROMPT_RECEIVED`) count in the spend of that
//! request's tenant, live and after a rebuild; one without a known parent counts nowhere.

use std::sync::Arc;

use cp_kernel::testkit::{TempPlane, router_test_configs, write_router_configs};
use cp_kernel::{LedgerSet, ManualClock, NewEntry, Provenance, event};
use cp_ops::{Ops, OpsConfig};

fn received(set: &LedgerSet, tenant: &str, request: &str, cost_micros: u64) -> String {
    let e = NewEntry::new(event::PROMPT_RECEIVED)
        .decision("ALLOWED")
        .provenance(Provenance { tenant_id: Some(tenant.into()), ..Provenance::default() })
        .meta("request_id", request)
        .meta("cost_micros", cost_micros)
        .meta("latency_ms", 10);
    set.open("HO1/prompts").unwrap().append(e).unwrap().id
}

fn adjusted(set: &LedgerSet, tenant: &str, parent: &str, delta_micros: i64) {
    let p =
        Provenance { tenant_id: Some(tenant.into()), parent_event_id: Some(parent.into()), ..Provenance::default() };
    let e = NewEntry::new(event::COST_ADJUSTED)
        .decision("ADJUSTED")
        .reason("provider refund")
        .provenance(p)
        .meta("delta_micros", delta_micros)
        .meta("actor", "ops@test");
    set.open("HO1/prompts").unwrap().append(e).unwrap();
}

fn tenant_spend(ops: &Ops, tenant: &str) -> f64 {
    let all = ops.spend_by_scope(i64::MIN, i64::MAX).unwrap();
    all.get(tenant).and_then(|m| m.get("tenant")).copied().unwrap_or(0.0)
}

#[test]
fn budget_adjustments_count_in_the_tenants_spend() {
    let tp = TempPlane::new();
    let (r, b, p) = router_test_configs();
    write_router_configs(&tp, &r, &b, &p);
    let set = LedgerSet::new(&tp.plane);
    let r1 = received(&set, "acme", "R1", 2_000_000);
    let g1 = received(&set, "globex", "G1", 1_000_000);
    let clock = Arc::new(ManualClock::new(1_930_946_400_000));
    let config = OpsConfig::shipped().unwrap();
    let poll = config.views.prompt_poll_ms;
    let ops = Ops::open(tp.plane.clone(), config.clone(), clock.clone()).unwrap();
    assert_eq!((tenant_spend(&ops, "acme"), tenant_spend(&ops, "globex")), (2.0, 1.0));

    adjusted(&set, "acme", &r1, -500_000);
    adjusted(&set, "acme", &r1, 120_000);
    // Parent of another tenant, and a parent nobody knows: counted in no tenant's spend.
    adjusted(&set, "acme", &g1, -300_000);
    adjusted(&set, "globex", "no-such-entry", -300_000);
    clock.advance(poll);
    assert_eq!((tenant_spend(&ops, "acme"), tenant_spend(&ops, "globex")), (1.62, 1.0));

    let reopened = Ops::open(tp.plane.clone(), config, clock).unwrap();
    assert_eq!((tenant_spend(&reopened, "acme"), tenant_spend(&reopened, "globex")), (1.62, 1.0));
}
