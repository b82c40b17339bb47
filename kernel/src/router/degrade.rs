//! Degrade and recovery: profiles from `router_config.degrade_profiles`, entered automatically
//! when a trigger fires (the primary provider's breaker open, a budget scope past its soft
//! threshold, an error rate over a window) or by an operator, and left when the trigger clears
//! or the operator resumes. Every switch is a ledger entry (`DEGRADE_ENTERED` /
//! `DEGRADE_EXITED`, decision `ENTERED` / `EXITED`, `policy_id` `router.degrade`, the actor and
//! the trigger), written in a transaction that first re-reads the ledger, so concurrent routers
//! in separate processes enter a profile once and all route under it.
//!
//! The state is derived from the ledger's recent entries, never kept in memory: the active
//! profile is the last `DEGRADE_*` entry's, and each provider's breaker is replayed from the
//! `attempts` of the last `shared_state_window_entries` settled prompts (see [`shared_breakers`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::breaker::{BreakerState, CircuitBreaker};
use super::config::ProviderConfig;
use crate::budget::{BudgetState, ScopeKey};
use crate::ledger::{LedgerEntry, LedgerError, LedgerQuery, NewEntry, Order, TxnView, event};

/// Policy id of degrade decisions.
pub const DEGRADE_POLICY_ID: &str = "router.degrade";
/// Actor of automatic switches.
pub const SYSTEM_ACTOR: &str = "system";

/// One degrade profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DegradeProfile {
    /// Name (`cpctl router degrade --profile NAME`).
    pub name: String,
    /// Any of these enters the profile automatically (none: operator only).
    #[serde(default)]
    pub triggers: Vec<DegradeTrigger>,
    /// What routing does under the profile.
    pub actions: DegradeActions,
}

/// What enters a profile automatically.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DegradeTrigger {
    /// The provider's circuit breaker is open (as replayed from the ledger).
    BreakerOpen {
        /// Provider.
        provider: String,
    },
    /// A budget scope is past its warning (soft) threshold.
    BudgetSoftThreshold {
        /// Scope (`tenant/T`, `session/T/S`, …).
        scope: String,
    },
    /// Failed prompts over `window_ms` of the router clock are at least `max_error_pct` percent
    /// of at least `min_requests` settled prompts.
    ErrorRate {
        /// Window (milliseconds).
        window_ms: u64,
        /// Fewest settled prompts in the window for the rate to count.
        min_requests: u64,
        /// Error percentage that fires.
        max_error_pct: u8,
    },
}

/// What routing does under a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DegradeActions {
    /// Provider tried first (the fallback provider).
    #[serde(default)]
    pub provider: Option<String>,
    /// Model asked of that provider (a cheaper model).
    #[serde(default)]
    pub model: Option<String>,
    /// Cap on a contract's `max_tokens`.
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// Agent classes refused (`provenance.agent_class`), logged as `PROMPT_REJECTED` `DEGRADED`.
    #[serde(default)]
    pub refuse_agent_classes: Vec<String>,
}

/// The active profile, as the last `DEGRADE_ENTERED` records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveDegrade {
    /// Profile name.
    pub profile: String,
    /// Who entered it (`system` or `operator:<user>`).
    pub actor: String,
    /// The trigger that fired (`null` for an operator).
    pub trigger: Value,
    /// Seq of the `DEGRADE_ENTERED` entry.
    pub seq: u64,
}

/// The active profile recorded in `view`, `None` when the last switch was an exit (or none).
pub(crate) fn active_in(view: &dyn TxnView) -> Result<Option<ActiveDegrade>, LedgerError> {
    let q = LedgerQuery {
        event_types: vec![event::DEGRADE_ENTERED.into(), event::DEGRADE_EXITED.into()],
        order: Order::Desc,
        limit: Some(1),
        ..LedgerQuery::default()
    };
    Ok(view.query(&q)?.into_iter().next().filter(|e| e.event_type == event::DEGRADE_ENTERED).map(|e| active_of(&e)))
}

fn active_of(e: &LedgerEntry) -> ActiveDegrade {
    let s = |k: &str| e.metadata.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    ActiveDegrade {
        profile: s("profile"),
        actor: s("actor"),
        trigger: e.metadata.get("trigger").cloned().unwrap_or(Value::Null),
        seq: e.seq,
    }
}

/// The last `window` settled prompts (`PROMPT_RECEIVED` / `PROMPT_FAILED`), oldest first.
pub(crate) fn recent_settled(view: &dyn TxnView, window: usize) -> Result<Vec<LedgerEntry>, LedgerError> {
    let q = LedgerQuery {
        event_types: vec![event::PROMPT_RECEIVED.into(), event::PROMPT_FAILED.into()],
        order: Order::Desc,
        limit: Some(window),
        ..LedgerQuery::default()
    };
    let mut v = view.query(&q)?;
    v.reverse();
    Ok(v)
}

/// Router-clock time a settled prompt was recorded at (`settled_at_ms`; 0 when absent).
fn settled_at(e: &LedgerEntry) -> u64 {
    e.metadata.get("settled_at_ms").and_then(Value::as_u64).unwrap_or(0)
}

