//! The router's side of degrade: derive the shared state (entering or leaving a profile when
//! its triggers say so), apply a profile's actions while routing, and the operator's manual
//! degrade and resume.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::breaker::{BreakerState, CircuitBreaker};
use super::degrade::{
    ActiveDegrade, DegradeProfile, SYSTEM_ACTOR, TriggerInputs, active_in, entered, exited, recent_settled,
    shared_breakers,
};
use super::{PromptRouter, RouterError};
use crate::budget::BudgetState;
use crate::ledger::{LedgerEntry, LedgerError, NewEntry, TxnView};

/// The shared router state one route works under.
pub(crate) struct SharedState {
    /// The active profile, if any.
    pub active: Option<ActiveDegrade>,
    /// Breakers replayed from the ledger.
    pub breakers: BTreeMap<String, CircuitBreaker>,
}

/// What `cpctl router status` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DegradeStatus {
    /// The active profile, if any.
    pub active: Option<ActiveDegrade>,
    /// Each provider's breaker as derived from the ledger.
    pub breakers: BTreeMap<String, BreakerState>,
}

impl PromptRouter {
    /// The profile named `name` of the config.
    pub(crate) fn profile(&self, name: &str) -> Option<&DegradeProfile> {
        self.config.degrade_profiles.iter().find(|p| p.name == name)
    }

    /// The active profile's definition (`None` when none is active or the config no longer has it).
    pub(crate) fn active_profile(&self, s: &SharedState) -> Option<&DegradeProfile> {
        s.active.as_ref().and_then(|a| self.profile(&a.profile))
    }

    /// Derives the shared state at `now` in one ledger transaction, entering the first profile
    /// whose trigger fires (when none is active) or leaving an automatically entered profile
    /// whose triggers have all cleared. An operator's profile stays until `resume`.
    pub(crate) fn shared_state(&self, now: u64) -> Result<SharedState, RouterError> {
        let mut out: Option<SharedState> = None;
        self.budgeter.transact_with_state(&mut |budget, view| {
            let (state, entries) = self.derive(budget, view, now)?;
            out = Some(state);
            Ok(entries)
        })?;
        out.ok_or(RouterError::NotLogged { what: super::NotLogged::Rejection })
    }

    fn derive(
        &self,
        budget: &BudgetState,
        view: &dyn TxnView,
        now: u64,
    ) -> Result<(SharedState, Vec<NewEntry>), LedgerError> {
        let mut active = active_in(view)?;
        let settled = recent_settled(view, self.config.shared_state_window_entries)?;
        let breakers = shared_breakers(&self.config.providers, &settled);
        let inputs = TriggerInputs { breakers: &breakers, budget, settled: &settled, now_ms: now };
        let mut entries = Vec::new();
        if let Some(a) = active.as_ref().filter(|a| a.actor == SYSTEM_ACTOR) {
            let still = self.profile(&a.profile).and_then(|p| p.fired(&inputs));
            if still.is_none() {
                entries.push(exited(a, SYSTEM_ACTOR, "every trigger of the profile has cleared"));
                active = None;
            }
        }
        if active.is_none() {
            let fired = self.config.degrade_profiles.iter().find_map(|p| p.fired(&inputs).map(|t| (p, t)));
            if let Some((p, trigger)) = fired {
                let reason = format!("trigger {} fired", trigger["kind"].as_str().unwrap_or("?"));
                entries.push(entered(&p.name, SYSTEM_ACTOR, &reason, trigger.clone()));
                active = Some(ActiveDegrade { profile: p.name.clone(), actor: SYSTEM_ACTOR.into(), trigger, seq: 0 });
            }
        }
        Ok((SharedState { active, breakers }, entries))
    }

    /// Re-derives the shared state after a failed dispatch, so the process that saw the failure
    /// enters the profile it trips (a failure to do so is logged, never hidden).
    pub(crate) fn after_failure(&self) {
        if let Err(e) = self.shared_state(self.clock.now_ms()) {
            tracing::warn!(error = %e, "could not re-derive the degrade state after a failed dispatch");
        }
    }

    /// The shared degrade and breaker state now (may enter or leave a profile, logged).
    pub fn degrade_status(&self) -> Result<DegradeStatus, RouterError> {
        let now = self.clock.now_ms();
        let s = self.shared_state(now)?;
        let breakers = s.breakers.iter().map(|(n, b)| (n.clone(), b.state(now))).collect();
        Ok(DegradeStatus { active: s.active, breakers })
    }

    /// An operator enters profile `name` (leaving any active one first), logged as
    /// `DEGRADE_ENTERED` with `actor`. The profile stays until [`PromptRouter::resume`].
    pub fn degrade(&self, name: &str, reason: &str, actor: &str) -> Result<Vec<LedgerEntry>, RouterError> {
        if self.profile(name).is_none() {
            let known: Vec<&str> = self.config.degrade_profiles.iter().map(|p| p.name.as_str()).collect();
            let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
            return Err(RouterError::UnknownProfile { name: name.to_string(), known });
        }
        Ok(self.budgeter.transact_with_state(&mut |_, view| {
            let mut v = Vec::new();
            if let Some(a) = active_in(view)? {
                v.push(exited(&a, actor, &format!("operator entered profile {name}")));
            }
            v.push(entered(name, actor, reason, Value::Null));
            Ok(v)
        })?)
    }

    /// An operator hands back: leaves the active profile (logged as `DEGRADE_EXITED`); automatic
    /// triggers are evaluated again from the next route on. Nothing is written when no profile
    /// is active.
    pub fn resume(&self, reason: &str, actor: &str) -> Result<Vec<LedgerEntry>, RouterError> {
        Ok(self.budgeter.transact_with_state(&mut |_, view| {
            Ok(active_in(view)?.map(|a| exited(&a, actor, reason)).into_iter().collect())
        })?)
    }
}
