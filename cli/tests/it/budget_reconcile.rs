//! Real processes: prompts of two work orders routed from concurrent `cpctl route` processes and
//! compensating entries from concurrent `cpctl budget adjust` processes leave nothing for
//! `cpctl budget reconcile` to report (exit 0); `cpctl cost` decomposes one work order; a
//! ledger written behind the budgeter's back (a reused reservation id) is reported (exit 2).

use std::process::{Command, Stdio};

use cp_kernel::testkit::{TempPlane, test_contract};
use cp_kernel::{LedgerQuery, LedgerSet, NewEntry};
use serde_json::{Value, json};

use crate::support::{SECRET, routable_plane};

fn cpctl(tp: &TempPlane) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cpctl"));
    c.arg("--root")
        .arg(tp.plane.root())
        .env("CP_AUTH_SECRET", SECRET)
        .env_remove("CP_AUTH_SECRET_FILE")
        .env_remove("CP_AUTH_TOKEN");
    c
}

fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {} / {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

fn write_request(tp: &TempPlane, work_order: &str) -> std::path::PathBuf {
    let dir = tp.dir.path();
    std::fs::write(dir.join("contract.json"), serde_json::to_vec(&test_contract()).unwrap()).unwrap();
    let req = json!({"contract": "contract.json", "context": "reconcile me", "input": {"question": "what did it cost?"},
                     "provenance": {"tenant_id": "acme", "session_id": "s1", "work_order_id": work_order}});
    let path = dir.join(format!("req-{work_order}.json"));
    std::fs::write(&path, serde_json::to_vec(&req).unwrap()).unwrap();
    path
}

fn wait_all(children: Vec<std::process::Child>) {
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

fn received_ids(tp: &TempPlane, work_order: &str) -> Vec<String> {
    let store = LedgerSet::new(&tp.plane).open("HO1/prompts").unwrap();
    store
        .query(&LedgerQuery::default())
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "PROMPT_RECEIVED" && e.work_order_id.as_deref() == Some(work_order))
        .map(|e| e.metadata["request_id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn concurrent_routes_and_adjustments_reconcile_and_cost_decomposes() {
    let (tp, tok) = routable_plane("ops", "operator");
    let (a, b) = (write_request(&tp, "WO-A"), write_request(&tp, "WO-B"));
    let spawn = |args: Vec<String>| {
        cpctl(&tp).args(args).arg("--token").arg(&tok).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    };
    let route =
        |p: &std::path::Path| vec!["route".into(), "--json".into(), "--request".into(), p.display().to_string()];
    wait_all((0..6).map(|i| spawn(route(if i % 2 == 0 { &a } else { &b }))).collect());
    let ids = received_ids(&tp, "WO-A");
    assert_eq!(ids.len(), 3);
    // Two adjustments of WO-A's requests, from two processes at once.
    let adjust = |id: &str, micros: i64| -> Vec<String> {
        ["budget", "adjust", "--tenant", "acme", "--request", id, "--reason", "invoice differs"]
            .iter()
            .map(ToString::to_string)
            .chain([format!("--delta-micros={micros}")])
            .collect()
    };
    wait_all(vec![spawn(adjust(&ids[0], -1)), spawn(adjust(&ids[1], 25))]);
    let out = cpctl(&tp).args(["budget", "reconcile", "--json"]).output().unwrap();
    let r = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{r}");
    assert_eq!(r["differences"], json!([]));
    assert!(r["scopes_checked"].as_u64().unwrap() >= 4, "{r}");
    // What WO-A cost: three prompts, settled cost plus the two adjustments.
    let out = cpctl(&tp)
        .args(["cost", "--tenant", "acme", "--work-order", "WO-A", "--json", "--token", &tok])
        .output()
        .unwrap();
    let c = json_of(&out);
    assert_eq!(out.status.code(), Some(0), "{c}");
    assert_eq!((c["prompts_sent"].as_u64(), c["prompts_received"].as_u64()), (Some(3), Some(3)));
    assert_eq!(c["adjusted_micros"], 24);
    assert_eq!(c["adjustments"].as_array().unwrap().len(), 2);
    let settled = c["settled_micros"].as_i64().unwrap();
    assert!(settled > 0);
    assert_eq!(c["total_micros"].as_i64().unwrap(), settled + 24);
    let line = &c["by_model"][0];
    assert_eq!((line["provider"].as_str(), line["prompts"].as_u64()), (Some("mock"), Some(3)));
    // The work order's budget scope counts the adjustments too.
    let out = cpctl(&tp).args(["budget", "show", "--tenant", "acme", "--json", "--token", &tok]).output().unwrap();
    let shown = json_of(&out);
    assert_eq!(shown["scopes"]["work_order/acme/WO-A"]["spent_micros"].as_i64(), Some(settled + 24));
    // Another tenant's work order: refused (exit 2).
    let out = cpctl(&tp).args(["cost", "--tenant", "other", "--work-order", "WO-A", "--token", &tok]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_ledger_written_behind_the_budgeters_back_is_reported_with_scope_and_amount() {
    let (tp, _tok) = routable_plane("ops", "operator");
    let store = LedgerSet::new(&tp.plane).open("HO1/prompts").unwrap();
    let res = json!({"op": "reserve", "reservation_id": "dup", "scopes": ["tenant/acme"], "tokens": 10, "micros": 20,
                     "provider": "mock", "at_ms": 1, "price_book_version": "v"});
    store.append(NewEntry::new("PROMPT_SENT").meta("budget", res.clone())).unwrap();
    store.append(NewEntry::new("PROMPT_SENT").meta("budget", res)).unwrap();
    let settle =
        json!({"op": "settle", "reservation_id": "dup", "scopes": ["tenant/acme"], "tokens": 10, "micros": 20});
    store.append(NewEntry::new("PROMPT_RECEIVED").meta("budget", settle)).unwrap();
    drop(store);
    let out = cpctl(&tp).args(["budget", "reconcile", "--json"]).output().unwrap();
    let r = json_of(&out);
    assert_eq!(out.status.code(), Some(2), "{r}");
    assert_eq!(r["differences"][0]["scope"], "tenant/acme");
    assert_eq!(r["differences"][0]["field"], "reserved_tokens");
    assert_eq!(r["differences"][0]["delta"], 10);
    let out = cpctl(&tp).args(["budget", "reconcile", "--scope", "tenant/acme"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("tenant/acme reserved_micros: ledger 0, budgeter 20 (off by 20)"), "{text}");
    // A scope without a difference: exit 0.
    let out = cpctl(&tp).args(["budget", "reconcile", "--scope", "session/acme/none"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}
