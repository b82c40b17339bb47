//! The alert worker on an injected clock: thresholds per scope and UTC day, one claim per scope,
//! level and day (also with two services on one plane), a new day starts again, and a failing
//! webhook is ledgered as ALERT_FAILED and claimed again at the next check.

use std::sync::Arc;

use cp_kernel::testkit::{TempPlane, router_test_configs, write_router_configs};
use cp_kernel::{Clock, LedgerQuery, LedgerSet, ManualClock, event};
use cp_ops::{Ops, OpsConfig, Overrides, check_alerts, validate};
use serde_json::json;

fn plane() -> TempPlane {
    let tp = TempPlane::new();
    let (r, b, p) = router_test_configs();
    write_router_configs(&tp, &r, &b, &p);
    tp
}

fn config(webhook: &str) -> OpsConfig {
    let mut c = OpsConfig::shipped()
        .unwrap()
        .with_overrides(&Overrides {
            daily_budget_usd: Some(10.0),
            webhook_url: Some(webhook.into()),
            ..Overrides::default()
        })
        .unwrap();
    c.alerts.scope_budgets_usd.insert("team-a".into(), 2.0);
    c.alerts.max_attempts = 3;
    c
}

fn spend(ops: &Ops, clock: &ManualClock, id: &str, scope: Option<&str>, usd: f64) {
    let t = clock.wall_now();
    let mut e = json!({"id": id, "timestamp": format!("{t:.3}"), "agent_id": "a", "workflow_id": "w", "status": "success",
        "latency_ms": 1, "cost_usd": usd});
    if let Some(s) = scope {
        e["budget_scope"] = json!(s);
    }
    let ev = validate("", e, &ops.config().limits).unwrap();
    ops.ingest("acme", vec![ev]).unwrap();
}

fn records(tp: &TempPlane, ty: &str) -> usize {
    let set = LedgerSet::new(&tp.plane);
    let q = LedgerQuery { event_types: vec![ty.into()], ..LedgerQuery::default() };
    set.open("HO1/ops-alerts-t-acme").unwrap().query(&q).unwrap().len()
}

/// 2031-03-10T22:00:00Z: two hours before a UTC day ends.
fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(1_930_946_400_000))
}

#[test]
fn thresholds_fire_once_per_scope_level_and_day() {
    let tp = plane();
    let c = clock();
    let ops = Ops::open(tp.plane.clone(), config(""), c.clone()).unwrap();
    spend(&ops, &c, "e1", None, 7.9);
    assert!(check_alerts(&ops).unwrap().is_empty(), "below 0.8 × 10");
    spend(&ops, &c, "e2", None, 0.2);
    spend(&ops, &c, "e3", Some("team-a"), 2.5);
    let got = check_alerts(&ops).unwrap();
    let keys: Vec<(String, String)> = got.iter().map(|a| (a.scope.clone(), a.level.clone())).collect();
    assert_eq!(
        keys,
        [("team-a".into(), "soft".into()), ("team-a".into(), "hard".into()), ("tenant".into(), "soft".into())]
    );
    assert!(got.iter().all(|a| a.period == "2031-03-10" && !a.delivered));
    assert!(check_alerts(&ops).unwrap().is_empty(), "claimed alerts are not claimed again");

    // A second service on the same plane (another process after a restart, or overlapping).
    let ops2 = Ops::open(tp.plane.clone(), config(""), c.clone()).unwrap();
    assert!(check_alerts(&ops2).unwrap().is_empty());
    assert_eq!(records(&tp, event::ALERT_SENT), 3);

    // The next UTC day starts from zero.
    c.advance(3 * 3_600_000);
    assert!(check_alerts(&ops).unwrap().is_empty(), "yesterday's spend does not count today");
    spend(&ops, &c, "e4", Some("team-a"), 1.7);
    let got = check_alerts(&ops).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].level.as_str(), got[0].period.as_str()), ("soft", "2031-03-11"));
}

#[test]
fn a_webhook_that_never_answers_is_ledgered_failed_and_claimed_again() {
    let tp = plane();
    let c = clock();
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", dead.local_addr().unwrap());
    drop(dead);
    let ops = Ops::open(tp.plane.clone(), config(&url), c.clone()).unwrap();
    spend(&ops, &c, "e1", Some("team-a"), 1.8);
    let before = c.now_ms();
    let got = check_alerts(&ops).unwrap();
    assert_eq!(got.len(), 1);
    assert!(!got[0].delivered);
    assert_eq!(c.now_ms() - before, 200 + 400, "two backoffs on the injected clock");
    assert_eq!((records(&tp, event::ALERT_SENT), records(&tp, event::ALERT_FAILED)), (1, 1));
    let again = check_alerts(&ops).unwrap();
    assert_eq!(again.len(), 1, "a failed delivery is claimed again");
    assert_eq!((records(&tp, event::ALERT_SENT), records(&tp, event::ALERT_FAILED)), (2, 2));
}
