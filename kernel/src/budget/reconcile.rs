//! Reconciliation: every scope's budget recomputed from the ledger's budget records, by sums
//! independent of [`super::BudgetState`]'s incremental counters, and compared with what a
//! budgeter serves. Any difference is reported with its scope, field and amount.
//!
//! The recomputation reads the ledger up to the `seq` the served state was caught up to, so a
//! writer appending concurrently never shows up as a difference.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{BudgetError, BudgetOp, BudgetState, Budgeter, ScopeKey};
use crate::ledger::{LedgerEntry, LedgerQuery, LedgerStore};

/// A source of served budget state: the [`Budgeter`], or a test backend.
pub trait ServedBudget {
    /// The state as served now (caught up with the ledger).
    fn served(&self) -> Result<BudgetState, BudgetError>;
}

impl ServedBudget for Budgeter {
    fn served(&self) -> Result<BudgetState, BudgetError> {
        self.state()
    }
}

/// One scope as recomputed from the ledger (signed, never clamped: a negative sum is a finding).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ScopeTotals {
    /// Hard token limit of the last allocation.
    pub max_tokens: Option<u64>,
    /// Hard cost limit of the last allocation.
    pub max_cost_micros: Option<u64>,
    /// Tokens of reservations that nothing settled or released afterwards.
    pub reserved_tokens: i128,
    /// Micro-units of those reservations.
    pub reserved_micros: i128,
    /// Settled tokens plus token adjustments.
    pub spent_tokens: i128,
    /// Settled micro-units plus cost adjustments.
    pub spent_micros: i128,
}

/// One field of one scope that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScopeDifference {
    /// The scope.
    pub scope: String,
    /// The field (`spent_micros`, `reserved_tokens`, `max_cost_micros`, …).
    pub field: String,
    /// Value recomputed from the ledger (`None`: no limit).
    pub ledger: Option<i128>,
    /// Value the budgeter serves (`None`: no limit).
    pub served: Option<i128>,
    /// `served - ledger` when both are numbers.
    pub delta: Option<i128>,
}

/// The result of a reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    /// Last `seq` both sides account for (`None`: an empty ledger).
    pub at_seq: Option<u64>,
    /// Scopes compared.
    pub scopes_checked: usize,
    /// Every difference found.
    pub differences: Vec<ScopeDifference>,
    /// Seqs of entries whose budget record does not decode (counted against reconciliation).
    pub malformed: Vec<u64>,
}

impl ReconcileReport {
    /// Whether the ledger and the budgeter agree.
    pub fn is_clean(&self) -> bool {
        self.differences.is_empty() && self.malformed.is_empty()
    }
}

/// Recomputes every scope from `entries` (in `seq` order) by sums over the budget records.
/// Returns the totals and the seqs of malformed records.
pub fn recompute(entries: &[LedgerEntry]) -> (BTreeMap<String, ScopeTotals>, Vec<u64>) {
    let mut malformed = Vec::new();
    let ops: Vec<(u64, BudgetOp)> = entries
        .iter()
        .filter_map(|e| match BudgetOp::of(e)? {
            Ok(op) => Some((e.seq, op)),
            Err(_) => {
                malformed.push(e.seq);
                None
            }
        })
        .collect();
    let closed_after = closing_seqs(&ops);
    let mut out: BTreeMap<String, ScopeTotals> = BTreeMap::new();
    for (seq, op) in &ops {
        add_op(&mut out, *seq, op, &closed_after);
    }
    (out, malformed)
}

/// Seqs at which each reservation id was settled or released.
fn closing_seqs(ops: &[(u64, BudgetOp)]) -> BTreeMap<&str, Vec<u64>> {
    let mut m: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (seq, op) in ops {
        if let BudgetOp::Settle { reservation_id, .. } | BudgetOp::Release { reservation_id } = op {
            m.entry(reservation_id.as_str()).or_default().push(*seq);
        }
    }
    m
}

