//! Push faults against the loopback receiver: 400 is reported and not retried; 429 waits the
//! `Retry-After` (on the injected clock); 503 backs off; partial success is reported; a receiver
//! that never comes back makes the push give up after `max_attempts`.

use std::sync::Arc;

use cp_kernel::{Clock, ManualClock};
use cp_otel::proto::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};
use cp_otel::{Endpoint, OtelConfig, PushFailure, Pusher, Selection, Signal, push_selection};
use prost::Message;

use crate::receiver::{Receiver, Reply};
use crate::scope::plane_with_two_tenants;

fn pusher(url: &str, clock: Arc<ManualClock>) -> (Pusher, OtelConfig) {
    let cfg = OtelConfig::shipped().unwrap();
    let ep = Endpoint::from_values(Some(url), None, None).unwrap();
    (Pusher::new(ep, cfg.push.clone(), clock), cfg)
}

#[test]
fn bad_request_is_reported_and_not_retried() {
    let rx = Receiver::start(vec![Reply::status(400).body("text/plain", b"bad span".to_vec())]);
    let clock = Arc::new(ManualClock::new(0));
    let (p, _) = pusher(&rx.url, clock.clone());
    let err = p.send(Signal::Traces, b"x").unwrap_err();
    assert_eq!(err, PushFailure::Refused { status: 400, body: "bad span".into() });
    assert_eq!(rx.received().len(), 1, "not retried");
    assert_eq!(clock.monotonic_ms(), 0, "no wait");
    assert!(err.to_string().contains("HTTP 400"));
}

#[test]
fn too_many_requests_waits_the_retry_after_then_delivers() {
    let rx = Receiver::start(vec![Reply::status(429).header("Retry-After", "7")]);
    let clock = Arc::new(ManualClock::new(0));
    let (p, cfg) = pusher(&rx.url, clock.clone());
    let d = p.send(Signal::Traces, b"x").unwrap();
    assert_eq!(d.attempts, 2);
    assert_eq!(clock.monotonic_ms(), 7_000, "waited Retry-After, not the backoff");
    assert_ne!(cfg.push.retry.initial_backoff_ms, 7_000);
    assert_eq!(rx.received().len(), 2);
}

#[test]
fn retry_after_is_capped_and_unavailable_backs_off_exponentially() {
    let rx = Receiver::start(vec![
        Reply::status(429).header("Retry-After", "999999"),
        Reply::status(503),
        Reply::status(502),
    ]);
    let clock = Arc::new(ManualClock::new(0));
    let (p, cfg) = pusher(&rx.url, clock.clone());
    let r = cfg.push.retry;
    let d = p.send(Signal::Metrics, b"x").unwrap();
    assert_eq!(d.attempts, 4);
    // capped Retry-After, then the backoff: initial doubled once (the 429 counted as a retry).
    let want = r.max_retry_after_ms
        + (r.initial_backoff_ms * 2).min(r.max_backoff_ms)
        + (r.initial_backoff_ms * 4).min(r.max_backoff_ms);
    assert_eq!(clock.monotonic_ms(), want);
    assert!(rx.received().iter().all(|x| x.path == "/v1/metrics"));
}

#[test]
fn gives_up_after_max_attempts_when_the_receiver_is_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let clock = Arc::new(ManualClock::new(0));
    let (p, cfg) = pusher(&format!("http://127.0.0.1:{port}"), clock);
    match p.send(Signal::Traces, b"x").unwrap_err() {
        PushFailure::GaveUp { attempts, .. } => assert_eq!(attempts, cfg.push.retry.max_attempts),
        other => panic!("{other:?}"),
    }
}

#[test]
fn partial_success_is_reported() {
    let resp = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess { rejected_spans: 2, error_message: "2 spans too old".into() }),
    };
    let json = br#"{"partialSuccess":{"rejectedSpans":"1","errorMessage":"one more"}}"#.to_vec();
    let rx = Receiver::start(vec![
        Reply::status(200).body("application/x-protobuf", resp.encode_to_vec()),
        Reply::status(200).body("application/json", json),
    ]);
    let tp = plane_with_two_tenants();
    let clock = Arc::new(ManualClock::new(0));
    let (p, mut cfg) = pusher(&rx.url, clock);
    cfg.push.max_spans_per_batch = 8;
    let sel = Selection { tenant: "t1".into(), ..Selection::default() };
    let report = push_selection(&tp.plane, &sel, &cfg, "cp-test", &p).unwrap();
    assert_eq!(report.rejected_spans, 3);
    assert_eq!(report.messages, ["2 spans too old", "one more"]);
    assert_eq!(report.spans, report.stats.spans);
}

#[test]
fn a_refused_batch_stops_the_push_and_says_what_was_delivered() {
    let rx = Receiver::start(vec![Reply::status(200), Reply::status(413)]);
    let tp = plane_with_two_tenants();
    let (p, mut cfg) = pusher(&rx.url, Arc::new(ManualClock::new(0)));
    cfg.push.max_spans_per_batch = 4;
    let sel = Selection { tenant: "t1".into(), ..Selection::default() };
    let err = push_selection(&tp.plane, &sel, &cfg, "cp-test", &p).unwrap_err().to_string();
    assert!(err.contains("HTTP 413") && err.contains("delivered before"), "{err}");
    assert_eq!(rx.received().len(), 2);
}

#[test]
fn endpoint_values_are_checked() {
    let e = Endpoint::from_values(None, None, None).unwrap();
    assert_eq!((e.base.as_str(), e.protocol), ("http://localhost:4318", cp_otel::Protocol::Protobuf));
    assert!(Endpoint::from_values(Some("localhost:4318"), None, None).unwrap_err().to_string().contains("http://"));
    assert!(Endpoint::from_values(None, Some("grpc"), None).unwrap_err().to_string().contains("grpc is not supported"));
    assert!(Endpoint::from_values(None, None, Some("novalue")).unwrap_err().to_string().contains("key=value"));
}
