//! Real processes: `cpctl route` from 12 concurrent processes against one hard budget never
//! overspends (the store's file lock makes reserve + PROMPT_SENT atomic across processes), every
//! refusal exits 2, and `cpctl ledger check --dangling` / `cpctl budget show` agree.

use std::process::Command;

use cp_kernel::{
    BudgetState, LedgerQuery, LedgerSet, LimitConfig, PromptRouter, RouterOptions, ScopeKey, testkit::TempPlane,
};
use serde_json::json;

use cp_kernel::testkit::{router_test_configs, test_contract, test_secret, write_router_configs};

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn cpctl(tp: &TempPlane) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cpctl"));
    c.arg("--root")
        .arg(tp.plane.root())
        .env("CP_AUTH_SECRET", SECRET)
        .env_remove("CP_AUTH_SECRET_FILE")
        .env_remove("CP_AUTH_TOKEN");
    c
}

#[test]
fn concurrent_processes_never_overspend_and_refusals_exit_2() {
    let tp = TempPlane::new();
    let (r, b, p) = router_test_configs();
    write_router_configs(&tp, &r, &b, &p);
    // The token goes to child processes that read the real clock, so it is issued on the real
    // clock (relative to now): a fixed instant would make the test expire with the calendar.
    let router = PromptRouter::open(&tp.plane, RouterOptions::new().auth_secret(test_secret())).unwrap();
    let (tok, _) = router.issue_token("ops", &["operator".into()], "acme", Some(86_400)).unwrap();
    const LIMIT: u64 = 500;
    let limit = LimitConfig { max_tokens: None, max_cost_micros: Some(LIMIT), warn_threshold_pct: 100 };
    router.allocate(&tok, &ScopeKey::tenant("acme"), limit).unwrap();
    drop(router);
    let dir = tp.dir.path();
    std::fs::write(dir.join("contract.json"), serde_json::to_vec(&test_contract()).unwrap()).unwrap();
    let req = json!({"contract": "contract.json", "context": "twelve packages", "input": {"question": "how many?"},
                     "provenance": {"tenant_id": "acme", "session_id": "s1"}});
    std::fs::write(dir.join("req.json"), serde_json::to_vec(&req).unwrap()).unwrap();
    let children: Vec<_> = (0..12)
        .map(|_| {
            cpctl(&tp)
                .args(["route", "--json", "--request"])
                .arg(dir.join("req.json"))
                .arg("--token")
                .arg(&tok)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ok = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        match out.status.code() {
            Some(0) => ok += 1,
            // `--json`: the refusal is one JSON object on stdout, with its code.
            Some(2) => {
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(v["error"]["code"], "BUDGET_EXHAUSTED", "{v}");
            }
            other => panic!("exit {other:?}: {}", String::from_utf8_lossy(&out.stderr)),
        }
    }
    assert!(ok >= 1);
    let store = LedgerSet::new(&tp.plane).open("HO1/prompts").unwrap();
    let entries = store.query(&LedgerQuery::default()).unwrap();
    let state = BudgetState::from_entries(&entries);
    let t = &state.scopes["tenant/acme"];
    assert!(t.spent_micros <= LIMIT, "spent {} > {LIMIT}", t.spent_micros);
    let sum: u64 = entries
        .iter()
        .filter(|e| e.event_type == "PROMPT_RECEIVED")
        .map(|e| e.metadata["cost_micros"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, t.spent_micros);
    assert_eq!(entries.iter().filter(|e| e.event_type == "PROMPT_RECEIVED").count(), ok);
    assert_eq!(entries.iter().filter(|e| e.event_type == "PROMPT_REJECTED").count(), 12 - ok);
    // No dangling prompts: exit 0. Budget show through the CLI agrees with the ledger.
    let out = cpctl(&tp).args(["ledger", "check", "--dangling", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = cpctl(&tp).args(["budget", "show", "--tenant", "acme", "--json", "--token", &tok]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["scopes"]["tenant/acme"]["spent_micros"], t.spent_micros);
    // Another tenant's budget: refused (exit 2) and logged.
    let out = cpctl(&tp).args(["budget", "show", "--tenant", "other", "--token", &tok]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let last = store.query(&LedgerQuery::default()).unwrap().pop().unwrap();
    assert_eq!(last.event_type, "ACCESS_DENIED");
}
