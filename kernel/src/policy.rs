//! Governance decisions on the ledger, in one uniform shape.
//!
//! Owns: [`PolicyDecision`] — `policy_id`, `decision`, `reason`, `actor` — and how it is put on
//! (and read back from) a ledger entry, plus the policy ids the kernel decides under.
//! Never does: decide anything or write the ledger; the module making a decision builds its
//! entry and applies the decision to it.
//!
//! On the ledger: the entry's top-level `decision` (`ALLOW`, `DENY`, `WARN`, `PASS`, `FAIL`,
//! `REFUSED`, `ENTERED`, `EXITED`, `WAIVED`) and `reason` columns, plus the metadata keys
//! `policy_id` (e.g. `wo.lifecycle`) and `actor` (a principal id, `system` or
//! `operator:<user>`). "Policy block rate" is then the share of entries with a `policy_id` whose
//! decision is a refusal, and "hard-budget denials" the entries with `policy_id`
//! `budget.hard_limit` and decision `DENY` — one query each ([`PolicyDecision::matches`]).

use serde::{Deserialize, Serialize};

use crate::ledger::{LedgerEntry, NewEntry};

/// Metadata key of the policy id.
pub const POLICY_ID_KEY: &str = "policy_id";
/// Metadata key of the actor.
pub const ACTOR_KEY: &str = "actor";
/// The actor of decisions nobody in particular asked for (default allocations, automatic
/// switches).
pub const SYSTEM_ACTOR: &str = "system";

/// Policy: the work-order lifecycle (`HOT/config/work_orders.yaml`) — transitions allowed or
/// refused.
pub const WO_LIFECYCLE: &str = "wo.lifecycle";
/// Policy: the router's work-order guard (`router_config.work_order_guard`).
pub const WO_GUARD: &str = "router.work_order_guard";
/// Policy: a tenant reads only its own data.
pub const TENANT_SOVEREIGNTY: &str = "tenant.sovereignty";
/// Policy: hard budget limits (`PROMPT_SENT` ALLOW, `PROMPT_REJECTED` `BUDGET_EXHAUSTED` DENY).
pub const BUDGET_HARD_LIMIT: &str = "budget.hard_limit";
/// Policy: rate limits (`PROMPT_REJECTED` `RATE_LIMITED`).
pub const BUDGET_RATE_LIMIT: &str = "budget.rate_limit";
/// Policy: the soft limit (`BUDGET_WARNING` WARN).
pub const BUDGET_WARN_THRESHOLD: &str = "budget.warn_threshold";
/// Policy: budget allocations (`BUDGET_ALLOCATED` ALLOW).
pub const BUDGET_ALLOCATION: &str = "budget.allocation";
/// Policy: a valid token is required (`AUTH_DENIED`).
pub const ROUTER_AUTH: &str = "router.auth";
/// Policy: a token's roles must grant the action (`FORBIDDEN`).
pub const ROUTER_ROLES: &str = "router.roles";
/// Policy: a request must satisfy its prompt contract (`INVALID_INPUT`, `CONTRACT_INVALID`).
pub const ROUTER_CONTRACT: &str = "router.contract";
/// Policy: a provider whose circuit is open is not called (`CIRCUIT_OPEN`).
pub const ROUTER_CIRCUIT_BREAKER: &str = "router.circuit_breaker";
/// Policy: a prompt is routed only at a price in force (`NO_PRICE`).
pub const ROUTER_PRICE_BOOK: &str = "router.price_book";
/// Policy: `router_config.ungoverned_contracts` (`CONTRACT_UNGOVERNED`).
pub const ROUTER_UNGOVERNED_CONTRACTS: &str = "router.ungoverned_contracts";
/// Policy: the install gates (`INSTALLED` PASS, `INSTALL_FAILED` FAIL, `POLICY_WAIVED` WAIVED).
pub const INSTALL_GATES: &str = "install.gates";
/// The actor of a local operator command that carries no token.
pub const OPERATOR_ACTOR: &str = "operator:local";

