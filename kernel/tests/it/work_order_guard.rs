//! The runtime guard (issue 14 §2): with `work_order_guard.required`, a prompt is routed only
//! when its work order exists, is the token's tenant's and is in a guard state; otherwise
//! `PROMPT_REJECTED` code `WORK_ORDER_STATE`, nothing sent, nothing reserved. And creating a
//! work order on the router's ledger allocates its budget scope, which the router then charges.

use cp_kernel::policy::PolicyDecision;
use cp_kernel::{RejectCode, RouterError, SHIPPED_WORK_ORDERS_CONFIG, WorkOrder, WorkOrderBudget};
use serde_json::json;

use crate::router_support::{Fx, request, test_configs};

/// A router whose guard is required (states `executing`), the lifecycle installed, and work
/// orders `WO-A` (acme) and `WO-G` (globex) created; `WO-A` moved along `path`.
fn guarded(path: &[&str]) -> Fx {
    let (mut r, b, p) = test_configs();
    r["work_order_guard"] = json!({"required": true, "states": ["executing"]});
    let fx = Fx::with(r, b, p, false);
    let cfg = fx.tp.plane.root().join("HOT/config/work_orders.yaml");
    std::fs::write(cfg, SHIPPED_WORK_ORDERS_CONFIG).unwrap();
    let wos = fx.router.work_orders(&fx.tp.plane).unwrap();
    for (tenant, id) in [("acme", "WO-A"), ("globex", "WO-G")] {
        let op = fx.router.work_order_principal(&fx.token(tenant, &["operator"])).unwrap();
        let mut wo = WorkOrder::new(id, tenant, "guarded work");
        wo.budget = Some(WorkOrderBudget { max_tokens: Some(100_000), max_cost_micros: None });
        wos.create(&op, wo).unwrap();
    }
    let op = fx.router.work_order_principal(&fx.token("acme", &["operator"])).unwrap();
    for to in path {
        wos.transition(&op, "WO-A", to, "setup").unwrap();
    }
    fx
}

fn with_wo(tenant: &str, token: &str, wo: Option<&str>) -> cp_kernel::PromptRequest {
    let mut req = request(tenant, token);
    req.provenance.work_order_id = wo.map(str::to_string);
    req
}

/// Routes and expects a `WORK_ORDER_STATE` refusal: the refusal is the last entry, carries the
/// guard's policy decision, and nothing was sent.
fn refused(fx: &Fx, req: cp_kernel::PromptRequest, state: Option<&str>) {
    let before = fx.entries().len();
    let err = fx.router.route(req).unwrap_err();
    let RouterError::Rejected { code, seq, .. } = &err else { panic!("{err}") };
    assert_eq!(*code, RejectCode::WorkOrderState, "{err}");
    assert_eq!(fx.types_after(before), ["PROMPT_REJECTED"], "nothing sent or reserved");
    let e = fx.router.store().get(*seq).unwrap().unwrap();
    assert_eq!(e.metadata["code"], "WORK_ORDER_STATE");
    let d = PolicyDecision::of(&e).unwrap();
    assert_eq!(
        (d.policy_id.as_str(), d.decision.as_str(), d.actor.as_str()),
        ("router.work_order_guard", "DENY", "tester")
    );
    assert_eq!(e.metadata.get("work_order_state").and_then(|v| v.as_str()), state);
    assert_eq!(fx.mock.calls(), 0, "the provider was not called");
}

#[test]
fn a_prompt_without_a_work_order_is_refused() {
    let fx = guarded(&["dispatched", "executing"]);
    refused(&fx, with_wo("acme", &fx.token("acme", &["agent"]), None), None);
}

#[test]
fn a_prompt_naming_an_unknown_work_order_is_refused() {
    let fx = guarded(&["dispatched", "executing"]);
    refused(&fx, with_wo("acme", &fx.token("acme", &["agent"]), Some("WO-NOPE")), None);
}

#[test]
fn a_prompt_naming_another_tenants_work_order_is_refused() {
    let fx = guarded(&["dispatched", "executing"]);
    refused(&fx, with_wo("acme", &fx.token("acme", &["agent"]), Some("WO-G")), None);
}

#[test]
fn a_prompt_whose_work_order_is_not_executing_is_refused() {
    for (path, state) in [(&[][..], "planned"), (&["dispatched"][..], "dispatched")] {
        let fx = guarded(path);
        refused(&fx, with_wo("acme", &fx.token("acme", &["agent"]), Some("WO-A")), Some(state));
    }
    let fx = guarded(&["dispatched", "executing", "completed"]);
    refused(&fx, with_wo("acme", &fx.token("acme", &["agent"]), Some("WO-A")), Some("completed"));
}

#[test]
fn a_prompt_whose_work_order_is_executing_is_routed_and_charged_to_its_scope() {
    let fx = guarded(&["dispatched", "executing"]);
    let before = fx.entries().len();
    let resp = fx.router.route(with_wo("acme", &fx.token("acme", &["agent"]), Some("WO-A"))).unwrap();
    assert!(resp.output_valid);
    let types = fx.types_after(before);
    assert!(types.contains(&"PROMPT_SENT".to_string()) && types.contains(&"PROMPT_RECEIVED".to_string()), "{types:?}");
    let st = fx.router.budgeter().state().unwrap();
    let scope = &st.scopes["work_order/acme/WO-A"];
    assert_eq!(scope.max_tokens, Some(100_000), "the scope allocated at creation, not a default one");
    assert!(scope.spent_tokens > 0, "the prompt was charged to the work order's scope");
}

#[test]
fn without_the_guard_a_prompt_needs_no_work_order() {
    let fx = Fx::new();
    fx.router.route(with_wo("acme", &fx.token("acme", &["agent"]), None)).unwrap();
}
