//! The router's hooks for cost governance: compensating entries (`COST_ADJUSTED`), per-work-order
//! cost and reconciliation of the budget with the ledger (see `crate::budget`).

use super::PromptRouter;
use super::types::RouterError;
use crate::auth::Action;
use crate::budget::{Adjustment, CostReport, ReconcileReport, ScopeKey, reconcile, work_order_cost};
use crate::ledger::{LedgerEntry, LedgerQuery, Provenance};

/// A correction as an operator asks for it (the actor is the token's principal).
#[derive(Debug, Clone)]
pub struct AdjustRequest {
    /// Tenant of the request.
    pub tenant: String,
    /// The request corrected.
    pub request_id: String,
    /// Signed micro-units.
    pub delta_micros: i64,
    /// Signed tokens.
    pub delta_tokens: i64,
    /// Why.
    pub reason: String,
}

impl PromptRouter {
    /// Appends a `COST_ADJUSTED` compensating entry (action `budget.allocate` on the tenant;
    /// the actor is the token's principal).
    pub fn adjust_cost(&self, token: &str, req: &AdjustRequest) -> Result<LedgerEntry, RouterError> {
        let p = self.authorize(token, Action::BudgetAllocate, &req.tenant)?;
        let adj = Adjustment {
            tenant: req.tenant.clone(),
            request_id: req.request_id.clone(),
            delta_micros: req.delta_micros,
            delta_tokens: req.delta_tokens,
            reason: req.reason.clone(),
            actor: p.principal,
        };
        Ok(self.budgeter.adjust(&adj)?)
    }

    /// What work order `work_order` of `tenant` cost (action `budget.read` on the tenant).
    pub fn work_order_cost(&self, token: &str, tenant: &str, work_order: &str) -> Result<CostReport, RouterError> {
        self.authorize(token, Action::BudgetRead, tenant)?;
        let q = LedgerQuery {
            provenance: Provenance {
                tenant_id: Some(tenant.to_string()),
                work_order_id: Some(work_order.to_string()),
                ..Provenance::default()
            },
            ..LedgerQuery::default()
        };
        let entries = self.store().query(&q)?;
        Ok(work_order_cost(&entries, tenant, work_order))
    }

    /// Reconciles the budgeter with its ledger, every scope or only `scope` (local operator tool).
    pub fn reconcile(&self, scope: Option<&ScopeKey>) -> Result<ReconcileReport, RouterError> {
        Ok(reconcile(&self.budgeter, self.store().as_ref(), scope)?)
    }
}
