use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

const H: i64 = 3_600_000;
const NOW: i64 = 1_800_001_234_567; // not on an hour boundary

fn ev(run: Option<&str>, ts_ms: i64, status: Status, latency: u64, cost: f64, wf: &str) -> Event {
    let mut fields = BTreeMap::new();
    if let Some(r) = run {
        fields.insert("run_id".to_string(), r.to_string());
    }
    Event {
        timestamp: rfc3339(ts_ms),
        ts_ms,
        agent_id: "a".into(),
        workflow_id: wf.into(),
        status,
        latency_ms: latency,
        cost_usd: cost,
        fields,
        tokens: BTreeMap::new(),
    }
}

fn apply(v: &mut TenantView, id: &str, e: &Event) {
    v.apply_event(id, e);
    let a = v.attribution(id).cloned().unwrap();
    v.apply_cost(e.ts_ms, e.cost_usd, a);
}

#[test]
fn a_run_counts_once_with_its_latest_status_whatever_the_arrival_order() {
    let mut v = TenantView::default();
    apply(&mut v, "2", &ev(Some("r"), NOW - 1000, Status::Failure, 90, 0.5, "w"));
    apply(&mut v, "1", &ev(Some("r"), NOW - 2000, Status::Started, 0, 0.0, "w"));
    apply(&mut v, "3", &ev(None, NOW - 3000, Status::Success, 10, 0.25, "w"));
    let o = v.overview(NOW, 24, &Filter::default());
    assert_eq!((o.runs, o.successes, o.failures, o.running), (2, 1, 1, 0));
    assert_eq!(o.success_rate, Some(0.5));
    assert_eq!(o.spend_usd, 0.75);
    assert_eq!(o.avg_latency_ms, Some(50.0));
    assert_eq!(o.p95_latency_ms, Some(90));
    assert_eq!(o.last_event_at.as_deref(), Some(rfc3339(NOW - 1000).as_str()));
}

#[test]
fn the_window_and_the_filters_apply() {
    let mut v = TenantView::default();
    apply(&mut v, "old", &ev(None, NOW - 25 * H, Status::Success, 10, 1.0, "w1"));
    apply(&mut v, "new", &ev(None, NOW - H, Status::Success, 10, 2.0, "w1"));
    apply(&mut v, "other", &ev(None, NOW - H, Status::Failure, 10, 4.0, "w2"));
    let all = v.overview(NOW, 24, &Filter::default());
    assert_eq!((all.runs, all.spend_usd), (2, 6.0));
    let w1 = v.overview(NOW, 24, &Filter { workflow_id: Some("w1".into()), agent_id: None });
    assert_eq!((w1.runs, w1.spend_usd, w1.success_rate), (1, 2.0, Some(1.0)));
    assert_eq!(v.overview(NOW, 48, &Filter::default()).runs, 3);
    let empty = TenantView::default().overview(NOW, 24, &Filter::default());
    assert_eq!(
        (empty.success_rate, empty.avg_latency_ms, empty.p95_latency_ms, empty.last_event_at),
        (None, None, None, None)
    );
}

#[test]
fn timeseries_buckets_by_hour() {
    let mut v = TenantView::default();
    apply(&mut v, "a", &ev(None, NOW - 10, Status::Failure, 1, 1.0, "w"));
    apply(&mut v, "b", &ev(None, NOW - 2 * H, Status::Success, 1, 2.0, "w"));
    let ts = v.timeseries(NOW, 24, &Filter::default());
    assert_eq!(ts.len(), 24);
    let last = ts.last().unwrap();
    assert_eq!((last.runs, last.failures, last.spend_usd), (1, 1, 1.0));
    assert_eq!(ts.iter().map(|p| p.spend_usd).sum::<f64>(), 3.0);
}

proptest! {
    /// Whatever the events and their order, runs = successes + failures + running, the rate is
    /// within [0, 1], p95 is at least the mean's floor... and applying in another order gives
    /// the same overview.
    #[test]
    fn overview_is_order_independent(evs in proptest::collection::vec((0u8..6, 0i64..(30 * H), 0u8..3, 0u64..5000, 0u32..1000), 1..60)) {
        let events: Vec<(String, Event)> = evs.iter().enumerate().map(|(i, (run, ago, st, lat, cost))| {
            let status = [Status::Started, Status::Success, Status::Failure][*st as usize];
            (format!("e{i}"), ev(Some(&format!("r{run}")), NOW - ago - i as i64, status, *lat, f64::from(*cost) / 100.0, "w"))
        }).collect();
        let mut a = TenantView::default();
        let mut b = TenantView::default();
        for (id, e) in &events { apply(&mut a, id, e); }
        for (id, e) in events.iter().rev() { apply(&mut b, id, e); }
        let (oa, ob) = (a.overview(NOW, 24, &Filter::default()), b.overview(NOW, 24, &Filter::default()));
        prop_assert_eq!(oa.runs, oa.successes + oa.failures + oa.running);
        prop_assert!(oa.success_rate.is_none_or(|r| (0.0..=1.0).contains(&r)));
        prop_assert_eq!((oa.runs, oa.successes, oa.failures, oa.running, oa.p95_latency_ms), (ob.runs, ob.successes, ob.failures, ob.running, ob.p95_latency_ms));
        prop_assert!((oa.spend_usd - ob.spend_usd).abs() < 1e-9);
    }
}

