//! The HTTP providers against a real HTTP server on 127.0.0.1 started by the test (a
//! `TcpListener` thread serving canned responses), through the real `ureq` transport.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cp_kernel::{
    Anthropic, HttpTransport, ManualClock, OpenAiCompatible, PromptRouter, Provider, ProviderErrorCode,
    ProviderRequest, RouterOptions, UreqTransport,
};
use serde_json::{Value, json};

use crate::router_support::*;

/// A canned reply: status, extra headers, body, and a delay before answering.
#[derive(Clone)]
struct Canned {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay_ms: u64,
}

fn canned(status: u16, body: Value) -> Canned {
    Canned { status, headers: vec![], body: body.to_string(), delay_ms: 0 }
}

/// What the server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Value,
}

/// Serves `replies` in order, one per connection; returns the base URL and what it saw.
fn serve(replies: Vec<Canned>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for reply in replies {
            let Ok((stream, _)) = listener.accept() else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut headers = Vec::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let line = line.trim_end().to_string();
                if line.is_empty() {
                    break;
                }
                let (k, v) = line.split_once(':').unwrap();
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                if k == "content-length" {
                    len = v.parse().unwrap();
                }
                headers.push((k, v));
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            seen2.lock().unwrap().push(Seen {
                request_line: request_line.trim_end().to_string(),
                headers,
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            });
            std::thread::sleep(Duration::from_millis(reply.delay_ms));
            let mut out =
                format!("HTTP/1.1 {} X\r\ncontent-type: application/json\r\nconnection: close\r\n", reply.status);
            for (k, v) in &reply.headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str(&format!("content-length: {}\r\n\r\n{}", reply.body.len(), reply.body));
            let mut s = stream;
            let _ = s.write_all(out.as_bytes());
        }
    });
    (base, seen)
}

fn preq(timeout_ms: u64) -> ProviderRequest {
    cp_kernel::testkit::provider_request("m-1", "hello", 50, 0.3, timeout_ms)
}

fn transport() -> Arc<dyn HttpTransport> {
    Arc::new(UreqTransport::new(1 << 20))
}

