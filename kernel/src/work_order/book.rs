//! [`WorkOrders`]: create, transition and read work orders on one ledger, each decision taken
//! under the ledger's write lock.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use super::config::{
    LifecycleConfig, WORK_ORDER_SCHEMA, WORK_ORDERS_CONFIG_PATH, WORK_ORDERS_CONFIG_SCHEMA, WORK_ORDERS_PACKAGE,
};
use super::state::{WorkOrderState, derive};
use super::{RefusalCode, WorkOrder, WorkOrderError};
use crate::auth::Principal;
use crate::budget::{BudgetOp, LimitConfig, ScopeKey, ScopeKind};
use crate::ledger::{LedgerEntry, LedgerError, LedgerQuery, LedgerStore, NewEntry, Provenance, TxnView, event};
use crate::plane::Plane;
use crate::policy::{self, PolicyDecision};
use crate::schema::SchemaSet;

/// The work orders of one ledger (the router's: creating one allocates its budget scope in the
/// same transaction, and the router's guard reads them there).
pub struct WorkOrders {
    config: LifecycleConfig,
    store: Arc<dyn LedgerStore>,
    default_budget: LimitConfig,
    schemas: SchemaSet,
}

impl std::fmt::Debug for WorkOrders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkOrders").field("ledger", &self.store.name()).finish()
    }
}

/// What a transaction decided: the outcome, filled in by the closure.
enum Decided {
    Done,
    Refused(RefusalCode, String),
    Denied(String),
}

