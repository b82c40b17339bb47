//! Real processes: a failing primary trips a degrade profile in one `cpctl route` process, and a
//! second process routes under that profile (the breaker and the profile are derived from the
//! ledger, not held in memory); an operator's degrade and resume are logged.

use std::process::Command;

use cp_kernel::testkit::{TempPlane, router_test_configs, test_contract, write_router_configs};
use cp_kernel::{LedgerEntry, LedgerQuery, LedgerSet};
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

fn entries(tp: &TempPlane, t: &str) -> Vec<LedgerEntry> {
    let store = LedgerSet::new(&tp.plane).open("HO1/prompts").unwrap();
    store.query(&LedgerQuery::default()).unwrap().into_iter().filter(|e| e.event_type == t).collect()
}

#[test]
fn a_failing_primary_trips_the_profile_in_one_process_and_another_routes_under_it() {
    let (tp, tok) = routable_plane("ops", "operator");
    let (mut r, b, p) = router_test_configs();
    r["providers"]["openai"]["circuit_breaker"] =
        json!({"failure_threshold": 2, "recovery_timeout_ms": 3_600_000, "half_open_probes": 1});
    r["degrade_profiles"] = json!([
        {"name": "failover", "triggers": [{"kind": "breaker_open", "provider": "openai"}],
         "actions": {"provider": "mock", "max_tokens": 60}},
        {"name": "economy", "actions": {"max_tokens": 20}}
    ]);
    write_router_configs(&tp, &r, &b, &p);
    // Nothing listens on this port: every call to `openai` fails at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tp.dir.path();
    std::fs::write(dir.join("contract.json"), serde_json::to_vec(&test_contract()).unwrap()).unwrap();
    let req = json!({"contract": "contract.json", "context": "degrade", "input": {"question": "still there?"},
                     "provenance": {"tenant_id": "acme", "session_id": "s1"}});
    std::fs::write(dir.join("req.json"), serde_json::to_vec(&req).unwrap()).unwrap();
    let route = || {
        cpctl(&tp)
            .args(["route", "--json", "--provider", "openai", "--request"])
            .arg(dir.join("req.json"))
            .args(["--token", &tok])
            .env("CP_OPENAI_BASE_URL", format!("http://127.0.0.1:{port}"))
            .env("CP_OPENAI_API_KEY", "test-key")
            .output()
            .unwrap()
    };
    let first = route();
    assert_eq!(first.status.code(), Some(2), "{}", String::from_utf8_lossy(&first.stdout));
    let entered = entries(&tp, "DEGRADE_ENTERED");
    assert_eq!(entered.len(), 1, "the failing process entered the profile");
    assert_eq!(entered[0].metadata["trigger"], json!({"kind": "breaker_open", "provider": "openai"}));
    assert_eq!(entered[0].metadata["actor"], "system");
    // A second process: its own breakers are fresh, yet it routes under the profile.
    let second = route();
    assert_eq!(second.status.code(), Some(0), "{}", String::from_utf8_lossy(&second.stderr));
    let v: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(v["provider"], "mock", "{v}");
    let sent = entries(&tp, "PROMPT_SENT").pop().unwrap();
    assert_eq!(
        (sent.metadata["degrade_profile"].as_str(), sent.metadata["max_tokens"].as_u64()),
        (Some("failover"), Some(60))
    );
    assert_eq!(entries(&tp, "DEGRADE_ENTERED").len(), 1);
    let out = cpctl(&tp).args(["router", "status", "--json"]).output().unwrap();
    let st: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((st["active"]["profile"].as_str(), st["breakers"]["openai"].as_str()), (Some("failover"), Some("open")));
    // An operator takes over, then hands back: each switch logged with the actor.
    let out = cpctl(&tp)
        .args(["router", "degrade", "--profile", "economy", "--reason", "provider incident", "--operator", "ann"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let exited = entries(&tp, "DEGRADE_EXITED");
    assert_eq!(
        (exited[0].metadata["profile"].as_str(), exited[0].metadata["actor"].as_str()),
        (Some("failover"), Some("operator:ann"))
    );
    let entered = entries(&tp, "DEGRADE_ENTERED").pop().unwrap();
    assert_eq!(
        (entered.metadata["profile"].as_str(), entered.reason.as_deref()),
        (Some("economy"), Some("provider incident"))
    );
    let out = cpctl(&tp).args(["router", "resume", "--reason", "over", "--operator", "ann"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(entries(&tp, "DEGRADE_EXITED").pop().unwrap().metadata["profile"], "economy");
    // An unknown profile: a clear error, nothing written.
    let n = entries(&tp, "DEGRADE_ENTERED").len();
    let out = cpctl(&tp)
        .args(["router", "degrade", "--profile", "ghost", "--reason", "x", "--operator", "ann"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown degrade profile \"ghost\""));
    assert_eq!(entries(&tp, "DEGRADE_ENTERED").len(), n);
}
