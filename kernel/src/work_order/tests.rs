//! Lifecycle tests over the shipped config: every legal transition succeeds and is logged,
//! every illegal one is refused and logged, and (proptest) the state derived from the ledger
//! always equals a reference state machine written independently of the config code.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::auth::Principal;
use crate::budget::{BudgetOp, LimitConfig};
use crate::ledger::{LedgerQuery, LedgerStore, MemoryStore, event};
use crate::policy::PolicyDecision;
use crate::schema::SchemaSet;

const STATES: [&str; 5] = ["planned", "dispatched", "executing", "completed", "failed"];
const ROLES: [&str; 3] = ["operator", "agent", "auditor"];

fn book() -> (WorkOrders, Arc<MemoryStore>) {
    let schemas = SchemaSet::embedded().unwrap();
    let config: LifecycleConfig = schemas
        .load_str(WORK_ORDERS_CONFIG_SCHEMA, std::path::Path::new("work_orders.yaml"), SHIPPED_WORK_ORDERS_CONFIG)
        .unwrap();
    let store = Arc::new(MemoryStore::new("HO1/prompts"));
    let limit = LimitConfig { max_tokens: Some(1000), max_cost_micros: None, warn_threshold_pct: 80 };
    (WorkOrders::new(config, store.clone(), limit, schemas).unwrap(), store)
}

fn who(role: &str, tenant: &str) -> Principal {
    Principal {
        principal: format!("{role}-1"),
        roles: vec![role.to_string()],
        tenant: tenant.into(),
        token_id: "t".into(),
        dev_mode: false,
    }
}

/// The reference lifecycle: `(from, to)` → roles allowed, written out by hand from the issue.
fn reference(from: &str, to: &str) -> Option<&'static [&'static str]> {
    const OP: &[&str] = &["operator"];
    const BOTH: &[&str] = &["operator", "agent"];
    match (from, to) {
        ("planned", "dispatched") | ("dispatched", "planned") | ("executing", "planned") => Some(OP),
        ("dispatched", "executing") | ("executing", "completed") | ("executing", "failed") => Some(BOTH),
        _ => None,
    }
}

/// A work order created and moved along `path` by an operator.
fn at(path: &[&str]) -> (WorkOrders, Arc<MemoryStore>) {
    let (b, s) = book();
    let op = who("operator", "acme");
    b.create(&op, WorkOrder::new("WO-1", "acme", "t")).unwrap();
    for to in path {
        b.transition(&op, "WO-1", to, "setup").unwrap();
    }
    (b, s)
}

/// A path from `planned` to each state.
fn path_to(state: &str) -> Vec<&'static str> {
    match state {
        "planned" => vec![],
        "dispatched" => vec!["dispatched"],
        "executing" => vec!["dispatched", "executing"],
        "completed" => vec!["dispatched", "executing", "completed"],
        _ => vec!["dispatched", "executing", "failed"],
    }
}

#[test]
fn creating_logs_wo_created_and_allocates_the_budget_scope_in_one_transaction() {
    let (b, s) = book();
    let mut wo = WorkOrder::new("WO-7", "acme", "Write the report");
    wo.budget = Some(WorkOrderBudget { max_tokens: Some(500), max_cost_micros: None });
    let e = b.create(&who("operator", "acme"), wo.clone()).unwrap();
    let all = s.query(&LedgerQuery::default()).unwrap();
    assert_eq!(
        all.iter().map(|e| e.event_type.as_str()).collect::<Vec<_>>(),
        [event::WO_CREATED, event::BUDGET_ALLOCATED]
    );
    assert_eq!(e.seq, 0);
    let Some(Ok(BudgetOp::Allocate { scope, max_tokens, .. })) = BudgetOp::of(&all[1]) else { panic!("{:?}", all[1]) };
    assert_eq!((scope.as_str(), max_tokens), ("work_order/acme/WO-7", Some(500)));
    let d = PolicyDecision::of(&all[0]).unwrap();
    assert_eq!((d.policy_id.as_str(), d.decision.as_str(), d.actor.as_str()), ("wo.lifecycle", "ALLOW", "operator-1"));
    let st = b.get(&who("agent", "acme"), "WO-7").unwrap();
    assert_eq!((st.state.as_str(), st.work_order), ("planned", wo));
}

#[test]
fn every_legal_transition_succeeds_and_is_logged() {
    for from in STATES {
        for to in STATES {
            let Some(roles) = reference(from, to) else { continue };
            for role in roles {
                let (b, s) = at(&path_to(from));
                let e = b.transition(&who(role, "acme"), "WO-1", to, "because").unwrap();
                assert_eq!(e.event_type, event::WO_TRANSITIONED);
                assert_eq!((e.metadata["from"].as_str(), e.metadata["to"].as_str()), (Some(from), Some(to)));
                assert_eq!(e.reason.as_deref(), Some("because"));
                assert_eq!(e.metadata["actor"], format!("{role}-1"));
                assert_eq!(b.state_of("WO-1").unwrap().unwrap().state, to);
                assert_eq!(s.head().unwrap().unwrap().seq, e.seq, "{from} → {to} by {role}: one entry");
            }
        }
    }
}

