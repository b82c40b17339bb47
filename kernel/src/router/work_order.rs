//! The router's side of work orders: the runtime guard (`router_config.work_order_guard`), the
//! identity of work-order commands, and the [`WorkOrders`] of the router's ledger.
//!
//! Owns: [`WorkOrderGuard`] and the guard phase of [`PromptRouter::route`] (run after the
//! token is authorised, before any provider is chosen or budget reserved).
//! Never does: change a work order (that is [`WorkOrders`]); a refused prompt leaves a
//! `PROMPT_REJECTED` with code `WORK_ORDER_STATE`, `policy_id` `router.work_order_guard`,
//! the `actor` and the `work_order_state` it found (when it found one).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{PromptRequest, PromptRouter, RejectCode, RouterError, denial_code};
use crate::auth::{Action, Principal};
use crate::ledger::{NewEntry, Provenance, event};
use crate::plane::Plane;
use crate::policy::{self, PolicyDecision};
use crate::schema::SchemaSet;
use crate::work_order::{WorkOrderError, WorkOrders};

/// The runtime guard on a prompt's work order (`router_config.work_order_guard`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkOrderGuard {
    /// Whether every prompt must name a work order of the token's tenant in one of `states`
    /// (default false).
    pub required: bool,
    /// States a work order must be in for its prompts to be routed (default `[executing]`, as
    /// the schema says).
    pub states: Vec<String>,
}

impl Default for WorkOrderGuard {
    fn default() -> Self {
        Self { required: false, states: vec!["executing".into()] }
    }
}

/// Actions any of which a token must grant to use the work-order commands; the lifecycle's
/// roles then decide each creation and transition.
pub(crate) const WORK_ORDER_ACTIONS: [Action; 3] = [Action::Route, Action::BudgetRead, Action::LedgerRead];

impl PromptRouter {
    /// The guard phase: with `work_order_guard.required`, refuses (`WORK_ORDER_STATE`) a prompt
    /// whose work order is missing, unknown, another tenant's or in a state not listed.
    pub(super) fn guard_work_order(
        &self,
        req: &PromptRequest,
        request_id: &str,
        principal: &Principal,
    ) -> Result<(), RouterError> {
        let g = &self.config.work_order_guard;
        if !g.required {
            return Ok(());
        }
        let mut found: Option<String> = None;
        let problem = match req.provenance.work_order_id.as_deref().filter(|s| !s.is_empty()) {
            None => Some("the prompt names no work order (provenance.work_order_id) and the guard requires one".into()),
            Some(id) => {
                let q = crate::ledger::LedgerQuery {
                    event_types: vec![event::WO_CREATED.into(), event::WO_TRANSITIONED.into()],
                    provenance: Provenance { work_order_id: Some(id.into()), ..Provenance::default() },
                    ..Default::default()
                };
                match crate::work_order::derive_work_orders(&self.store().query(&q)?).remove(id) {
                    None => Some(format!("no work order {id}")),
                    Some(w) if w.work_order.tenant != principal.tenant => {
                        Some(format!("work order {id} is not one of tenant {}'s", principal.tenant))
                    }
                    Some(w) if !g.states.contains(&w.state) => {
                        let m = format!("work order {id} is {}, not one of {:?}", w.state, g.states);
                        found = Some(w.state);
                        Some(m)
                    }
                    Some(_) => None,
                }
            }
        };
        let Some(m) = problem else { return Ok(()) };
        let d = PolicyDecision::new(policy::WO_GUARD, "DENY", m.clone(), principal.principal.clone());
        let mut extra = Map::new();
        extra.insert(policy::POLICY_ID_KEY.into(), Value::String(d.policy_id));
        extra.insert(policy::ACTOR_KEY.into(), Value::String(d.actor));
        if let Some(s) = found {
            extra.insert("work_order_state".into(), Value::String(s));
        }
        Err(self.reject(RejectCode::WorkOrderState, m, req, request_id, extra))
    }

    /// The caller of a work-order command: `token` must verify and grant one of `route`,
    /// `budget.read`, `ledger.read` (the lifecycle's roles decide the rest); the tenant is the
    /// token's. A denial is logged as `ACCESS_DENIED`.
    pub fn work_order_principal(&self, token: &str) -> Result<Principal, RouterError> {
        let now = self.clock.now_ms();
        self.auth.authenticate(token, &WORK_ORDER_ACTIONS, None, now).map_err(|d| {
            let code = denial_code(&d);
            let e = NewEntry::new(event::ACCESS_DENIED)
                .provenance(Provenance::default())
                .meta("code", code.as_str())
                .meta("action", "work_order")
                .meta("principal", d.principal.clone());
            let actor = d.principal.clone().unwrap_or_else(|| "unknown".into());
            let e = PolicyDecision::new(policy::TENANT_SOVEREIGNTY, "DENY", d.message.clone(), actor).apply(e);
            match self.budgeter.append(vec![e]).map(|v| v.into_iter().next()) {
                Ok(Some(entry)) => self.rejected(code, d.message, &entry),
                Ok(None) => RouterError::NotLogged { what: super::NotLogged::Denial },
                Err(err) => RouterError::Budget(err),
            }
        })
    }

    /// The work orders of this router's ledger, their lifecycle read from `plane`; new work
    /// orders' budget scopes get `budget_config` `defaults.work_order` for unset limits.
    pub fn work_orders(&self, plane: &Plane) -> Result<WorkOrders, WorkOrderError> {
        let schemas =
            SchemaSet::for_plane(plane).map_err(|e| WorkOrderError::InvalidDocument(format!("schemas: {e}")))?;
        let limit = self.budgeter.config().defaults.work_order;
        WorkOrders::open(plane, schemas, self.store().clone(), limit)
    }
}
