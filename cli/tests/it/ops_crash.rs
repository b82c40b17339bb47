//! SIGKILL of `cpctl serve` during concurrent ingest: after a restart every event that was
//! answered 2xx is stored exactly once, nothing unsent appears, and the cost facts an
//! interrupted request left out are projected (the spend equals the stored events' costs).

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::ops_support::{Server, ops_plane, token, try_call};

#[test]
fn every_acknowledged_event_survives_a_sigkill_exactly_once() {
    let tp = ops_plane();
    let srv = Server::start(&tp, &[]);
    let ing = token("acme", &["ingest"]);
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let cost_of = Arc::new(Mutex::new(HashMap::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicUsize::new(0));
    let addr = srv.addr;
    let threads: Vec<_> = (0..4)
        .map(|c| {
            let (acked, cost_of, stop, requests, ing) = (acked.clone(), cost_of.clone(), stop.clone(), requests.clone(), ing.clone());
            std::thread::spawn(move || {
                for b in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let batch: Vec<Value> = (0..10)
                        .map(|i| {
                            let id = format!("c{c}-b{b}-{i}");
                            let cost = f64::from((c * 100 + i) as u32) / 1000.0;
                            cost_of.lock().unwrap().insert(id.clone(), cost);
                            json!({"id": id, "run_id": id, "timestamp": format!("{:.3}", jiff::Timestamp::now()),
                                "agent_id": "a", "workflow_id": "w", "status": "success", "latency_ms": 3, "cost_usd": cost})
                        })
                        .collect();
                    match try_call(addr, "POST", "/v1/events", Some(&ing), &serde_json::to_vec(&batch).unwrap()) {
                        Ok((200, _)) => {
                            let mut a = acked.lock().unwrap();
                            batch.iter().for_each(|e| {
                                a.insert(e["id"].as_str().unwrap().to_string());
                            });
                            requests.fetch_add(1, Ordering::SeqCst);
                        }
                        _ => break,
                    }
                }
            })
        })
        .collect();
    while requests.load(Ordering::SeqCst) < 40 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    srv.kill();
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 400);

    let srv = Server::start(&tp, &[]);
    let out = Command::new(env!("CARGO_BIN_EXE_cpctl"))
        .arg("--root")
        .arg(tp.plane.root())
        .args(["--json", "ledger", "query", "--ledger", "HO1/ops-events-t-acme", "--event-type", "OPS_EVENTS"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries = v[0]["entries"].as_array().or_else(|| v["entries"].as_array()).unwrap().clone();
    let mut stored: HashMap<String, usize> = HashMap::new();
    for e in entries.iter().flat_map(|e| e["metadata"]["events"].as_array().unwrap()) {
        *stored.entry(e["id"].as_str().unwrap().to_string()).or_default() += 1;
    }
    for id in &acked {
        assert_eq!(stored.get(id), Some(&1), "acknowledged event {id} stored {:?} times", stored.get(id));
    }
    let costs = cost_of.lock().unwrap();
    assert!(stored.keys().all(|id| costs.contains_key(id)), "only sent events are stored");
    assert!(stored.values().all(|&n| n == 1), "no event is stored twice");
    let want: f64 = stored.keys().map(|id| costs[id]).sum();
    let ov = srv.get_json("/v1/metrics/overview", Some(&token("acme", &["read"])));
    assert_eq!(ov["runs"].as_u64(), Some(stored.len() as u64));
    assert!((ov["spend_usd"].as_f64().unwrap() - want).abs() < 1e-6, "{ov} vs {want}");
}

#[test]
fn sigterm_finishes_in_flight_requests_and_loses_nothing_acknowledged() {
    let tp = ops_plane();
    let srv = Server::start(&tp, &[]);
    let (ing, addr) = (token("acme", &["ingest"]), srv.addr);
    let acked = Arc::new(AtomicUsize::new(0));
    let a = acked.clone();
    let client = std::thread::spawn(move || {
        for b in 0.. {
            let batch: Vec<Value> = (0..20)
                .map(|i| {
                    json!({"id": format!("b{b}-{i}"), "timestamp": format!("{:.3}", jiff::Timestamp::now()),
                    "agent_id": "a", "workflow_id": "w", "status": "success", "latency_ms": 1, "cost_usd": 0.01})
                })
                .collect();
            match try_call(addr, "POST", "/v1/events", Some(&ing), &serde_json::to_vec(&batch).unwrap()) {
                Ok((200, _)) => {
                    a.fetch_add(20, Ordering::SeqCst);
                }
                _ => break,
            }
        }
    });
    while acked.load(Ordering::SeqCst) < 200 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(srv.terminate(), "SIGTERM exits 0");
    client.join().unwrap();
    let srv = Server::start(&tp, &[]);
    let ov = srv.get_json("/v1/metrics/overview", Some(&token("acme", &["read"])));
    assert_eq!(ov["runs"].as_u64(), Some(acked.load(Ordering::SeqCst) as u64), "{ov}");
}
