//! Inputs accepted without bounds (issue 9 §2): an empty tenant, a TTL of 0, a warning
//! threshold of 200 %, a 1 MB session id — each refused with a clear error, nothing issued,
//! allocated or routed. Bounds come from the vocabulary (`identifiers`) and the schemas.

use std::process::Command;

use cp_kernel::testkit::{TempPlane, test_contract};
use cp_kernel::{LedgerQuery, LedgerSet};
use serde_json::json;

use crate::support::{SECRET, routable_plane};

fn cpctl(tp: &TempPlane, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cpctl"))
        .arg("--root")
        .arg(tp.plane.root())
        .args(args)
        .env("CP_AUTH_SECRET", SECRET)
        .env_remove("CP_AUTH_SECRET_FILE")
        .env_remove("CP_AUTH_TOKEN")
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn plane() -> (TempPlane, String) {
    routable_plane("ops", "operator")
}

fn count(tp: &TempPlane, ledger: &str, event_type: &str) -> usize {
    let set = LedgerSet::new(&tp.plane);
    let Ok(s) = set.open_existing(ledger) else { return 0 };
    s.query(&LedgerQuery { event_types: vec![event_type.into()], ..Default::default() }).unwrap().len()
}

#[test]
fn unbounded_token_and_budget_inputs_are_refused() {
    let (tp, tok) = plane();
    let issued = |tp: &TempPlane| {
        count(tp, "HO1/prompts", "AUTH_TOKEN_ISSUED") + count(tp, "HOT/governance", "AUTH_TOKEN_ISSUED")
    };
    let before = issued(&tp);
    let long = "t".repeat(129);
    for (args, want) in [
        (vec!["--tenant", "", "--ttl", "60"], "tenant \"\" does not match"),
        (vec!["--tenant", "acme\u{1b}[2J", "--ttl", "60"], "does not match"),
        (vec!["--tenant", long.as_str(), "--ttl", "60"], "is 129 bytes, more than the 128 allowed"),
        (vec!["--tenant", "acme", "--ttl", "0"], "ttl 0 s"),
    ] {
        let mut a = vec!["auth", "issue", "--principal", "alice", "--role", "operator"];
        a.extend(args.iter().copied());
        let (rc, err) = cpctl(&tp, &a);
        assert_ne!(rc, 0, "{a:?}");
        assert!(err.contains(want), "{a:?}: expected {want:?} in {err}");
        assert!(!err.contains("panicked") && !err.contains("Some("), "{err}");
    }
    assert_eq!(issued(&tp), before, "a token was issued");
    let allocated = count(&tp, "HO1/prompts", "BUDGET_ALLOCATED");
    let (rc, err) = cpctl(
        &tp,
        &["budget", "allocate", "--scope", "tenant/acme", "--max-tokens", "10", "--warn-pct", "200", "--token", &tok],
    );
    assert_ne!(rc, 0);
    assert!(err.contains("warn_threshold_pct 200 is not a percentage"), "{err}");
    assert_eq!(count(&tp, "HO1/prompts", "BUDGET_ALLOCATED"), allocated);
    // The same command with a percentage goes through (so the refusal above is meaningful).
    let (rc, err) = cpctl(
        &tp,
        &["budget", "allocate", "--scope", "tenant/acme", "--max-tokens", "10", "--warn-pct", "50", "--token", &tok],
    );
    assert_eq!(rc, 0, "{err}");
}

#[test]
fn a_one_megabyte_session_id_is_refused_before_routing() {
    let (tp, tok) = plane();
    let dir = tp.dir.path();
    std::fs::write(dir.join("contract.json"), serde_json::to_vec(&test_contract()).unwrap()).unwrap();
    let req = json!({"contract": "contract.json", "context": "c", "input": {"question": "q?"},
                     "provenance": {"tenant_id": "acme", "session_id": "s".repeat(1 << 20)}});
    std::fs::write(dir.join("req.json"), serde_json::to_vec(&req).unwrap()).unwrap();
    let sent = count(&tp, "HO1/prompts", "PROMPT_SENT");
    let (rc, err) = cpctl(&tp, &["route", "--request", dir.join("req.json").to_str().unwrap(), "--token", &tok]);
    assert_ne!(rc, 0);
    assert!(err.contains("session_id is 1048576 bytes, more than the 128 allowed"), "{err}");
    assert!(err.len() < 4096, "the refusal echoes the input: {} bytes", err.len());
    assert_eq!(count(&tp, "HO1/prompts", "PROMPT_SENT"), sent);
}
