//! `--follow` faults: the receiver is down while entries arrive (batches spool), the exporter
//! restarts, the receiver comes up: every span arrives exactly once; a refused batch is set
//! aside and reported; a full spool drops its oldest batch and says so.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::Arc;

use cp_kernel::{LedgerQuery, LedgerSet, ManualClock, NewEntry, event, testkit::TempPlane};
use cp_otel::proto::trace::v1::TracesData;
use cp_otel::{Endpoint, Follower, OtelConfig, Pusher, Selection, project, read_entries};
use prost::Message;

use crate::fixture::{LEDGER, options};
use crate::receiver::{Receiver, Reply};
use crate::scope::plane_with_two_tenants;

fn sel() -> Selection {
    Selection { tenant: "t1".into(), ..Selection::default() }
}

fn cfg() -> OtelConfig {
    let mut c = OtelConfig::shipped().unwrap();
    c.push.max_spans_per_batch = 4;
    c
}

fn pusher(url: &str) -> Pusher {
    Pusher::new(Endpoint::from_values(Some(url), None, None).unwrap(), cfg().push, Arc::new(ManualClock::new(0)))
}

/// Span id → how many times the receiver got it, from every /v1/traces body.
fn delivered(rx: &Receiver) -> BTreeMap<Vec<u8>, u32> {
    let mut n = BTreeMap::new();
    for r in rx.received().iter().filter(|r| r.path == "/v1/traces") {
        let t = TracesData::decode(&r.body()[..]).unwrap();
        for s in t.resource_spans.iter().flat_map(|x| &x.scope_spans).flat_map(|x| &x.spans) {
            *n.entry(s.span_id.clone()).or_default() += 1;
        }
    }
    n
}

/// Answers the fixture's in-flight prompt R-4 of t1 and adds one more rejected request.
fn append_more(tp: &TempPlane) {
    let store = LedgerSet::new(&tp.plane).open(LEDGER).unwrap();
    let all = store.query(&LedgerQuery::default()).unwrap();
    let r4 =
        all.iter().find(|e| e.submission_id.as_deref() == Some("R-4") && e.tenant_id.as_deref() == Some("t1")).unwrap();
    let mut p = r4.provenance();
    p.parent_event_id = Some(r4.id.clone());
    let ans = NewEntry::new(event::PROMPT_RECEIVED)
        .submission("R-4")
        .provenance(p.clone())
        .meta("provider", "mock")
        .meta("model", "mock-1")
        .meta("input_tokens", 5)
        .meta("output_tokens", 6)
        .meta("latency_ms", 40);
    p.parent_event_id = None;
    let rej = NewEntry::new(event::PROMPT_REJECTED).submission("R-5").provenance(p).meta("code", "RATE_LIMITED");
    store.append_batch(vec![ans, rej]).unwrap();
}

