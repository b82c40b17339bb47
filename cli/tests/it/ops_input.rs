//! Bad input to `cpctl serve`: every case is a clear 4xx naming the field, nothing of the request
//! is stored, and the server stays healthy (malformed JSON, missing and mistyped fields,
//! NaN/negative/huge numbers, a 10 MB body, invalid UTF-8, a slow client).

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::ops_support::{Server, ops_plane, read_response, token, write_ops_config};

fn good(id: &str) -> Value {
    json!({"id": id, "timestamp": format!("{:.3}", jiff::Timestamp::now()), "agent_id": "a", "workflow_id": "w",
        "status": "success", "latency_ms": 5, "cost_usd": 0.5})
}

fn with(id: &str, k: &str, v: Value) -> Vec<u8> {
    let mut e = good(id);
    e[k] = v;
    e.to_string().into_bytes()
}

fn without(id: &str, k: &str) -> Vec<u8> {
    let mut e = good(id);
    e.as_object_mut().unwrap().remove(k);
    e.to_string().into_bytes()
}

/// Sends `head` then `body_len` bytes of `x`, ignoring a server that stops reading.
fn send_big(srv: &Server, head: &str, body_len: usize) -> (u16, String) {
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s.write_all(head.as_bytes());
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < body_len {
        if s.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    read_response(&mut s)
}

#[test]
fn bad_input_is_refused_with_its_field_and_nothing_is_stored() {
    let tp = ops_plane();
    write_ops_config(&tp, &[("request_timeout_ms: 10000", "request_timeout_ms: 400")]);
    let srv = Server::start(&tp, &[]);
    let (ing, read) = (token("acme", &["ingest"]), token("acme", &["read"]));
    assert_eq!(srv.post_json("/v1/events", Some(&ing), &serde_json::to_vec(&good("ok-1")).unwrap()).0, 200);

    let mut batch_with_one_bad = vec![good("b-1"), good("b-2"), good("b-3")];
    batch_with_one_bad[2]["latency_ms"] = json!(-3);
    let ndjson_bad = format!("{}\n{}\n", good("n-1"), "{\"timestamp\": oops}");
    let cases: Vec<(&str, Vec<u8>, u16, &str, &str)> = vec![
        ("malformed JSON", b"{\"timestamp\": ".to_vec(), 400, "malformed_json", ""),
        ("NaN", b"{\"cost_usd\": NaN}".to_vec(), 400, "malformed_json", ""),
        ("huge number", with("h", "cost_usd", json!(1e300)), 400, "out_of_range", "/cost_usd"),
        ("number beyond f64", br#"{"cost_usd": 1e999}"#.to_vec(), 400, "malformed_json", ""),
        ("negative cost", with("c", "cost_usd", json!(-1)), 400, "out_of_range", "/cost_usd"),
        ("negative latency", with("l", "latency_ms", json!(-1)), 400, "invalid_value", "/latency_ms"),
        ("fractional latency", with("l", "latency_ms", json!(2.5)), 400, "invalid_value", "/latency_ms"),
        ("string latency", with("l", "latency_ms", json!("5")), 400, "wrong_type", "/latency_ms"),
        ("missing agent", without("m", "agent_id"), 400, "missing_field", "/agent_id"),
        ("missing timestamp", without("m", "timestamp"), 400, "missing_field", "/timestamp"),
        ("bad timestamp", with("t", "timestamp", json!("2026-13-45")), 400, "invalid_value", "/timestamp"),
        ("bad status", with("s", "status", json!("maybe")), 400, "invalid_value", "/status"),
        ("unknown field", with("u", "colour", json!("red")), 400, "unknown_field", "/colour"),
        ("mistyped optional", with("o", "input_tokens", json!("10")), 400, "wrong_type", "/input_tokens"),
        ("batch, third bad", serde_json::to_vec(&batch_with_one_bad).unwrap(), 400, "invalid_value", "/2/latency_ms"),
        ("ndjson, second bad", ndjson_bad.into_bytes(), 400, "malformed_json", "/1"),
        ("invalid UTF-8", b"{\"agent_id\": \"\xff\xfe\"}".to_vec(), 400, "invalid_utf8", ""),
        ("not an object", b"42".to_vec(), 400, "not_an_object", ""),
        ("empty", Vec::new(), 400, "empty_body", ""),
    ];
    for (name, body, status, code, field) in cases {
        let (s, v) = srv.post_json("/v1/events", Some(&ing), &body);
        assert_eq!(s, status, "{name}: {v}");
        assert_eq!(v["error"]["code"], code, "{name}: {v}");
        assert_eq!(v["error"]["field"], field, "{name}: {v}");
        assert!(!v["error"]["message"].as_str().unwrap().is_empty(), "{name}");
    }

    // 10 MB with a Content-Length: refused before it is read.
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ing}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        10 * 1024 * 1024
    );
    let (s, b) = send_big(&srv, &head, 10 * 1024 * 1024);
    assert_eq!(s, 413, "{b}");
    // 10 MB chunked (no length): refused once the limit is passed.
    let mut chunked = format!("POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ing}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").into_bytes();
    for _ in 0..160 {
        chunked.extend_from_slice(format!("{:x}\r\n", 65536).as_bytes());
        chunked.extend(std::iter::repeat_n(b' ', 65536));
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let mut s2 = TcpStream::connect(srv.addr).unwrap();
    s2.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let _ = s2.write_all(&chunked);
    assert_eq!(read_response(&mut s2).0, 413);

    // A slow client: half a body, then nothing; answered 408 after request_timeout_ms while
    // others are served.
    let mut slow = TcpStream::connect(srv.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let t0 = Instant::now();
    slow.write_all(
        format!(
            "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ing}\r\nContent-Length: 100\r\n\r\n{{\"times"
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(srv.get_json("/healthz", None)["status"], "ok");
    let (s, b) = read_response(&mut slow);
    assert_eq!(s, 408, "{b}");
    assert!(t0.elapsed() >= Duration::from_millis(400));

    // Nothing of any refused request is stored; the server is healthy.
    let ov = srv.get_json("/v1/metrics/overview", Some(&read));
    assert_eq!((ov["runs"].as_u64(), ov["spend_usd"].as_f64()), (Some(1), Some(0.5)), "{ov}");
    assert_eq!(srv.get_json("/healthz", None)["status"], "ok");
    // A retry of a stored event is not stored again.
    let (s, v) =
        srv.post_json("/v1/events", Some(&ing), &serde_json::to_vec(&json!([good("ok-1"), good("ok-1")])).unwrap());
    assert_eq!((s, v["accepted"].as_u64(), v["duplicates"].as_u64()), (200, Some(0), Some(2)), "{v}");
    assert_eq!(srv.get_json("/v1/metrics/overview", Some(&read))["runs"], 1);
    // Bad query parameters are 400 too.
    let (s, b) = srv.call("GET", "/v1/metrics/overview?window_hours=0", Some(&read), b"");
    assert_eq!(s, 400, "{b}");
    let (s, b) = srv.call("GET", "/v1/failures/recent?limit=abc", Some(&read), b"");
    assert_eq!(s, 400, "{b}");
}