/// Each run's latest event (latest time, then latest applied).
fn latest(events: &[(String, Event)]) -> Vec<&Event> {
    let mut latest: BTreeMap<String, (i64, usize, &Event)> = BTreeMap::new();
    for (i, (id, e)) in events.iter().enumerate() {
        let k = e.run_key(id);
        if latest.get(&k).is_none_or(|(t, o, _)| (*t, *o) <= (e.ts_ms, i)) {
            latest.insert(k, (e.ts_ms, i, e));
        }
    }
    latest.into_values().map(|x| x.2).collect()
}

/// The time series computed the naive way: (runs, failures, spend) per hour of the window.
fn naive_series(events: &[(String, Event)], now: i64, hours: u32, f: &Filter) -> Vec<(u64, u64, f64)> {
    let n = hours.max(1) as usize;
    let first = now.div_euclid(H) * H - (n as i64 - 1) * H;
    let slot = |e: &Event| {
        (e.ts_ms >= first && e.ts_ms <= now && f.admits(&e.workflow_id, &e.agent_id))
            .then(|| ((e.ts_ms - first) / H) as usize)
    };
    let mut out = vec![(0, 0, 0.0); n];
    for e in latest(events) {
        if let Some(i) = slot(e) {
            out[i].0 += 1;
        }
    }
    for (_, e) in events {
        if let Some(i) = slot(e) {
            out[i].1 += u64::from(e.status == Status::Failure);
            out[i].2 += e.cost_usd;
        }
    }
    out
}

/// The overview computed the naive way: every run's latest event (latest time, then latest
/// applied), then a sort of the window's latencies.
fn naive(
    events: &[(String, Event)],
    now: i64,
    hours: u32,
    f: &Filter,
) -> (u64, u64, u64, Option<u64>, Option<f64>, Option<i64>, f64) {
    let from = now - i64::from(hours) * H;
    let admit = |e: &Event| f.admits(&e.workflow_id, &e.agent_id);
    let inwin: Vec<&Event> =
        latest(events).into_iter().filter(|e| e.ts_ms >= from && e.ts_ms <= now && admit(e)).collect();
    let n = |s: Status| inwin.iter().filter(|e| e.status == s).count() as u64;
    let mut lat: Vec<u64> = inwin.iter().filter(|e| e.status != Status::Started).map(|e| e.latency_ms).collect();
    lat.sort_unstable();
    let p95 = (!lat.is_empty()).then(|| lat[(((lat.len() as f64) * 0.95).ceil() as usize).clamp(1, lat.len()) - 1]);
    let avg = (!lat.is_empty()).then(|| lat.iter().sum::<u64>() as f64 / lat.len() as f64);
    let last = inwin.iter().map(|e| e.ts_ms).max();
    let spend = events
        .iter()
        .map(|x| &x.1)
        .filter(|e| e.ts_ms >= from && e.ts_ms <= now && admit(e))
        .map(|e| e.cost_usd)
        .sum::<f64>();
    (n(Status::Success), n(Status::Failure), n(Status::Started), p95, avg, last, spend)
}

proptest! {
    /// The time-indexed overview (whole hours from their tallies, edges run by run) equals the
    /// naive computation over every run, with and without a filter, for any window and `now`.
    #[test]
    fn indexed_overview_equals_the_naive_one(
        evs in proptest::collection::vec((0u8..8, 0i64..(40 * H), 0u8..3, 0u64..300, 0u32..1000, (0u8..2, 0u8..2)), 1..80),
        shift in 0i64..(3 * H),
        hours in 1u32..30,
    ) {
        let events: Vec<(String, Event)> = evs.iter().enumerate().map(|(i, (run, ago, st, lat, cost, (wf, agent)))| {
            let status = [Status::Started, Status::Success, Status::Failure][*st as usize];
            let mut e = ev(Some(&format!("r{run}")), NOW - ago, status, *lat, f64::from(*cost) / 100.0, ["w0", "w1"][*wf as usize]);
            e.agent_id = ["a0", "a1"][*agent as usize].to_string();
            (format!("e{i}"), e)
        }).collect();
        let mut v = TenantView::default();
        for (id, e) in &events { apply(&mut v, id, e); }
        let now = NOW - shift;
        for (wf, agent) in [(None, None), (Some("w1"), None), (None, Some("a0")), (Some("w0"), Some("a1")), (Some("none"), None)] {
            let f = Filter { workflow_id: wf.map(str::to_string), agent_id: agent.map(str::to_string) };
            let o = v.overview(now, hours, &f);
            let (s, fl, r, p95, avg, last, spend) = naive(&events, now, hours, &f);
            prop_assert_eq!((o.successes, o.failures, o.running, o.p95_latency_ms), (s, fl, r, p95), "{:?}", f);
            prop_assert_eq!(o.avg_latency_ms, avg);
            prop_assert_eq!(o.last_event_at, last.map(rfc3339));
            prop_assert!((o.spend_usd - round_usd(spend)).abs() < 1e-9);
            let series = v.timeseries(now, hours, &f);
            let expect = naive_series(&events, now, hours, &f);
            prop_assert_eq!(series.len(), expect.len());
            for (p, (runs, failures, spend)) in series.iter().zip(&expect) {
                prop_assert_eq!((p.runs, p.failures), (*runs, *failures), "{:?} {}", f, p.hour);
                prop_assert!((p.spend_usd - round_usd(*spend)).abs() < 1e-9);
            }
        }
    }
}