impl WorkOrders {
    /// Work orders under `config` on `store`; a work order's budget scope gets
    /// `default_budget` (budget_config `defaults.work_order`) for any limit its document does not
    /// set. `schemas` checks work-order documents. Refuses a config that fails
    /// [`LifecycleConfig::validate`].
    pub fn new(
        config: LifecycleConfig,
        store: Arc<dyn LedgerStore>,
        default_budget: LimitConfig,
        schemas: SchemaSet,
    ) -> Result<Self, WorkOrderError> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(WorkOrderError::InvalidConfig { path: WORK_ORDERS_CONFIG_PATH.into(), problems });
        }
        Ok(Self { config, store, default_budget, schemas })
    }

    /// Work orders of `plane` on `store`, the lifecycle read from the plane's
    /// `HOT/config/work_orders.yaml` (checked against its schema).
    pub fn open(
        plane: &Plane,
        schemas: SchemaSet,
        store: Arc<dyn LedgerStore>,
        default_budget: LimitConfig,
    ) -> Result<Self, WorkOrderError> {
        let path = plane.resolve(WORK_ORDERS_CONFIG_PATH).map_err(|e| WorkOrderError::Plane(Box::new(e)))?;
        if !path.is_file() {
            return Err(WorkOrderError::MissingConfig { path, package: WORK_ORDERS_PACKAGE });
        }
        let config: LifecycleConfig = schemas.load_document(WORK_ORDERS_CONFIG_SCHEMA, &path)?;
        Self::new(config, store, default_budget, schemas)
    }

    /// The lifecycle.
    pub fn config(&self) -> &LifecycleConfig {
        &self.config
    }

    /// Creates `wo` as `actor` (who must hold one of `create_roles` and be bound to the work
    /// order's tenant): one transaction appends `WO_CREATED` and the `BUDGET_ALLOCATED` of scope
    /// `work_order/<tenant>/<id>`. A duplicate id, an unknown or foreign parent, or a role not
    /// allowed is refused and logged (`WO_TRANSITION_REFUSED`); another tenant's work order,
    /// `ACCESS_DENIED`. A document that fails its schema is refused before anything is logged.
    pub fn create(&self, actor: &Principal, wo: WorkOrder) -> Result<LedgerEntry, WorkOrderError> {
        let doc = serde_json::to_value(&wo).map_err(|e| WorkOrderError::InvalidDocument(e.to_string()))?;
        self.schemas.validate(WORK_ORDER_SCHEMA, &doc)?;
        let initial = self.config.initial_state.clone();
        let mut decided = Decided::Done;
        let sealed = self.store.transact(&mut |view| {
            let (d, entries) = self.plan_create(view, actor, &wo, &doc, &initial)?;
            decided = d;
            Ok(entries)
        })?;
        self.finish(decided, sealed, event::WO_CREATED)
    }

    fn plan_create(
        &self,
        view: &dyn TxnView,
        actor: &Principal,
        wo: &WorkOrder,
        doc: &Value,
        initial: &str,
    ) -> Result<(Decided, Vec<NewEntry>), LedgerError> {
        if actor.tenant != wo.tenant {
            return Ok(self.denied(actor, wo, "create"));
        }
        let refuse = |code: RefusalCode, m: String| {
            let e = self.refusal(actor, wo, None, initial, code, &m);
            Ok((Decided::Refused(code, m), vec![e]))
        };
        if !self.config.create_roles.iter().any(|r| actor.roles.contains(r)) {
            let m = format!(
                "roles {:?} may not create work orders (create_roles {:?})",
                actor.roles, self.config.create_roles
            );
            return refuse(RefusalCode::RoleNotAllowed, m);
        }
        if !self.states(view, &wo.id)?.is_empty() {
            return refuse(RefusalCode::DuplicateId, format!("work order {} already exists", wo.id));
        }
        if let Some(parent) = &wo.parent {
            let found = self.states(view, parent)?.remove(parent);
            if found.is_none_or(|p| p.work_order.tenant != wo.tenant) {
                return refuse(
                    RefusalCode::UnknownParent,
                    format!("parent {parent} is not a work order of {}", wo.tenant),
                );
            }
        }
        let d = PolicyDecision::new(
            policy::WO_LIFECYCLE,
            "ALLOW",
            format!("{} created {} in state {initial}", actor.principal, wo.id),
            actor.principal.clone(),
        );
        let created = d
            .apply(NewEntry::new(event::WO_CREATED))
            .provenance(prov(wo))
            .meta("work_order", doc.clone())
            .meta("state", initial);
        Ok((Decided::Done, vec![created, self.allocation(actor, wo)]))
    }

    /// The `BUDGET_ALLOCATED` entry of a new work order's scope.
    fn allocation(&self, actor: &Principal, wo: &WorkOrder) -> NewEntry {
        let scope = ScopeKey::new(ScopeKind::WorkOrder, wo.tenant.clone(), wo.id.clone());
        let b = wo.budget.unwrap_or_default();
        let explicit = b.max_tokens.is_some() || b.max_cost_micros.is_some();
        let source = if explicit { "explicit" } else { "default" };
        let op = BudgetOp::Allocate {
            scope: scope.to_string(),
            max_tokens: b.max_tokens.or(self.default_budget.max_tokens),
            max_cost_micros: b.max_cost_micros.or(self.default_budget.max_cost_micros),
            warn_threshold_pct: self.default_budget.warn_threshold_pct,
            source: source.into(),
        };
        NewEntry::new(event::BUDGET_ALLOCATED)
            .decision("ALLOW")
            .reason(format!("{source} allocation for {scope} at the creation of {}", wo.id))
            .provenance(prov(wo))
            .meta("budget", op.to_value())
            .meta("principal", actor.principal.clone())
            .meta(policy::POLICY_ID_KEY, policy::BUDGET_ALLOCATION)
            .meta(policy::ACTOR_KEY, actor.principal.clone())
    }

    /// Moves work order `id` to `to` as `actor`, with `reason`. Legal only when the lifecycle
    /// lists `current → to` and `actor` holds one of its roles; decided under the ledger's write
    /// lock, so of two processes making the same transition one wins and the other is refused
    /// (`ILLEGAL_TRANSITION` from the state the winner left). Every refusal is logged.
    pub fn transition(
        &self,
        actor: &Principal,
        id: &str,
        to: &str,
        reason: &str,
    ) -> Result<LedgerEntry, WorkOrderError> {
        let mut decided = Decided::Done;
        let sealed = self.store.transact(&mut |view| {
            let (d, entries) = self.plan_transition(view, actor, id, to, reason)?;
            decided = d;
            Ok(entries)
        })?;
        self.finish(decided, sealed, event::WO_TRANSITIONED)
    }

    fn plan_transition(
        &self,
        view: &dyn TxnView,
        actor: &Principal,
        id: &str,
        to: &str,
        reason: &str,
    ) -> Result<(Decided, Vec<NewEntry>), LedgerError> {
        let Some(cur) = self.states(view, id)?.remove(id) else {
            let ghost = WorkOrder::new(id, actor.tenant.clone(), "");
            let m = format!("no work order {id} for tenant {}", actor.tenant);
            let e = self.refusal(actor, &ghost, None, to, RefusalCode::UnknownWorkOrder, &m);
            return Ok((Decided::Refused(RefusalCode::UnknownWorkOrder, m), vec![e]));
        };
        let wo = &cur.work_order;
        if actor.tenant != wo.tenant {
            return Ok(self.denied(actor, wo, "transition"));
        }
        let from = cur.state.as_str();
        let (code, m) = match self.config.rule(from, to) {
            _ if !self.config.has_state(to) => {
                (RefusalCode::UnknownState, format!("{to:?} is not a state (states {:?})", self.config.states))
            }
            None if self.config.is_terminal(from) => {
                (RefusalCode::IllegalTransition, format!("{id} is {from}, a terminal state: no transition leaves it"))
            }
            None => (RefusalCode::IllegalTransition, format!("{from} → {to} is not a legal transition")),
            Some(r) if !r.roles.iter().any(|x| actor.roles.contains(x)) => (
                RefusalCode::RoleNotAllowed,
                format!(
                    "{} ({from} → {to}) needs one of roles {:?}; {} holds {:?}",
                    r.name, r.roles, actor.principal, actor.roles
                ),
            ),
            Some(r) => {
                let d = PolicyDecision::new(policy::WO_LIFECYCLE, "ALLOW", reason, actor.principal.clone());
                let e = d
                    .apply(NewEntry::new(event::WO_TRANSITIONED))
                    .provenance(prov(wo))
                    .meta("from", from)
                    .meta("to", to)
                    .meta("transition", r.name.clone());
                return Ok((Decided::Done, vec![e]));
            }
        };
        let e = self.refusal(actor, wo, Some(from), to, code, &m);
        Ok((Decided::Refused(code, m), vec![e]))
    }

    /// Work order `id` as `actor` may see it: only its own tenant's (another tenant's is denied
    /// and logged as `ACCESS_DENIED`; a missing one is [`WorkOrderError::NotFound`]).
    pub fn get(&self, actor: &Principal, id: &str) -> Result<WorkOrderState, WorkOrderError> {
        let Some(w) = self.state_of(id)? else {
            return Err(WorkOrderError::NotFound { id: id.to_string(), tenant: actor.tenant.clone() });
        };
        if w.work_order.tenant != actor.tenant {
            let (d, entries) = self.denied(actor, &w.work_order, "read");
            let sealed = self.store.append_batch(entries)?;
            return self.finish(d, sealed, "").map(|_| w);
        }
        Ok(w)
    }

    /// The work orders of `actor`'s tenant, by id.
    pub fn list(&self, actor: &Principal) -> Result<Vec<WorkOrderState>, WorkOrderError> {
        let q = query(Provenance { tenant_id: Some(actor.tenant.clone()), ..Provenance::default() });
        let all = derive(&self.store.query(&q)?);
        Ok(all.into_values().filter(|w| w.work_order.tenant == actor.tenant).collect())
    }

    /// Work order `id` and its state, read without any identity (for the router's guard, which
    /// checks the tenant itself).
    pub fn state_of(&self, id: &str) -> Result<Option<WorkOrderState>, LedgerError> {
        let q = query(Provenance { work_order_id: Some(id.to_string()), ..Provenance::default() });
        Ok(derive(&self.store.query(&q)?).remove(id))
    }

    fn states(&self, view: &dyn TxnView, id: &str) -> Result<BTreeMap<String, WorkOrderState>, LedgerError> {
        let q = query(Provenance { work_order_id: Some(id.to_string()), ..Provenance::default() });
        Ok(derive(&view.query(&q)?))
    }

    fn refusal(
        &self,
        actor: &Principal,
        wo: &WorkOrder,
        from: Option<&str>,
        to: &str,
        code: RefusalCode,
        m: &str,
    ) -> NewEntry {
        let d = PolicyDecision::new(policy::WO_LIFECYCLE, "REFUSED", m, actor.principal.clone());
        let mut e = d
            .apply(NewEntry::new(event::WO_TRANSITION_REFUSED))
            .provenance(prov(wo))
            .meta("to", to)
            .meta("code", code.as_str())
            .meta("roles", actor.roles.clone());
        if let Some(f) = from {
            e = e.meta("from", f);
        }
        e
    }

    /// A cross-tenant attempt: the decision and its `ACCESS_DENIED` entry (recorded under the
    /// tenant asked, naming the tenant held).
    fn denied(&self, actor: &Principal, wo: &WorkOrder, what: &str) -> (Decided, Vec<NewEntry>) {
        let m = format!(
            "{} (tenant {}) may not {what} work order {} of tenant {}",
            actor.principal, actor.tenant, wo.id, wo.tenant
        );
        let d = PolicyDecision::new(policy::TENANT_SOVEREIGNTY, "DENY", m.clone(), actor.principal.clone());
        let e = d
            .apply(NewEntry::new(event::ACCESS_DENIED))
            .provenance(Provenance {
                tenant_id: Some(wo.tenant.clone()),
                work_order_id: Some(wo.id.clone()),
                ..Provenance::default()
            })
            .meta("code", "FORBIDDEN")
            .meta("action", format!("work_order.{what}"))
            .meta("principal", actor.principal.clone())
            .meta("tenant_asked", wo.tenant.clone())
            .meta("tenant_held", actor.tenant.clone());
        (Decided::Denied(m), vec![e])
    }

    /// The entry of type `want` appended by a transaction that decided `d`, or its refusal.
    fn finish(&self, d: Decided, sealed: Vec<LedgerEntry>, want: &str) -> Result<LedgerEntry, WorkOrderError> {
        let first = sealed.first().cloned();
        let logged = |f: Option<LedgerEntry>| {
            f.ok_or_else(|| WorkOrderError::Ledger(LedgerError::Aborted("decision not logged".into())))
        };
        match d {
            Decided::Done => logged(sealed.into_iter().find(|e| e.event_type == want)),
            Decided::Refused(code, message) => {
                let e = logged(first)?;
                Err(WorkOrderError::Refused { code, message, entry_id: e.id, seq: e.seq })
            }
            Decided::Denied(message) => {
                let e = logged(first)?;
                Err(WorkOrderError::AccessDenied { message, entry_id: e.id, seq: e.seq })
            }
        }
    }
}

/// The provenance of a work order's entries.
fn prov(wo: &WorkOrder) -> Provenance {
    Provenance {
        tenant_id: Some(wo.tenant.clone()),
        work_order_id: Some(wo.id.clone()),
        framework_id: wo.framework.clone(),
        ..Provenance::default()
    }
}

/// The work-order entries matching `p`.
fn query(p: Provenance) -> LedgerQuery {
    LedgerQuery {
        event_types: vec![event::WO_CREATED.into(), event::WO_TRANSITIONED.into(), event::WO_TRANSITION_REFUSED.into()],
        provenance: p,
        ..LedgerQuery::default()
    }
}
