//! Budget alerts of `cpctl serve` to a loopback Slack-style receiver: crossing the soft and then
//! the hard threshold sends one message each, also across a restart of the server in the same
//! period; a receiver that fails at first gets the alert once, after retries.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::ops_support::{Server, ops_plane, token};

/// A receiver answering `fail_first` requests with 500, then 200; returns the texts it accepted.
fn receiver(fail_first: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        let mut seen = 0;
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            seen += 1;
            let status = if seen <= fail_first { "500 Internal Server Error" } else { "200 OK" };
            if seen > fail_first {
                let v: Value = serde_json::from_slice(&body).unwrap();
                g.lock().unwrap().push(v["text"].as_str().unwrap().to_string());
            }
            let _ = s
                .write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").as_bytes());
        }
    });
    (url, got)
}

fn spend(srv: &Server, id: &str, usd: f64) {
    let e = json!({"id": id, "timestamp": format!("{:.3}", jiff::Timestamp::now()), "agent_id": "a", "workflow_id": "w",
        "status": "success", "latency_ms": 1, "cost_usd": usd});
    let (s, v) = srv.post_json("/v1/events", Some(&token("acme", &["ingest"])), e.to_string().as_bytes());
    assert_eq!(s, 200, "{v}");
}

fn wait_for(got: &Arc<Mutex<Vec<String>>>, n: usize) -> Vec<String> {
    let t0 = Instant::now();
    while got.lock().unwrap().len() < n && t0.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    got.lock().unwrap().clone()
}

#[test]
fn soft_and_hard_alerts_are_sent_once_also_across_a_restart() {
    let tp = ops_plane();
    let (url, got) = receiver(0);
    let args = ["--webhook-url", url.as_str(), "--daily-budget-usd", "1", "--check-interval-s", "0.1"];
    let srv = Server::start(&tp, &args);
    spend(&srv, "e1", 0.5);
    std::thread::sleep(Duration::from_millis(300));
    assert!(got.lock().unwrap().is_empty(), "below the soft threshold nothing is sent");
    spend(&srv, "e2", 0.4);
    let texts = wait_for(&got, 1);
    assert_eq!(texts.len(), 1);
    assert!(texts[0].contains("(soft)") && texts[0].contains("acme") && texts[0].contains("$0.90"), "{}", texts[0]);
    spend(&srv, "e3", 0.2);
    let texts = wait_for(&got, 2);
    assert!(texts[1].contains("(hard)") && texts[1].contains("$1.00"), "{}", texts[1]);
    assert!(srv.terminate());

    // Restart in the same period: the ledgered ALERT_SENT entries keep it at two messages.
    let srv = Server::start(&tp, &args);
    spend(&srv, "e4", 0.1);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(got.lock().unwrap().len(), 2, "{:?}", got.lock().unwrap());
    drop(srv);
}

#[test]
fn a_failing_webhook_is_retried_and_delivers_once() {
    let tp = ops_plane();
    let (url, got) = receiver(2);
    let srv =
        Server::start(&tp, &["--webhook-url", url.as_str(), "--daily-budget-usd", "1", "--check-interval-s", "0.1"]);
    spend(&srv, "e1", 2.0);
    let texts = wait_for(&got, 2);
    std::thread::sleep(Duration::from_millis(500));
    let texts_after = got.lock().unwrap().clone();
    assert_eq!(texts, texts_after);
    assert_eq!(texts.len(), 2, "soft and hard, each once: {texts:?}");
}
