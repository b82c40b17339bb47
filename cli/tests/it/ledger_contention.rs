//! Real processes (issue 9 §3): 8 processes × 25 `cpctl route` calls against one SQLite plane —
//! every call is logged (PROMPT_SENT and PROMPT_RECEIVED for each of the 200), none fails with
//! `database is locked`: writers wait the layout's `ledger.busy_timeout_ms` and retry
//! `ledger.busy_retries` times.

use std::process::{Command, Stdio};

use cp_kernel::testkit::{TempPlane, test_contract};
use cp_kernel::{LedgerQuery, LedgerSet};
use serde_json::json;

use crate::support::{SECRET, routable_plane};

/// A plane with the router configs, a token for `acme`, a contract and a request beside it.
fn routed_plane() -> (TempPlane, String) {
    let (tp, tok) = routable_plane("ops", "operator");
    let dir = tp.dir.path();
    std::fs::write(dir.join("contract.json"), serde_json::to_vec(&test_contract()).unwrap()).unwrap();
    let req = json!({"contract": "contract.json", "context": "c", "input": {"question": "q?"},
                     "provenance": {"tenant_id": "acme", "session_id": "s1"}});
    std::fs::write(dir.join("req.json"), serde_json::to_vec(&req).unwrap()).unwrap();
    (tp, tok)
}

fn route(tp: &TempPlane, tok: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cpctl"));
    c.arg("--root")
        .arg(tp.plane.root())
        .args(["route", "--json", "--request"])
        .arg(tp.dir.path().join("req.json"))
        .arg("--token")
        .arg(tok)
        .env("CP_AUTH_SECRET", SECRET)
        .env_remove("CP_AUTH_SECRET_FILE")
        .env_remove("CP_AUTH_TOKEN");
    c
}

/// The prompts ledger locked by another process beyond every retry (layout: no wait, no
/// retry): the route fails with `LEDGER_UNAVAILABLE`, exit 3, and the prompt is not sent —
/// no `PROMPT_SENT`, no `PROMPT_RECEIVED`.
#[test]
fn a_ledger_locked_beyond_every_retry_fails_the_route_before_sending() {
    let (tp, tok) = routed_plane();
    let out = route(&tp, &tok).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut layout: serde_json::Value = serde_json::from_str(cp_kernel::DEFAULT_LAYOUT_JSON).unwrap();
    layout["ledger"]["busy_timeout_ms"] = json!(0);
    layout["ledger"]["busy_retries"] = json!(0);
    std::fs::write(tp.plane.root().join(cp_kernel::LAYOUT_PATH), serde_json::to_vec(&layout).unwrap()).unwrap();
    let set = LedgerSet::new(&tp.plane);
    let prompts = set.path_of(&cp_kernel::LedgerName::parse("HO1/prompts").unwrap());
    let before = set.open("HO1/prompts").unwrap().len().unwrap();
    let holder = rusqlite::Connection::open(&prompts).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let out = route(&tp, &tok).output().unwrap();
    holder.execute_batch("COMMIT").unwrap();
    // With --json the error is one JSON object on stdout.
    let err = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("LEDGER_UNAVAILABLE"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(set.open("HO1/prompts").unwrap().len().unwrap(), before, "something was logged");
}

const PROCESSES: usize = 8;
const ROUTES_EACH: usize = 25;

#[test]
fn eight_processes_times_25_routes_are_all_logged() {
    let (tp, tok) = routed_plane();
    let workers: Vec<_> = (0..PROCESSES)
        .map(|_| {
            let mut cmd = route(&tp, &tok);
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                for _ in 0..ROUTES_EACH {
                    let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().unwrap();
                    if !out.status.success() {
                        failures.push(format!("{:?}: {}", out.status.code(), String::from_utf8_lossy(&out.stderr)));
                    }
                }
                failures
            })
        })
        .collect();
    let failures: Vec<String> = workers.into_iter().flat_map(|w| w.join().unwrap()).collect();
    assert!(failures.is_empty(), "{} of {} routes failed: {failures:#?}", failures.len(), PROCESSES * ROUTES_EACH);
    let set = LedgerSet::new(&tp.plane);
    let entries = set.open("HO1/prompts").unwrap().query(&LedgerQuery::default()).unwrap();
    let count = |t: &str| entries.iter().filter(|e| e.event_type == t).count();
    assert_eq!(count("PROMPT_SENT"), PROCESSES * ROUTES_EACH);
    assert_eq!(count("PROMPT_RECEIVED"), PROCESSES * ROUTES_EACH);
    assert!(cp_kernel::verify_plane(&set).unwrap().iter().all(|r| r.ok));
}