fn openai_ok() -> Value {
    json!({"id": "x", "model": "m-1-2026", "choices": [{"index": 0, "message": {"role": "assistant", "content": "{\"answer\": \"hi\"}"}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 21, "completion_tokens": 7, "total_tokens": 28, "prompt_tokens_details": {"cached_tokens": 16}}})
}

#[test]
fn openai_success_maps_usage_including_cached_tokens() {
    let (base, seen) = serve(vec![canned(200, openai_ok())]);
    let p = OpenAiCompatible::new("openai", format!("{base}/v1"), Some("sk-test".into()), transport());
    let r = p.complete(&preq(5_000)).unwrap();
    assert_eq!(r.text, "{\"answer\": \"hi\"}");
    assert_eq!((r.usage.input_tokens, r.usage.output_tokens, r.usage.cached_input_tokens), (21, 7, 16));
    assert_eq!(r.finish_reason, "stop");
    assert_eq!(r.model, "m-1-2026");
    let s = seen.lock().unwrap()[0].clone();
    assert_eq!(s.request_line, "POST /v1/chat/completions HTTP/1.1");
    assert!(s.headers.contains(&("authorization".into(), "Bearer sk-test".into())));
    assert_eq!(s.body["model"], "m-1");
    assert_eq!(s.body["max_tokens"], 50);
    assert_eq!(s.body["temperature"], 0.3);
    assert_eq!(s.body["messages"][0], json!({"role": "user", "content": "hello"}));
}

#[test]
fn openai_error_statuses_map_to_codes() {
    let mut r429 = canned(429, json!({"error": {"message": "slow down"}}));
    r429.headers.push(("retry-after", "7".into()));
    let replies = vec![
        canned(401, json!({"error": "bad key"})),
        canned(403, json!({"error": "no"})),
        r429,
        canned(500, json!({"error": "boom"})),
        canned(400, json!({"error": "bad"})),
        Canned { status: 200, headers: vec![], body: "not json".into(), delay_ms: 0 },
    ];
    let (base, _) = serve(replies);
    let p = OpenAiCompatible::new("openai", base, None, transport());
    let want = [
        ProviderErrorCode::Auth,
        ProviderErrorCode::Forbidden,
        ProviderErrorCode::RateLimited,
        ProviderErrorCode::ServerError,
        ProviderErrorCode::BadRequest,
        ProviderErrorCode::BadResponse,
    ];
    for code in want {
        let e = p.complete(&preq(5_000)).unwrap_err();
        assert_eq!(e.code, code, "{e}");
        if code == ProviderErrorCode::RateLimited {
            assert_eq!(e.retry_after_ms, Some(7_000));
            assert_eq!(e.status, Some(429));
        }
    }
}

#[test]
fn timeout_and_refused_connection_map_to_codes() {
    let slow = Canned { delay_ms: 1_500, ..canned(200, openai_ok()) };
    let (base, _) = serve(vec![slow]);
    let p = OpenAiCompatible::new("openai", base, None, transport());
    assert_eq!(p.complete(&preq(200)).unwrap_err().code, ProviderErrorCode::Timeout);
    // A port with nothing listening.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let p = OpenAiCompatible::new("openai", format!("http://127.0.0.1:{port}"), None, transport());
    assert_eq!(p.complete(&preq(2_000)).unwrap_err().code, ProviderErrorCode::Unavailable);
}

#[test]
fn anthropic_messages_success_and_overload() {
    let ok = json!({"id": "msg", "type": "message", "model": "claude-x", "role": "assistant",
        "content": [{"type": "text", "text": "part one "}, {"type": "text", "text": "part two"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 30, "cache_creation_input_tokens": 2}});
    let (base, seen) = serve(vec![canned(200, ok), canned(529, json!({"type": "error"}))]);
    let p = Anthropic::new("anthropic", base, Some("ak".into()), "2023-06-01", transport());
    let r = p.complete(&preq(5_000)).unwrap();
    assert_eq!(r.text, "part one part two");
    assert_eq!((r.usage.input_tokens, r.usage.output_tokens, r.usage.cached_input_tokens), (42, 5, 30));
    assert_eq!(r.finish_reason, "end_turn");
    let s = seen.lock().unwrap()[0].clone();
    assert_eq!(s.request_line, "POST /v1/messages HTTP/1.1");
    assert!(s.headers.contains(&("x-api-key".into(), "ak".into())));
    assert!(s.headers.contains(&("anthropic-version".into(), "2023-06-01".into())));
    assert_eq!(s.body["max_tokens"], 50);
    assert_eq!(p.complete(&preq(5_000)).unwrap_err().code, ProviderErrorCode::ServerError);
}

#[test]
fn router_built_openai_provider_retries_a_429_then_settles_real_usage() {
    let mut r429 = canned(429, json!({"error": "slow"}));
    r429.headers.push(("retry-after", "1".into()));
    let (base, seen) = serve(vec![r429, canned(200, openai_ok())]);
    let (mut r, b, mut p) = test_configs();
    r["default_provider"] = json!("openai");
    r["providers"]["openai"]["base_url"] = json!(base);
    r["providers"]["openai"]["base_url_env"] = json!("CP_TEST_UNSET_BASE_URL");
    r["providers"]["openai"]["default_model"] = json!("m-1");
    p["versions"][0]["prices"] = json!([{"provider": "openai", "model": "m-1", "input_per_mtok": 1_000_000,
        "cached_input_per_mtok": 500_000, "output_per_mtok": 3_000_000}]);
    let tp = cp_kernel::testkit::TempPlane::new();
    write_configs(&tp, &r, &b, &p);
    let clock = Arc::new(ManualClock::new(T0));
    let router = PromptRouter::open(&tp.plane, RouterOptions::new().clock(clock).auth_secret(secret())).unwrap();
    let tok = router.issue_token("t", &["agent".into()], "A", None).unwrap().0;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(router.route(request("A", &tok)).map(|r| (r.attempts, r.usage, r.cost_micros, r.provider)));
    });
    let (attempts, usage, cost, provider) = rx.recv_timeout(Duration::from_secs(60)).unwrap().unwrap();
    assert_eq!(provider, "openai");
    assert_eq!(attempts, 2);
    assert_eq!(usage.cached_input_tokens, 16);
    // 5 uncached at 1, 16 cached at 0.5, 7 output at 3 micro-units per token.
    assert_eq!(cost, 5 + 8 + 21);
    assert_eq!(seen.lock().unwrap().len(), 2);
}
