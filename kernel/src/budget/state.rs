//! The budget state: a pure function of the ledger's `metadata.budget` records (see the parent
//! module for their ops).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{BudgetOp, ScopeKey};
use crate::ledger::LedgerEntry;

/// The budget of one scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeState {
    /// Hard limit in tokens (`None` = unlimited).
    pub max_tokens: Option<u64>,
    /// Hard limit in micro-units (`None` = unlimited).
    pub max_cost_micros: Option<u64>,
    /// Warning threshold in percent of a hard limit.
    pub warn_threshold_pct: u8,
    /// Whether the scope has an allocation (explicit or default).
    pub allocated: bool,
    /// Tokens held by open reservations.
    pub reserved_tokens: u64,
    /// Micro-units held by open reservations.
    pub reserved_micros: u64,
    /// Tokens settled.
    pub spent_tokens: u64,
    /// Micro-units settled.
    pub spent_micros: u64,
    /// Whether `BUDGET_WARNING` was logged since the last allocation.
    pub warned: bool,
    /// Net micro-units of the `COST_ADJUSTED` entries (already counted in `spent_micros`).
    #[serde(default)]
    pub adjusted_micros: i64,
    /// Net tokens of the `COST_ADJUSTED` entries (already counted in `spent_tokens`).
    #[serde(default)]
    pub adjusted_tokens: i64,
}

impl ScopeState {
    pub(super) fn used_tokens(&self) -> u64 {
        self.reserved_tokens.saturating_add(self.spent_tokens)
    }
    pub(super) fn used_micros(&self) -> u64 {
        self.reserved_micros.saturating_add(self.spent_micros)
    }
    pub(crate) fn over_warn(&self, extra_tokens: u64, extra_micros: u64) -> bool {
        let pct = u128::from(self.warn_threshold_pct);
        let crosses =
            |used: u64, max: Option<u64>| max.is_some_and(|m| u128::from(used) * 100 >= u128::from(m) * pct && m > 0);
        crosses(self.used_tokens().saturating_add(extra_tokens), self.max_tokens)
            || crosses(self.used_micros().saturating_add(extra_micros), self.max_cost_micros)
    }
}

/// An open reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// Reservation id (also the request id).
    pub reservation_id: String,
    /// Scopes charged, as strings.
    pub scopes: Vec<String>,
    /// Tokens reserved.
    pub tokens: u64,
    /// Micro-units reserved.
    pub micros: u64,
    /// Provider the reservation was made for.
    pub provider: String,
    /// Router clock at reservation (Unix ms).
    pub at_ms: u64,
    /// Price-book version used.
    pub price_book_version: String,
}

/// `v + delta`, clamped to `0..=u64::MAX` (the budgeter refuses an adjustment that would go
/// below zero, so the clamp only matters for a ledger written by something else — and
/// reconciliation, which does not clamp, reports it).
pub(crate) fn add_signed(v: u64, delta: i64) -> u64 {
    let r = i128::from(v) + i128::from(delta);
    u64::try_from(r.max(0)).unwrap_or(u64::MAX)
}

/// Budget state: a pure function of the ledger ([`BudgetState::from_entries`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BudgetState {
    /// Scopes by their string form.
    pub scopes: BTreeMap<String, ScopeState>,
    /// Open reservations by id.
    pub open: BTreeMap<String, Reservation>,
    /// Last `seq` applied.
    pub last_seq: Option<u64>,
    /// Seqs of entries whose `metadata.budget` could not be understood (never silently skipped:
    /// `cpctl budget show` and the tests report them).
    pub malformed: Vec<u64>,
}

impl BudgetState {
    /// The state after `entries` (in `seq` order).
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a LedgerEntry>) -> Self {
        let mut st = Self::default();
        for e in entries {
            st.apply(e);
        }
        st
    }

    /// Applies one entry (entries at or before `last_seq` are ignored).
    pub fn apply(&mut self, e: &LedgerEntry) {
        if self.last_seq.is_some_and(|l| e.seq <= l) {
            return;
        }
        self.last_seq = Some(e.seq);
        let op = match BudgetOp::of(e) {
            None => return,
            Some(Ok(op)) => op,
            Some(Err(_)) => {
                self.malformed.push(e.seq);
                return;
            }
        };
        match op {
            BudgetOp::Allocate { scope, max_tokens, max_cost_micros, warn_threshold_pct, .. } => {
                let sc = self.scopes.entry(scope).or_default();
                sc.max_tokens = max_tokens;
                sc.max_cost_micros = max_cost_micros;
                sc.warn_threshold_pct = warn_threshold_pct;
                sc.allocated = true;
                sc.warned = false;
            }
            BudgetOp::Warn { scope, .. } => self.scopes.entry(scope).or_default().warned = true,
            BudgetOp::Reserve(r) => {
                for sc in &r.scopes {
                    let st = self.scopes.entry(sc.clone()).or_default();
                    st.reserved_tokens = st.reserved_tokens.saturating_add(r.tokens);
                    st.reserved_micros = st.reserved_micros.saturating_add(r.micros);
                }
                self.open.insert(r.reservation_id.clone(), r);
            }
            BudgetOp::Settle { reservation_id, scopes, tokens, micros } => {
                self.release_open(&reservation_id);
                for sc in scopes {
                    let st = self.scopes.entry(sc).or_default();
                    st.spent_tokens = st.spent_tokens.saturating_add(tokens);
                    st.spent_micros = st.spent_micros.saturating_add(micros);
                }
            }
            BudgetOp::Release { reservation_id } => self.release_open(&reservation_id),
            BudgetOp::Adjust { scopes, delta_micros, delta_tokens, .. } => {
                for sc in scopes {
                    let st = self.scopes.entry(sc).or_default();
                    st.spent_micros = add_signed(st.spent_micros, delta_micros);
                    st.spent_tokens = add_signed(st.spent_tokens, delta_tokens);
                    st.adjusted_micros = st.adjusted_micros.saturating_add(delta_micros);
                    st.adjusted_tokens = st.adjusted_tokens.saturating_add(delta_tokens);
                }
            }
        }
    }

    fn release_open(&mut self, id: &str) {
        if let Some(r) = self.open.remove(id) {
            for sc in &r.scopes {
                let st = self.scopes.entry(sc.clone()).or_default();
                st.reserved_tokens = st.reserved_tokens.saturating_sub(r.tokens);
                st.reserved_micros = st.reserved_micros.saturating_sub(r.micros);
            }
        }
    }

    /// Scopes of `tenant`.
    pub fn scopes_of(&self, tenant: &str) -> BTreeMap<String, ScopeState> {
        self.scopes
            .iter()
            .filter(|(k, _)| k.parse::<ScopeKey>().is_ok_and(|s| s.tenant == tenant))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}