#[test]
fn receiver_down_then_up_across_a_restart_delivers_every_span_once() {
    let tp = plane_with_two_tenants();
    let state = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    {
        // Receiver down: the first exporter spools and exits.
        let p = pusher(&url);
        let mut f = Follower::open(&tp.plane, sel(), cfg(), &p, "cp-test", state.path()).unwrap();
        f.poll().unwrap();
        let r = f.report();
        assert!(r.spooled_batches > 0 && r.spool_batches == r.spooled_batches, "{r:?}");
        assert!(r.last_error.as_deref().is_some_and(|e| e.contains("gave up")), "{r:?}");
        assert_eq!(r.delivered.spans, 0);
    }
    append_more(&tp);
    // The receiver comes up on the same port; a new exporter process resumes from the state.
    let rx = Receiver::on(TcpListener::bind(("127.0.0.1", port)).unwrap(), vec![]);
    let p = pusher(&url);
    let mut f = Follower::open(&tp.plane, sel(), cfg(), &p, "cp-test", state.path()).unwrap();
    f.poll().unwrap();
    f.poll().unwrap();
    assert_eq!(f.report().spool_batches, 0, "{:?}", f.report());
    assert_eq!(f.report().last_error, None);
    // Exactly the spans of a one-shot projection of the final ledger (R-4 answered, so no
    // in-flight copy of it), each once.
    let (want, _, _) = project(read_entries(&tp.plane, &sel(), 100).unwrap(), &options());
    let want: Vec<Vec<u8>> = want.resource_spans[0].scope_spans[0].spans.iter().map(|s| s.span_id.clone()).collect();
    let got = delivered(&rx);
    assert!(got.values().all(|n| *n == 1), "doubled: {got:?}");
    let mut w = want.clone();
    w.sort();
    let gotk: Vec<Vec<u8>> = got.keys().cloned().collect();
    assert_eq!(gotk.len(), w.len(), "{gotk:?}");
    assert_eq!(gotk, w);
    // A third exporter with nothing new sends nothing.
    let before = rx.received().len();
    let mut g = Follower::open(&tp.plane, sel(), cfg(), &p, "cp-test", state.path()).unwrap();
    g.poll().unwrap();
    assert_eq!(rx.received().len(), before);
}

#[test]
fn a_refused_batch_is_set_aside_and_the_rest_delivered() {
    let tp = plane_with_two_tenants();
    let state = tempfile::tempdir().unwrap();
    let rx = Receiver::start(vec![Reply::status(400)]);
    let p = pusher(&rx.url);
    let mut f = Follower::open(&tp.plane, sel(), cfg(), &p, "cp-test", state.path()).unwrap();
    f.poll().unwrap();
    let r = f.report().clone();
    assert_eq!(r.rejected_batches, 1);
    assert!(r.last_error.as_deref().is_some_and(|e| e.contains("HTTP 400")));
    assert_eq!(r.spool_batches, 0);
    assert_eq!(r.delivered.trace_requests + r.delivered.metric_requests + 1, r.spooled_batches);
    assert_eq!(std::fs::read_dir(state.path().join("rejected")).unwrap().count(), 1);
}

#[test]
fn a_full_spool_drops_the_oldest_batches_and_reports_it() {
    let tp = plane_with_two_tenants();
    let state = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut c = cfg();
    c.follow.spool_max_bytes = 1;
    let p = pusher(&format!("http://127.0.0.1:{port}"));
    let mut f = Follower::open(&tp.plane, sel(), c, &p, "cp-test", state.path()).unwrap();
    f.poll().unwrap();
    let r = f.report();
    assert_eq!(r.dropped_batches, r.spooled_batches);
    assert_eq!(r.spool_batches, 0);
}

#[test]
fn a_follower_far_behind_commits_page_by_page() {
    let tp = plane_with_two_tenants();
    let state = tempfile::tempdir().unwrap();
    let rx = Receiver::start(vec![]);
    let mut c = cfg();
    c.read_page_entries = 3;
    let p = pusher(&rx.url);
    let mut f = Follower::open(&tp.plane, sel(), c, &p, "cp-test", state.path()).unwrap();
    f.poll().unwrap();
    let r = f.report().clone();
    assert_eq!(r.entries, 8);
    assert_eq!(
        std::fs::read_to_string(state.path().join("cursor.json")).unwrap().matches("\"poll\":3").count(),
        1,
        "3 pages of at most 3 entries"
    );
    // The spans of a one-shot projection, each once, except the in-flight R-4 (root + chat),
    // which the follower keeps in its cursor until the answer arrives.
    let (want, _, stats) = project(read_entries(&tp.plane, &sel(), 100).unwrap(), &options());
    assert_eq!(stats.in_flight, 1);
    assert_eq!(r.delivered.spans as usize + 2, want.resource_spans[0].scope_spans[0].spans.len());
    assert!(std::fs::read_to_string(state.path().join("cursor.json")).unwrap().contains("R-4"));
    assert!(delivered(&rx).values().all(|n| *n == 1));
}