fn add_op(out: &mut BTreeMap<String, ScopeTotals>, seq: u64, op: &BudgetOp, closed: &BTreeMap<&str, Vec<u64>>) {
    match op {
        BudgetOp::Allocate { scope, max_tokens, max_cost_micros, .. } => {
            let t = out.entry(scope.clone()).or_default();
            t.max_tokens = *max_tokens;
            t.max_cost_micros = *max_cost_micros;
        }
        BudgetOp::Reserve(r) => {
            let open = !closed.get(r.reservation_id.as_str()).is_some_and(|v| v.iter().any(|s| *s > seq));
            for sc in &r.scopes {
                let t = out.entry(sc.clone()).or_default();
                if open {
                    t.reserved_tokens += i128::from(r.tokens);
                    t.reserved_micros += i128::from(r.micros);
                }
            }
        }
        BudgetOp::Settle { scopes, tokens, micros, .. } => {
            for sc in scopes {
                let t = out.entry(sc.clone()).or_default();
                t.spent_tokens += i128::from(*tokens);
                t.spent_micros += i128::from(*micros);
            }
        }
        BudgetOp::Adjust { scopes, delta_micros, delta_tokens, .. } => {
            for sc in scopes {
                let t = out.entry(sc.clone()).or_default();
                t.spent_tokens += i128::from(*delta_tokens);
                t.spent_micros += i128::from(*delta_micros);
            }
        }
        BudgetOp::Warn { scope, .. } => {
            out.entry(scope.clone()).or_default();
        }
        BudgetOp::Release { .. } => {}
    }
}

/// Compares `served` with the ledger of `store` up to the served state's `seq`; `only` limits
/// the comparison to one scope.
pub fn reconcile(
    served: &dyn ServedBudget,
    store: &dyn LedgerStore,
    only: Option<&ScopeKey>,
) -> Result<ReconcileReport, BudgetError> {
    let st = served.served()?;
    let entries: Vec<LedgerEntry> = match st.last_seq {
        None => Vec::new(),
        Some(last) => store.query(&LedgerQuery::default())?.into_iter().filter(|e| e.seq <= last).collect(),
    };
    let (ledger, mut malformed) = recompute(&entries);
    let only = only.map(ToString::to_string);
    let keys: BTreeSet<&String> =
        ledger.keys().chain(st.scopes.keys()).filter(|k| only.as_ref().is_none_or(|o| o == *k)).collect();
    let empty = ScopeTotals::default();
    let mut differences = Vec::new();
    for k in &keys {
        let l = ledger.get(*k).unwrap_or(&empty);
        let s = st.scopes.get(*k).cloned().unwrap_or_default();
        compare(k, l, &s, &mut differences);
    }
    // Malformed records the served state saw but the recomputation did not (or the reverse).
    malformed.extend(st.malformed.iter().copied().filter(|s| !malformed.contains(s)).collect::<Vec<_>>());
    malformed.sort_unstable();
    Ok(ReconcileReport { at_seq: st.last_seq, scopes_checked: keys.len(), differences, malformed })
}

fn compare(scope: &str, l: &ScopeTotals, s: &super::ScopeState, out: &mut Vec<ScopeDifference>) {
    let n = |v: u64| Some(i128::from(v));
    let lim = |v: Option<u64>| v.map(i128::from);
    let fields = [
        ("reserved_tokens", Some(l.reserved_tokens), n(s.reserved_tokens)),
        ("reserved_micros", Some(l.reserved_micros), n(s.reserved_micros)),
        ("spent_tokens", Some(l.spent_tokens), n(s.spent_tokens)),
        ("spent_micros", Some(l.spent_micros), n(s.spent_micros)),
        ("max_tokens", lim(l.max_tokens), lim(s.max_tokens)),
        ("max_cost_micros", lim(l.max_cost_micros), lim(s.max_cost_micros)),
    ];
    for (field, ledger, served) in fields {
        if ledger != served {
            let delta = ledger.zip(served).map(|(l, s)| s - l);
            out.push(ScopeDifference { scope: scope.to_string(), field: field.to_string(), ledger, served, delta });
        }
    }
}