/// Each provider's breaker replayed from the attempts of `settled` (oldest first): what every
/// router on this ledger, in any process, has seen.
pub(crate) fn shared_breakers(
    providers: &BTreeMap<String, ProviderConfig>,
    settled: &[LedgerEntry],
) -> BTreeMap<String, CircuitBreaker> {
    let out: BTreeMap<String, CircuitBreaker> =
        providers.iter().map(|(n, c)| (n.clone(), CircuitBreaker::new(c.circuit_breaker))).collect();
    for e in settled {
        let at = settled_at(e);
        let Some(attempts) = e.metadata.get("attempts").and_then(Value::as_array) else { continue };
        for a in attempts {
            let Some(b) = a.get("provider").and_then(Value::as_str).and_then(|p| out.get(p)) else { continue };
            if a.get("ok").and_then(Value::as_bool) == Some(true) {
                b.try_acquire(at);
                b.on_success();
            } else if a.get("attempt").is_some() {
                // An attempt that reached the provider and failed (circuit-open and deadline
                // records carry no attempt number: nothing was called).
                b.try_acquire(at);
                b.on_failure(at);
            }
        }
    }
    out
}

/// What a trigger reads.
pub(crate) struct TriggerInputs<'a> {
    /// Breakers replayed from the ledger.
    pub breakers: &'a BTreeMap<String, CircuitBreaker>,
    /// Budget state.
    pub budget: &'a BudgetState,
    /// Recent settled prompts, oldest first.
    pub settled: &'a [LedgerEntry],
    /// Router clock.
    pub now_ms: u64,
}

impl DegradeTrigger {
    /// Whether the trigger fires, and with what evidence.
    pub(crate) fn fires(&self, i: &TriggerInputs) -> Option<Value> {
        match self {
            Self::BreakerOpen { provider } => {
                let open = i.breakers.get(provider).is_some_and(|b| b.state(i.now_ms) == BreakerState::Open);
                open.then(|| json!({"kind": "breaker_open", "provider": provider}))
            }
            Self::BudgetSoftThreshold { scope } => {
                let key = scope.parse::<ScopeKey>().map(|k| k.to_string()).unwrap_or_else(|_| scope.clone());
                let st = i.budget.scopes.get(&key)?;
                st.over_warn(0, 0).then(|| {
                    json!({"kind": "budget_soft_threshold", "scope": key, "warn_threshold_pct": st.warn_threshold_pct,
                           "spent_micros": st.spent_micros, "reserved_micros": st.reserved_micros,
                           "spent_tokens": st.spent_tokens, "reserved_tokens": st.reserved_tokens})
                })
            }
            Self::ErrorRate { window_ms, min_requests, max_error_pct } => {
                let from = i.now_ms.saturating_sub(*window_ms);
                let inside: Vec<&LedgerEntry> =
                    i.settled.iter().filter(|e| (from..=i.now_ms).contains(&settled_at(e))).collect();
                let total = inside.len() as u64;
                let failed = inside.iter().filter(|e| e.event_type == event::PROMPT_FAILED).count() as u64;
                let fires = total >= *min_requests && total > 0 && failed * 100 >= u64::from(*max_error_pct) * total;
                fires.then(|| {
                    json!({"kind": "error_rate", "window_ms": window_ms, "requests": total, "failed": failed,
                           "max_error_pct": max_error_pct})
                })
            }
        }
    }
}

impl DegradeProfile {
    /// The first trigger of this profile that fires, with its evidence.
    pub(crate) fn fired(&self, i: &TriggerInputs) -> Option<Value> {
        self.triggers.iter().find_map(|t| t.fires(i))
    }
}

/// A `DEGRADE_ENTERED` entry.
pub(crate) fn entered(profile: &str, actor: &str, reason: &str, trigger: Value) -> NewEntry {
    NewEntry::new(event::DEGRADE_ENTERED)
        .decision("ENTERED")
        .reason(reason)
        .meta("profile", profile)
        .meta("actor", actor)
        .meta("policy_id", DEGRADE_POLICY_ID)
        .meta("trigger", trigger)
}

/// A `DEGRADE_EXITED` entry.
pub(crate) fn exited(active: &ActiveDegrade, actor: &str, reason: &str) -> NewEntry {
    NewEntry::new(event::DEGRADE_EXITED)
        .decision("EXITED")
        .reason(reason)
        .meta("profile", active.profile.clone())
        .meta("actor", actor)
        .meta("policy_id", DEGRADE_POLICY_ID)
        .meta("entered_seq", active.seq)
}

/// Checks what the schema cannot: profile names are unique, and every provider a profile names
/// is defined under `providers`.
pub(crate) fn check(cfg: &super::RouterConfig) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, p) in cfg.degrade_profiles.iter().enumerate() {
        if !seen.insert(p.name.as_str()) {
            return Err(format!("degrade_profiles[{i}].name: profile {:?} is defined twice", p.name));
        }
        let named = p.actions.provider.iter().map(|n| (n, "actions.provider".to_string())).chain(
            p.triggers.iter().enumerate().filter_map(|(j, t)| match t {
                DegradeTrigger::BreakerOpen { provider } => Some((provider, format!("triggers[{j}].provider"))),
                _ => None,
            }),
        );
        for (name, field) in named {
            if !cfg.providers.contains_key(name) {
                return Err(format!("degrade_profiles[{i}].{field}: provider {name:?} is not defined under providers"));
            }
        }
    }
    Ok(())
}