#[test]
fn every_illegal_transition_and_every_role_not_allowed_is_refused_and_logged() {
    for from in STATES {
        for to in STATES {
            for role in ROLES {
                if reference(from, to).is_some_and(|r| r.contains(&role)) {
                    continue;
                }
                let (b, s) = at(&path_to(from));
                let before = s.len().unwrap();
                let err = b.transition(&who(role, "acme"), "WO-1", to, "try").unwrap_err();
                let WorkOrderError::Refused { code, seq, .. } = err else { panic!("{from} → {to}: {err}") };
                let want = if reference(from, to).is_some() {
                    RefusalCode::RoleNotAllowed
                } else {
                    RefusalCode::IllegalTransition
                };
                assert_eq!(code, want, "{from} → {to} by {role}");
                assert_eq!((seq, s.len().unwrap()), (before, before + 1), "one refusal entry");
                let e = s.get(seq).unwrap().unwrap();
                assert_eq!(e.event_type, event::WO_TRANSITION_REFUSED);
                assert_eq!(e.metadata["code"], code.as_str());
                assert_eq!((e.metadata["from"].as_str(), e.metadata["to"].as_str()), (Some(from), Some(to)));
                assert_eq!(b.state_of("WO-1").unwrap().unwrap().state, from, "state unchanged");
            }
        }
    }
}

#[test]
fn unknown_ids_states_duplicates_parents_and_creators_are_refused_and_logged() {
    let (b, s) = at(&[]);
    let op = who("operator", "acme");
    let code = |r: Result<crate::ledger::LedgerEntry, WorkOrderError>| match r {
        Err(WorkOrderError::Refused { code, .. }) => code,
        other => panic!("{other:?}"),
    };
    assert_eq!(code(b.transition(&op, "WO-2", "dispatched", "x")), RefusalCode::UnknownWorkOrder);
    assert_eq!(code(b.transition(&op, "WO-1", "paused", "x")), RefusalCode::UnknownState);
    assert_eq!(code(b.create(&op, WorkOrder::new("WO-1", "acme", "again"))), RefusalCode::DuplicateId);
    let mut child = WorkOrder::new("WO-3", "acme", "child");
    child.parent = Some("WO-9".into());
    assert_eq!(code(b.create(&op, child.clone())), RefusalCode::UnknownParent);
    assert_eq!(code(b.create(&who("agent", "acme"), WorkOrder::new("WO-4", "acme", "x"))), RefusalCode::RoleNotAllowed);
    let refused =
        s.query(&LedgerQuery { event_types: vec![event::WO_TRANSITION_REFUSED.into()], ..LedgerQuery::default() });
    assert_eq!(refused.unwrap().len(), 5);
    child.parent = Some("WO-1".into());
    b.create(&op, child).unwrap();
    assert!(matches!(b.create(&op, WorkOrder::new("bad id", "acme", "x")), Err(WorkOrderError::Document(_))));
}

#[test]
fn another_tenants_work_order_is_denied_and_logged_with_both_tenants() {
    let (b, s) = at(&[]);
    let other = who("operator", "globex");
    for r in [b.transition(&other, "WO-1", "dispatched", "x").map(|_| ()), b.get(&other, "WO-1").map(|_| ())] {
        let Err(WorkOrderError::AccessDenied { seq, .. }) = r else { panic!("{r:?}") };
        let e = s.get(seq).unwrap().unwrap();
        assert_eq!(e.event_type, event::ACCESS_DENIED);
        assert_eq!(
            (e.metadata["tenant_asked"].as_str(), e.metadata["tenant_held"].as_str()),
            (Some("acme"), Some("globex"))
        );
        assert_eq!(e.metadata["principal"], "operator-1");
        assert_eq!(e.metadata["policy_id"], "tenant.sovereignty");
    }
    assert!(b.list(&other).unwrap().is_empty());
    assert_eq!(b.list(&who("auditor", "acme")).unwrap().len(), 1);
    assert_eq!(b.state_of("WO-1").unwrap().unwrap().state, "planned");
    assert!(matches!(b.create(&other, WorkOrder::new("WO-5", "acme", "x")), Err(WorkOrderError::AccessDenied { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random sequences of (target state, role): after each step the state derived from the
    /// ledger equals the reference machine's, and the step succeeded exactly when the reference
    /// allows it.
    #[test]
    fn derived_state_always_equals_the_reference_machine(steps in prop::collection::vec((0..5usize, 0..3usize), 0..40)) {
        let (b, s) = at(&[]);
        let mut want = "planned";
        for (t, r) in steps {
            let (to, role) = (STATES[t], ROLES[r]);
            let allowed = reference(want, to).is_some_and(|roles| roles.contains(&role));
            let got = b.transition(&who(role, "acme"), "WO-1", to, "prop");
            prop_assert_eq!(got.is_ok(), allowed, "{} → {} by {}", want, to, role);
            if allowed {
                want = to;
            }
            prop_assert_eq!(b.state_of("WO-1").unwrap().unwrap().state, want);
        }
        let all = s.query(&LedgerQuery::default()).unwrap();
        let derived = derive_work_orders(&all);
        prop_assert_eq!(derived["WO-1"].state.as_str(), want);
    }
}