/// The policy a router reason code (`metadata.code` of `PROMPT_REJECTED` / `ACCESS_DENIED`)
/// is decided under.
pub fn of_reject_code(code: &str) -> &'static str {
    match code {
        "AUTH_DENIED" => ROUTER_AUTH,
        "FORBIDDEN" => ROUTER_ROLES,
        "BUDGET_EXHAUSTED" => BUDGET_HARD_LIMIT,
        "RATE_LIMITED" => BUDGET_RATE_LIMIT,
        "CIRCUIT_OPEN" => ROUTER_CIRCUIT_BREAKER,
        "NO_PRICE" => ROUTER_PRICE_BOOK,
        "CONTRACT_UNGOVERNED" => ROUTER_UNGOVERNED_CONTRACTS,
        "WORK_ORDER_STATE" => WO_GUARD,
        "ACCESS_DENIED" => TENANT_SOVEREIGNTY,
        _ => ROUTER_CONTRACT,
    }
}

/// `e` with `policy_id` and `actor` set where it has none yet (its `decision` and `reason`
/// columns are the caller's): for entries whose builder already sets decision and reason.
pub fn stamp(mut e: NewEntry, policy_id: &str, actor: &str) -> NewEntry {
    e.metadata.entry(POLICY_ID_KEY).or_insert_with(|| policy_id.into());
    e.metadata.entry(ACTOR_KEY).or_insert_with(|| actor.into());
    e
}

/// The actor recorded in `e`'s `principal` metadata, else `unknown` (a request without a valid
/// token).
pub fn principal_of(e: &NewEntry) -> String {
    e.metadata.get("principal").and_then(|v| v.as_str()).unwrap_or("unknown").to_string()
}

/// One governance decision: under which policy, what was decided, why, and by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDecision {
    /// Policy the decision was taken under (`wo.lifecycle`, `budget.hard_limit`, …).
    pub policy_id: String,
    /// What was decided (`ALLOW`, `DENY`, `REFUSED`, …).
    pub decision: String,
    /// Why, in words.
    pub reason: String,
    /// Who asked (principal id, `system`, `operator:<user>`).
    pub actor: String,
}

impl PolicyDecision {
    /// A decision.
    pub fn new(
        policy_id: impl Into<String>,
        decision: impl Into<String>,
        reason: impl Into<String>,
        actor: impl Into<String>,
    ) -> Self {
        Self { policy_id: policy_id.into(), decision: decision.into(), reason: reason.into(), actor: actor.into() }
    }

    /// `e` carrying this decision: its `decision` and `reason` columns set, `policy_id` and
    /// `actor` in its metadata.
    pub fn apply(&self, e: NewEntry) -> NewEntry {
        e.decision(self.decision.clone())
            .reason(self.reason.clone())
            .meta(POLICY_ID_KEY, self.policy_id.clone())
            .meta(ACTOR_KEY, self.actor.clone())
    }

    /// The decision an entry carries; `None` when it has no `policy_id` (not a governance
    /// decision).
    pub fn of(e: &LedgerEntry) -> Option<Self> {
        let text = |k: &str| e.metadata.get(k).and_then(|v| v.as_str()).map(str::to_string);
        Some(Self {
            policy_id: text(POLICY_ID_KEY)?,
            decision: e.decision.clone().unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_default(),
            actor: text(ACTOR_KEY).unwrap_or_default(),
        })
    }

    /// Whether `e` is a decision under `policy` (when given) with `decision` (when given;
    /// compared without regard to case). With neither, whether `e` is a governance decision.
    pub fn matches(e: &LedgerEntry, policy: Option<&str>, decision: Option<&str>) -> bool {
        let Some(d) = Self::of(e) else { return false };
        policy.is_none_or(|p| d.policy_id == p) && decision.is_none_or(|x| d.decision.eq_ignore_ascii_case(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{LedgerStore, MemoryStore};

    #[test]
    fn a_decision_round_trips_through_an_entry_and_filters() {
        let s = MemoryStore::new("HOT/governance");
        let d = PolicyDecision::new(WO_LIFECYCLE, "REFUSED", "planned → completed is not a transition", "alice");
        let e = s.append(d.apply(NewEntry::new("WO_TRANSITION_REFUSED"))).unwrap();
        let plain = s.append(NewEntry::new("CHECKPOINT").decision("REFUSED")).unwrap();
        assert_eq!(PolicyDecision::of(&e), Some(d));
        assert_eq!(PolicyDecision::of(&plain), None, "no policy_id: not a governance decision");
        assert!(PolicyDecision::matches(&e, Some(WO_LIFECYCLE), Some("refused")));
        assert!(PolicyDecision::matches(&e, None, None));
        assert!(!PolicyDecision::matches(&e, Some("budget.hard_limit"), None));
        assert!(!PolicyDecision::matches(&e, None, Some("ALLOW")));
        assert!(!PolicyDecision::matches(&plain, None, Some("REFUSED")));
    }
}
