//! `cpctl wo` (issue 14 §1) as real processes: the lifecycle end to end (exit 2 on a refusal,
//! which is logged), and processes racing the same transition — exactly one wins.

use std::process::{Command, Output, Stdio};

use cp_kernel::testkit::TempPlane;
use cp_kernel::{LedgerQuery, LedgerSet, SHIPPED_WORK_ORDERS_CONFIG, event};
use serde_json::Value;

use crate::support::{SECRET, routable_plane};

fn wo_plane(role: &str) -> (TempPlane, String) {
    let (tp, tok) = routable_plane("ops", role);
    std::fs::write(tp.plane.root().join("HOT/config/work_orders.yaml"), SHIPPED_WORK_ORDERS_CONFIG).unwrap();
    (tp, tok)
}

fn wo(tp: &TempPlane, tok: &str, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cpctl"));
    c.arg("--root")
        .arg(tp.plane.root())
        .arg("wo")
        .args(args)
        .args(["--token", tok, "--json"])
        .env("CP_AUTH_SECRET", SECRET)
        .env_remove("CP_AUTH_SECRET_FILE")
        .env_remove("CP_AUTH_TOKEN");
    c
}

fn run(tp: &TempPlane, tok: &str, args: &[&str]) -> (Option<i32>, Value) {
    let out: Output = wo(tp, tok, args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{}", String::from_utf8_lossy(&out.stderr));
    (out.status.code(), serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

fn count(tp: &TempPlane, event_type: &str) -> usize {
    let store = LedgerSet::new(&tp.plane).open("HO1/prompts").unwrap();
    let q = LedgerQuery { event_types: vec![event_type.into()], ..LedgerQuery::default() };
    store.query(&q).unwrap().len()
}

#[test]
fn the_lifecycle_from_the_command_line_with_refusals_exiting_2() {
    let (tp, tok) = wo_plane("operator");
    let create = ["create", "--id", "WO-1", "--tenant", "acme", "--title", "Q3 report", "--budget-tokens", "5000"];
    let (code, v) = run(&tp, &tok, &create);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["event_type"], "WO_CREATED");
    assert_eq!(count(&tp, event::BUDGET_ALLOCATED), 1, "the budget scope is allocated");
    let (code, v) = run(&tp, &tok, &["transition", "WO-1", "--to", "completed", "--reason", "skip ahead"]);
    assert_eq!(code, Some(2), "{v}");
    assert!(v.to_string().contains("ILLEGAL_TRANSITION"), "{v}");
    assert_eq!(count(&tp, event::WO_TRANSITION_REFUSED), 1);
    for to in ["dispatched", "executing", "completed"] {
        let (code, v) = run(&tp, &tok, &["transition", "WO-1", "--to", to, "--reason", "go"]);
        assert_eq!(code, Some(0), "{to}: {v}");
        assert_eq!(v["metadata"]["to"], to);
    }
    let (code, v) = run(&tp, &tok, &["show", "WO-1"]);
    assert_eq!((code, v["state"].as_str()), (Some(0), Some("completed")), "{v}");
    let (_, v) = run(&tp, &tok, &["history", "WO-1"]);
    let kinds: Vec<&str> = v.as_array().unwrap().iter().map(|i| i["event_type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["WO_CREATED", "WO_TRANSITION_REFUSED", "WO_TRANSITIONED", "WO_TRANSITIONED", "WO_TRANSITIONED"]);
    let (_, v) = run(&tp, &tok, &["list"]);
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    let q = |extra: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cpctl"));
        c.arg("--root").arg(tp.plane.root()).args(["ledger", "query", "--ledger", "HO1/prompts", "--json"]).args(extra);
        let v: Value = serde_json::from_slice(&c.output().unwrap().stdout).unwrap();
        v[0]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event_type"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(q(&["--policy", "wo.lifecycle", "--decision", "refused"]), ["WO_TRANSITION_REFUSED"]);
    assert_eq!(
        q(&["--policy", "wo.lifecycle", "--decision", "ALLOW", "--limit", "2"]),
        ["WO_CREATED", "WO_TRANSITIONED"]
    );
    assert_eq!(q(&["--policy", "budget.allocation"]), ["BUDGET_ALLOCATED"]);
    let (code, v) = run(&tp, &tok, &["create", "--id", "bad id", "--tenant", "acme", "--title", "x"]);
    assert_eq!(code, Some(2), "an invalid document is a verified no: {v}");
    assert!(v.to_string().contains("/id"), "the error names the field: {v}");
}

#[test]
fn a_token_of_another_tenant_or_no_token_is_denied_and_logged() {
    let (tp, tok) = wo_plane("operator");
    let (code, v) = run(&tp, &tok, &["create", "--id", "WO-1", "--tenant", "globex", "--title", "x"]);
    assert_eq!(code, Some(2), "{v}");
    let (code, v) = run(&tp, "", &["list"]);
    assert_eq!(code, Some(2), "{v}");
    assert_eq!(count(&tp, event::ACCESS_DENIED), 2);
}

const RACERS: usize = 4;
const ROUNDS: usize = 3;

/// `RACERS` processes make the same transition at once, `ROUNDS` times: each time exactly one
/// exits 0 and logs `WO_TRANSITIONED`; every other exits 2 and logs `WO_TRANSITION_REFUSED`
/// (`ILLEGAL_TRANSITION`: the state has moved on under it).
#[test]
fn processes_racing_the_same_transition_exactly_one_wins() {
    let (tp, tok) = wo_plane("operator");
    for round in 0..ROUNDS {
        let id = format!("WO-R{round}");
        let (code, v) = run(&tp, &tok, &["create", "--id", &id, "--tenant", "acme", "--title", "race"]);
        assert_eq!(code, Some(0), "{v}");
        let kids: Vec<_> = (0..RACERS)
            .map(|_| {
                wo(&tp, &tok, &["transition", &id, "--to", "dispatched", "--reason", "race"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let codes: Vec<Option<i32>> = kids.into_iter().map(|k| k.wait_with_output().unwrap().status.code()).collect();
        assert_eq!(codes.iter().filter(|c| **c == Some(0)).count(), 1, "round {round}: {codes:?}");
        assert_eq!(codes.iter().filter(|c| **c == Some(2)).count(), RACERS - 1, "round {round}: {codes:?}");
        assert_eq!(count(&tp, event::WO_TRANSITIONED), round + 1);
        assert_eq!(count(&tp, event::WO_TRANSITION_REFUSED), (round + 1) * (RACERS - 1));
    }
    cp_kernel::testkit::check_chain(LedgerSet::new(&tp.plane).open("HO1/prompts").unwrap().as_ref());
}
