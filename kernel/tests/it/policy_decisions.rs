//! Policy decisions on record (issue 14 §4): every governance decision the router, budgeter
//! and lifecycle take carries `policy_id`, `decision`, `reason` and `actor`, so the seed's
//! governance metrics — "hard-budget denials" and "policy block rate" — are one filter each.

use cp_kernel::policy::{self, PolicyDecision};
use cp_kernel::{LimitConfig, RejectCode, RouterError, ScopeKey, event};

use crate::router_support::{Fx, request};

/// Event types that record a governance decision.
const DECISIONS: &[&str] = &[
    event::PROMPT_SENT,
    event::PROMPT_REJECTED,
    event::ACCESS_DENIED,
    event::BUDGET_ALLOCATED,
    event::BUDGET_WARNING,
    event::CONTRACT_UNGOVERNED,
    event::WO_CREATED,
    event::WO_TRANSITIONED,
    event::WO_TRANSITION_REFUSED,
];

#[test]
fn budget_allow_deny_warn_and_access_denials_carry_the_uniform_record() {
    let fx = Fx::new();
    let op = fx.token("acme", &["operator"]);
    let limit = LimitConfig { max_tokens: Some(1000), max_cost_micros: None, warn_threshold_pct: 10 };
    fx.router.allocate(&op, &ScopeKey::tenant("acme"), limit).unwrap();
    let agent = fx.token("acme", &["agent"]);
    fx.router.route(request("acme", &agent)).unwrap();
    // Now less than one more prompt's reservation is left.
    let limit = LimitConfig { max_tokens: Some(50), ..limit };
    fx.router.allocate(&op, &ScopeKey::tenant("acme"), limit).unwrap();
    let err = fx.router.route(request("acme", &agent)).unwrap_err();
    assert!(matches!(err, RouterError::Rejected { code: RejectCode::BudgetExhausted, .. }), "{err}");
    fx.router.route(request("acme", "not a token")).unwrap_err();
    fx.router.budget_show(&agent, "globex").unwrap_err();

    let all = fx.entries();
    for e in all.iter().filter(|e| DECISIONS.contains(&e.event_type.as_str())) {
        let d = PolicyDecision::of(e).unwrap_or_else(|| panic!("{} seq {} has no policy_id", e.event_type, e.seq));
        assert!(!d.decision.is_empty() && !d.actor.is_empty(), "{} seq {}: {d:?}", e.event_type, e.seq);
    }
    let count = |p: Option<&str>, d: Option<&str>| all.iter().filter(|e| PolicyDecision::matches(e, p, d)).count();
    // Hard-budget denials: one query.
    assert_eq!(count(Some(policy::BUDGET_HARD_LIMIT), Some("DENY")), 1);
    assert_eq!(count(Some(policy::BUDGET_HARD_LIMIT), Some("ALLOW")), 1);
    assert_eq!(count(Some(policy::BUDGET_WARN_THRESHOLD), Some("WARN")), 1);
    assert_eq!(count(Some(policy::ROUTER_AUTH), Some("DENY")), 1, "the bad token");
    assert_eq!(
        count(Some(policy::ROUTER_ROLES), Some("DENY")) + count(Some(policy::TENANT_SOVEREIGNTY), Some("DENY")),
        1
    );
    // Policy block rate: refusals among all decisions.
    let blocked = count(None, Some("DENY")) + count(None, Some("REFUSED"));
    assert_eq!(blocked, 3);
    let denied =
        all.iter().find(|e| PolicyDecision::matches(e, Some(policy::BUDGET_HARD_LIMIT), Some("DENY"))).unwrap();
    assert_eq!(PolicyDecision::of(denied).unwrap().actor, "tester", "the actor is the token's principal");
}
