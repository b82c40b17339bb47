//! The phase-report contract (issue 14 §5): a report from the mock provider validates; one
//! missing `rollback` is recorded as `INVALID_OUTPUT` naming `/rollback`; a saved report is
//! checked against the same schema.

use cp_kernel::testkit::REPO_ROOT;
use cp_kernel::{
    MockStep, PHASE_REPORT_CONTRACT_PATH, PHASE_REPORT_KEYS, PROMPT_CONTRACT_SCHEMA, PromptContract, SchemaSet,
    check_phase_report,
};
use serde_json::{Value, json};

use crate::router_support::{Fx, request};

fn shipped_contract_text() -> String {
    let p = std::path::Path::new(REPO_ROOT).join("packages/PKG-PROMPT-ROUTER-001").join(PHASE_REPORT_CONTRACT_PATH);
    std::fs::read_to_string(p).unwrap()
}

fn contract() -> PromptContract {
    let s = SchemaSet::embedded().unwrap();
    s.load_str(PROMPT_CONTRACT_SCHEMA, std::path::Path::new("PRC-PHASE-REPORT-001.yaml"), &shipped_contract_text())
        .unwrap()
}

/// The protocol's canonical report for P7, with measurable acceptance.
fn report() -> Value {
    json!({
        "phase_meta": {"phase_id": "P7", "title": "Identity and Tenant Sovereignty", "priority": "highest", "version": "v1", "owner": "kernel"},
        "objective": {"problem": "reads are not scoped to a tenant", "outcome": "every read surface returns one tenant"},
        "invariants": ["a token reads only its own tenant"],
        "module_scope": {"write_modules": ["kernel/src/router"], "read_modules": ["kernel/src/auth"], "external_surfaces": ["CLI"]},
        "data_models": [{"name": "ACCESS_DENIED", "kind": "event", "keys": ["tenant_id"], "append_only": true}],
        "flow": {"trigger": "a read", "steps": ["verify the token", "compare tenants"], "exit_conditions": ["granted", "denied"]},
        "guardrails": {"runtime_gate": ["token"], "policy_gate": ["tenant boundary"], "audit_trace": ["trace_id"]},
        "tests": {"unit": ["read_scope"], "integration": ["matrix"], "e2e": ["cpctl"]},
        "acceptance": ["0 cross-tenant reads succeed in 20 matrix cases"],
        "rollback": {"trigger": "a denied own-tenant read", "action": "revert the surface", "target_version": "v1"},
        "dependency_graph": {"depends_on": ["P6"], "unblocks": ["P8", "P9"]},
        "status": {"stage": "in_progress", "completion": 0.5, "risks": [], "next_actions": ["ops API"]}
    })
}

fn route(fx: &Fx, text: String) -> cp_kernel::PromptResponse {
    fx.mock.push([MockStep::reply(text)]);
    let mut req = request("acme", &fx.token("acme", &["agent"]));
    req.contract = contract();
    req.input = json!({"phase_id": "P7"});
    fx.router.route(req).unwrap()
}

#[test]
fn the_contract_lists_the_twelve_keys_in_the_protocols_order() {
    let c = contract();
    let req: Vec<&str> =
        c.output_schema.as_ref().unwrap()["required"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(req, PHASE_REPORT_KEYS);
}

#[test]
fn a_phase_report_from_the_mock_provider_validates() {
    let fx = Fx::new();
    let r = route(&fx, report().to_string());
    assert!(r.output_valid, "{:?}", r.output_errors);
    let e = fx.router.store().get(r.received.seq).unwrap().unwrap();
    assert_eq!(e.decision.as_deref(), Some("ACCEPT"));
}

#[test]
fn a_report_missing_rollback_is_recorded_invalid_naming_the_path() {
    let fx = Fx::new();
    let mut bad = report();
    bad.as_object_mut().unwrap().remove("rollback");
    bad["status"]["stage"] = json!("shipping");
    bad["status"]["completion"] = json!(1.5);
    bad["phase_meta"]["phase_id"] = json!("P14");
    let r = route(&fx, bad.to_string());
    assert!(!r.output_valid);
    let e = fx.router.store().get(r.received.seq).unwrap().unwrap();
    assert_eq!(e.decision.as_deref(), Some("INVALID_OUTPUT"));
    let errors: Vec<String> = e.metadata["output_validation"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().split(':').next().unwrap().to_string())
        .collect();
    for path in ["/rollback", "/status/stage", "/status/completion", "/phase_meta/phase_id"] {
        assert!(errors.iter().any(|p| p == path), "{path} not in {errors:?}");
    }
}

#[test]
fn a_saved_report_is_checked_against_the_same_schema() {
    let fx = Fx::new();
    let root = fx.tp.plane.root();
    std::fs::create_dir_all(root.join("HOT/contracts")).unwrap();
    std::fs::write(root.join(PHASE_REPORT_CONTRACT_PATH), shipped_contract_text()).unwrap();
    let good = fx.tp.dir.path().join("good.json");
    std::fs::write(&good, report().to_string()).unwrap();
    let c = check_phase_report(&fx.tp.plane, &good).unwrap();
    assert!(c.valid && c.errors.is_empty(), "{c:?}");
    let mut bad = report();
    bad.as_object_mut().unwrap().remove("rollback");
    bad["acceptance"] = json!(["it works well"]);
    let badf = fx.tp.dir.path().join("bad.json");
    std::fs::write(&badf, bad.to_string()).unwrap();
    let c = check_phase_report(&fx.tp.plane, &badf).unwrap();
    assert!(!c.valid);
    assert!(c.errors.iter().any(|e| e.starts_with("/rollback:")), "{c:?}");
    assert!(c.errors.iter().any(|e| e.starts_with("/acceptance/0:")), "unmeasurable acceptance: {c:?}");
    std::fs::write(&badf, "not json").unwrap();
    assert!(!check_phase_report(&fx.tp.plane, &badf).unwrap().valid);
}
