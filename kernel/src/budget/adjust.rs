//! Compensating entries: `COST_ADJUSTED` corrects what a settled request cost by a signed delta,
//! in the same ledger transaction that checks it. The budget state counts it in the spent amounts
//! of the request's scopes; nothing already written is ever edited.

use serde::Serialize;

use super::{BudgetError, BudgetOp, Budgeter, with_budget};
use crate::ledger::{LedgerEntry, LedgerQuery, NewEntry, TxnView, event};

/// Policy id of an adjustment decision (see the governance decision convention).
pub const ADJUST_POLICY_ID: &str = "budget.adjust";

/// A correction to a settled request's cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Adjustment {
    /// Tenant the request must belong to (a request of another tenant is refused).
    pub tenant: String,
    /// The request corrected (its `request_id`, which is also its reservation id).
    pub request_id: String,
    /// Signed correction in micro-units.
    pub delta_micros: i64,
    /// Signed correction in tokens.
    pub delta_tokens: i64,
    /// Why (required).
    pub reason: String,
    /// Who (`operator:<user>`, a principal id, or `system`).
    pub actor: String,
}

fn invalid(msg: String) -> BudgetError {
    BudgetError::InvalidAdjustment(msg)
}

/// The settlement (`PROMPT_RECEIVED` with a `settle` op) of `request_id` seen in `view`.
fn settlement_of(view: &dyn TxnView, request_id: &str) -> Result<Option<LedgerEntry>, BudgetError> {
    let q = LedgerQuery { event_types: vec![event::PROMPT_RECEIVED.to_string()], ..LedgerQuery::default() };
    Ok(view.query(&q)?.into_iter().find(|e| {
        matches!(BudgetOp::of(e), Some(Ok(BudgetOp::Settle { ref reservation_id, .. })) if reservation_id == request_id)
    }))
}

impl Budgeter {
    /// Appends a `COST_ADJUSTED` entry for `adj` (decision `ADJUSTED`, `policy_id`
    /// `budget.adjust`, the actor, the settlement as parent). Refused, with nothing written, when
    /// the request has no settlement, both deltas are zero, the reason or actor is empty, or a
    /// scope's spent amount would drop below zero.
    pub fn adjust(&self, adj: &Adjustment) -> Result<LedgerEntry, BudgetError> {
        if adj.delta_micros == 0 && adj.delta_tokens == 0 {
            return Err(invalid("an adjustment needs a non-zero delta".into()));
        }
        if adj.reason.trim().is_empty() || adj.actor.trim().is_empty() {
            return Err(invalid("an adjustment needs a reason and an actor".into()));
        }
        let mut failure: Option<BudgetError> = None;
        let sealed = self.txn(&mut |_, inner, view| match Self::plan_adjust(&inner.state, view, adj) {
            Ok(e) => Ok(vec![e]),
            Err(err) => {
                failure = Some(err);
                Ok(Vec::new())
            }
        })?;
        if let Some(err) = failure {
            return Err(err);
        }
        sealed.into_iter().next().ok_or_else(|| invalid("adjustment not appended".into()))
    }

    fn plan_adjust(state: &super::BudgetState, view: &dyn TxnView, adj: &Adjustment) -> Result<NewEntry, BudgetError> {
        let settled = settlement_of(view, &adj.request_id)?
            .ok_or_else(|| invalid(format!("request {:?} has no settled PROMPT_RECEIVED to adjust", adj.request_id)))?;
        if settled.tenant_id.as_deref() != Some(adj.tenant.as_str()) {
            return Err(invalid(format!("request {:?} is not a request of tenant {:?}", adj.request_id, adj.tenant)));
        }
        let Some(Ok(BudgetOp::Settle { scopes, .. })) = BudgetOp::of(&settled) else {
            return Err(invalid(format!("request {:?}: settlement does not decode", adj.request_id)));
        };
        for sc in &scopes {
            let st = state.scopes.get(sc).cloned().unwrap_or_default();
            let low = |spent: u64, d: i64| i128::from(spent) + i128::from(d) < 0;
            if low(st.spent_micros, adj.delta_micros) || low(st.spent_tokens, adj.delta_tokens) {
                return Err(invalid(format!(
                    "{sc}: adjusting by {} micros / {} tokens would take spent ({} micros / {} tokens) below zero",
                    adj.delta_micros, adj.delta_tokens, st.spent_micros, st.spent_tokens
                )));
            }
        }
        let mut p = settled.provenance();
        p.parent_event_id = Some(settled.id.clone());
        let op = BudgetOp::Adjust {
            request_id: adj.request_id.clone(),
            scopes,
            delta_micros: adj.delta_micros,
            delta_tokens: adj.delta_tokens,
        };
        let e = NewEntry::new(event::COST_ADJUSTED)
            .decision("ADJUSTED")
            .reason(adj.reason.clone())
            .provenance(p)
            .meta("request_id", adj.request_id.clone())
            .meta("delta_micros", adj.delta_micros)
            .meta("delta_tokens", adj.delta_tokens)
            .meta("policy_id", ADJUST_POLICY_ID)
            .meta("actor", adj.actor.clone());
        Ok(with_budget(e, op.to_value()))
    }
}
