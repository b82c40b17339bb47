//! `cpctl report-check FILE` (issue 14 §5): a valid phase report exits 0; one missing
//! `rollback` exits 2 naming `/rollback`.

use std::process::Command;

use cp_kernel::PHASE_REPORT_CONTRACT_PATH;
use cp_kernel::testkit::{REPO_ROOT, TempPlane};
use serde_json::{Value, json};

fn report() -> Value {
    json!({
        "phase_meta": {"phase_id": "P1", "title": "State machine lock", "priority": "high", "version": "v1", "owner": "kernel"},
        "objective": {"problem": "work orders have no lifecycle", "outcome": "legal transitions only"},
        "invariants": ["state is derived from the ledger"],
        "module_scope": {"write_modules": ["kernel/src/work_order"], "read_modules": [], "external_surfaces": ["CLI"]},
        "data_models": [{"name": "WO_TRANSITIONED", "kind": "event", "keys": ["work_order_id"], "append_only": true}],
        "flow": {"trigger": "cpctl wo transition", "steps": ["check the lifecycle"], "exit_conditions": ["logged"]},
        "guardrails": {"runtime_gate": ["token"], "policy_gate": ["roles"], "audit_trace": ["work_order_id"]},
        "tests": {"unit": ["every transition"], "integration": ["race"], "e2e": ["cpctl wo"]},
        "acceptance": ["exactly 1 of 4 racing processes wins"],
        "rollback": {"trigger": "a lost transition", "action": "revert", "target_version": "v1"},
        "dependency_graph": {"depends_on": [], "unblocks": ["P2"]},
        "status": {"stage": "done", "completion": 1.0, "risks": [], "next_actions": []}
    })
}

fn check(tp: &TempPlane, v: &Value) -> (Option<i32>, Value) {
    let f = tp.dir.path().join("r.json");
    std::fs::write(&f, v.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cpctl"))
        .arg("--root")
        .arg(tp.plane.root())
        .args(["report-check", "--json"])
        .arg(&f)
        .output()
        .unwrap();
    (out.status.code(), serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn report_check_accepts_a_phase_report_and_names_the_missing_rollback() {
    let tp = TempPlane::new();
    let src = std::path::Path::new(REPO_ROOT).join("packages/PKG-PROMPT-ROUTER-001").join(PHASE_REPORT_CONTRACT_PATH);
    let dst = tp.plane.root().join(PHASE_REPORT_CONTRACT_PATH);
    std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
    std::fs::copy(src, dst).unwrap();
    let (code, v) = check(&tp, &report());
    assert_eq!((code, v["valid"].as_bool()), (Some(0), Some(true)), "{v}");
    let mut bad = report();
    bad.as_object_mut().unwrap().remove("rollback");
    let (code, v) = check(&tp, &bad);
    assert_eq!((code, v["valid"].as_bool()), (Some(2), Some(false)), "{v}");
    assert!(v["errors"].as_array().unwrap().iter().any(|e| e.as_str().unwrap().starts_with("/rollback:")), "{v}");
}
