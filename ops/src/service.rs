//! The service core (synchronous; the HTTP layer calls it through `spawn_blocking`): ingest
//! into the event store and the cost facts, compensating adjustments, and the queries over the
//! aggregates, which it builds from the stores at open and keeps incrementally.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde_json::Value;

use cp_kernel::policy::{self, PolicyDecision};
use cp_kernel::{Clock, LedgerEntry, LedgerSet, NewEntry, Plane, PreparedEntry, Provenance, SchemaSet, event};

use crate::auth::Refusal;
use crate::commit::{Lanes, Stored};
use crate::config::OpsConfig;
use crate::entries::{self, IdEvent};
use crate::error::OpsError;
use crate::event::{Event, Status};
use crate::ledgers::{self, EVENTS_PREFIX};
use crate::project::{self, Projector, StoredEntry};
use crate::views::{Attribution, FailureRow, Filter, HourPoint, Overview, TenantView};

/// What an ingest did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngestReport {
    /// Events stored by this request.
    pub accepted: usize,
    /// Events whose `id` was already stored (retries), not stored again.
    pub duplicates: usize,
    /// The id of every event of the request, in order.
    pub ids: Vec<String>,
}

/// What an adjustment did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdjustReport {
    /// The `COST_ADJUSTED` entry's id.
    pub entry_id: String,
    /// The adjusted event.
    pub event_id: String,
    /// The signed amount (USD).
    pub amount_usd: f64,
}

#[derive(Default)]
struct State {
    tenants: BTreeMap<String, TenantView>,
    prompt_cursor: Option<u64>,
    prompts_unattributed: u64,
    last_prompt_poll_ms: Option<u64>,
}

/// The operations service over one plane.
pub struct Ops {
    plane: Plane,
    set: LedgerSet,
    config: OpsConfig,
    clock: Arc<dyn Clock>,
    prompt_ledger: String,
    state: Mutex<State>,
    lanes: Lanes,
}

impl std::fmt::Debug for Ops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ops").field("root", &self.plane.root()).finish()
    }
}

impl Ops {
    /// Opens the service: loads the prompt ledger's name from the router config and builds the
    /// aggregates from the stores (projecting cost facts an interrupted ingest left out).
    pub fn open(plane: Plane, config: OpsConfig, clock: Arc<dyn Clock>) -> Result<Self, OpsError> {
        let schemas = SchemaSet::for_plane(&plane)?;
        let prompt_ledger = cp_kernel::load_router_configs(&plane, &schemas)?.router.ledger;
        let set = LedgerSet::new(&plane);
        let ops = Self {
            plane,
            set,
            config,
            clock,
            prompt_ledger,
            state: Mutex::new(State::default()),
            lanes: Lanes::default(),
        };
        ops.rebuild()?;
        Ok(ops)
    }

    /// The config in force.
    pub fn config(&self) -> &OpsConfig {
        &self.config
    }

    /// The plane.
    pub fn plane(&self) -> &Plane {
        &self.plane
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops the aggregates and builds them again from the event store, the cost facts and the
    /// plane's prompt entries (after the cost facts of every answered ingest are written).
    pub fn rebuild(&self) -> Result<(), OpsError> {
        self.flush_cost_facts();
        let mut st = self.lock();
        *st = State::default();
        for name in self.set.list()? {
            let name = name.to_string();
            if !name.starts_with(EVENTS_PREFIX) {
                continue;
            }
            let store = self.set.open_existing(&name)?;
            let Some(tenant) = ledgers::tenant_of(store.as_ref())? else { continue };
            self.load_tenant(&mut st, &tenant)?;
        }
        self.poll_prompts(&mut st)?;
        Ok(())
    }

    /// Loads one tenant's events and cost facts, then projects missing cost facts.
    fn load_tenant(&self, st: &mut State, tenant: &str) -> Result<(), OpsError> {
        let (ev_name, cost_name, _) = ledgers::names(tenant);
        let events = self.set.open(&ev_name)?;
        let costs = self.set.open(&cost_name)?;
        let view = st.tenants.entry(tenant.to_string()).or_default();
        let mut last_seq = None;
        ledgers::for_each(events.as_ref(), ledgers::tenant_query(tenant, &entries::EVENT_TYPES, None), &mut |e| {
            for (id, ev) in entries::events_of(&e)? {
                view.apply_event(&id, &ev);
            }
            last_seq = Some(e.seq);
            Ok(())
        })?;
        let mut projected: Option<u64> = None;
        let mut types = project::FACT_TYPES.to_vec();
        types.push(event::COST_ADJUSTED);
        ledgers::for_each(costs.as_ref(), ledgers::tenant_query(tenant, &types, None), &mut |e| {
            let covered = project::each_fact(&e, &mut |ts, usd, attr| view.apply_cost(ts, usd, attr));
            projected = projected.max(covered);
            Ok(())
        })?;
        if last_seq.is_some() && projected < last_seq {
            let q = ledgers::tenant_query(tenant, &entries::EVENT_TYPES, projected);
            let mut missing = Vec::new();
            ledgers::for_each(events.as_ref(), q, &mut |e| {
                missing.push(StoredEntry { seq: e.seq, events: entries::events_of(&e)? });
                Ok(())
            })?;
            tracing::warn!(tenant, count = missing.len(), "projecting cost facts an interrupted ingest left out");
            // Another process may project the same events meanwhile: the write skips the facts
            // that are stored by then.
            project::write_facts(tenant, costs.as_ref(), &missing, &mut None)?;
            for (_, e) in missing.iter().flat_map(|s| &s.events) {
                view.apply_cost(e.ts_ms, e.cost_usd, Attribution::of(e));
            }
        }
        Ok(())
    }

    /// Stores `events` for `tenant` (all or nothing): events whose `id` is already stored, or
    /// repeats an earlier event of the batch, are counted as duplicates and not stored again.
    /// Concurrent requests of a tenant are stored together (group commit); this returns once
    /// the events are durable, and their spend is in the views by then. Their cost facts are
    /// written right after by the tenant's projector ([`Ops::flush_cost_facts`] waits for them).
    pub fn ingest(&self, tenant: &str, events: Vec<Event>) -> Result<IngestReport, OpsError> {
        let lane = self.lanes.get(tenant, || {
            let (_, cost_name, _) = ledgers::names(tenant);
            Projector::spawn(tenant, self.set.open(&cost_name)?)
        })?;
        // Built before queueing, in the request's own thread: the group's leader only checks
        // for duplicates and appends.
        let prepared = Prepared::new(tenant, events);
        lane.submit(prepared, &|requests| self.store_events(tenant, requests))
    }

    /// Waits until the cost facts of every event stored so far are in the cost ledgers.
    pub fn flush_cost_facts(&self) {
        self.lanes.flush();
    }

    /// Stores a group of requests of `tenant` in one transaction of the event store, one
    /// `OPS_EVENTS` entry per request with events not stored before. Runs as the tenant lane's
    /// only leader, so the duplicate check cannot race another ingest of the tenant; the views'
    /// lock is held only while reading or updating memory, never across a ledger write.
    fn store_events(&self, tenant: &str, requests: Vec<Prepared>) -> Result<Stored, OpsError> {
        let (ev_name, _, _) = ledgers::names(tenant);
        let mut reports = Vec::with_capacity(requests.len());
        let mut kept = Vec::with_capacity(requests.len());
        {
            let mut st = self.lock();
            let view = st.tenants.entry(tenant.to_string()).or_default();
            let mut seen = HashSet::new();
            for Prepared { ids, events, entry } in requests {
                let n = events.len();
                let fresh: Vec<IdEvent> =
                    events.into_iter().filter(|(id, _)| !view.knows(id) && seen.insert(id.clone())).collect();
                reports.push(IngestReport { accepted: fresh.len(), duplicates: ids.len() - fresh.len(), ids });
                if !fresh.is_empty() {
                    // The request's own rendering holds exactly these events unless some were
                    // stored by an earlier request.
                    kept.push((entry.filter(|_| fresh.len() == n), fresh));
                }
            }
        }
        if kept.is_empty() {
            return Ok((reports, Vec::new()));
        }
        let rendered: Vec<PreparedEntry> = kept
            .iter_mut()
            .map(|(entry, fresh)| entry.take().unwrap_or_else(|| entries::events_entry(tenant, fresh).prepare()))
            .collect();
        let stored = self.set.open(&ev_name)?.append_prepared(rendered)?;
        // Applied as soon as they are stored: a retry of this request is then a duplicate even
        // if writing the cost facts fails (those are projected at the next open).
        let mut st = self.lock();
        let view = st.tenants.entry(tenant.to_string()).or_default();
        for (id, e) in kept.iter().flat_map(|(_, fresh)| fresh) {
            // The cost as the event's cost fact says it; the fact is written after the answer.
            view.apply_event_and_cost(id, e);
        }
        let stored = kept.into_iter().zip(stored).map(|((_, events), s)| StoredEntry { seq: s.seq, events }).collect();
        Ok((reports, stored))
    }

    /// Appends a compensating `COST_ADJUSTED` entry of `amount_usd` (signed) for a stored event.
    pub fn adjust(
        &self,
        tenant: &str,
        event_id: &str,
        amount_usd: f64,
        reason: &str,
        actor: &str,
    ) -> Result<AdjustReport, OpsError> {
        let max = self.config.limits.max_cost_usd;
        if !amount_usd.is_finite() || amount_usd == 0.0 || amount_usd.abs() > max {
            return Err(OpsError::Usage(format!(
                "amount_usd {amount_usd}: expected a non-zero finite number, at most {max} in absolute value"
            )));
        }
        if reason.trim().is_empty() {
            return Err(OpsError::Usage("reason: a non-empty reason is required".into()));
        }
        let mut st = self.lock();
        let Some(view) = st.tenants.get_mut(tenant) else {
            return Err(OpsError::Usage(format!("event_id {event_id:?}: no such event of tenant {tenant:?}")));
        };
        let Some(attr) = view.attribution(event_id).cloned() else {
            return Err(OpsError::Usage(format!("event_id {event_id:?}: no such event of tenant {tenant:?}")));
        };
        let now = i64::try_from(self.clock.now_ms()).unwrap_or(i64::MAX);
        let entry =
            project::adjustment_entry(tenant, event_id, amount_usd, now, &attr).reason(reason).meta("actor", actor);
        let (_, cost_name, _) = ledgers::names(tenant);
        let stored = self.set.open(&cost_name)?.append(entry)?;
        view.apply_cost(now, amount_usd, attr);
        Ok(AdjustReport { entry_id: stored.id, event_id: event_id.to_string(), amount_usd })
    }

    /// Reads the plane's `PROMPT_RECEIVED`/`PROMPT_FAILED` entries after the cursor into the views,
    /// and the budget's `COST_ADJUSTED` entries (`cpctl budget adjust`, in the same ledger) as
    /// spend of the adjusted request's tenant, attributed like the request.
    fn poll_prompts(&self, st: &mut State) -> Result<(), OpsError> {
        st.last_prompt_poll_ms = Some(self.clock.monotonic_ms());
        let store = match self.set.open_existing(&self.prompt_ledger) {
            Ok(s) => s,
            Err(cp_kernel::LedgerError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let q = cp_kernel::LedgerQuery {
            event_types: vec![event::PROMPT_RECEIVED.into(), event::PROMPT_FAILED.into(), event::COST_ADJUSTED.into()],
            after_seq: st.prompt_cursor,
            limit: Some(ledgers::PAGE),
            ..cp_kernel::LedgerQuery::default()
        };
        let mut cursor = st.prompt_cursor;
        let mut unattributed = 0;
        ledgers::for_each(store.as_ref(), q, &mut |e| {
            cursor = Some(e.seq);
            if e.event_type == event::COST_ADJUSTED {
                if !apply_budget_adjustment(&mut st.tenants, &e) {
                    unattributed += 1;
                }
                return Ok(());
            }
            match prompt_event(&e) {
                Some((tenant, id, ev)) => {
                    let v = st.tenants.entry(tenant).or_default();
                    v.apply_event(&id, &ev);
                    let attr = v.attribution(&id).cloned();
                    if let Some(a) = attr {
                        v.apply_cost(ev.ts_ms, ev.cost_usd, a);
                    }
                }
                None => unattributed += 1,
            }
            Ok(())
        })?;
        if unattributed > 0 {
            tracing::warn!(
                count = unattributed,
                "prompt or budget-adjustment entries without a known tenant or request are in no tenant's view"
            );
        }
        st.prompts_unattributed += unattributed;
        st.prompt_cursor = cursor;
        Ok(())
    }

    /// The state, with the prompt entries read when the poll interval has passed.
    fn fresh(&self) -> Result<MutexGuard<'_, State>, OpsError> {
        let mut st = self.lock();
        let due = st
            .last_prompt_poll_ms
            .is_none_or(|t| self.clock.monotonic_ms().saturating_sub(t) >= self.config.views.prompt_poll_ms);
        if due {
            self.poll_prompts(&mut st)?;
        }
        Ok(st)
    }

    fn now(&self) -> i64 {
        i64::try_from(self.clock.now_ms()).unwrap_or(i64::MAX)
    }

    /// The overview of a tenant.
    pub fn overview(&self, tenant: &str, window_hours: u32, f: &Filter) -> Result<Overview, OpsError> {
        let st = self.fresh()?;
        let empty = TenantView::default();
        Ok(st.tenants.get(tenant).unwrap_or(&empty).overview(self.now(), window_hours, f))
    }

    /// The newest failures of a tenant.
    pub fn failures(&self, tenant: &str, limit: usize, f: &Filter) -> Result<Vec<FailureRow>, OpsError> {
        let st = self.fresh()?;
        Ok(st.tenants.get(tenant).map(|v| v.recent_failures(limit, f)).unwrap_or_default())
    }

    /// Spend, runs and failures per hour.
    pub fn timeseries(&self, tenant: &str, window_hours: u32, f: &Filter) -> Result<Vec<HourPoint>, OpsError> {
        let st = self.fresh()?;
        let empty = TenantView::default();
        Ok(st.tenants.get(tenant).unwrap_or(&empty).timeseries(self.now(), window_hours, f))
    }

    /// Spend per budget scope of every tenant in `[from_ms, to_ms]`.
    pub fn spend_by_scope(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<BTreeMap<String, BTreeMap<String, f64>>, OpsError> {
        let st = self.fresh()?;
        Ok(st.tenants.iter().map(|(t, v)| (t.clone(), v.spend_by_scope(from_ms, to_ms))).collect())
    }

    /// Events applied per tenant (for the health check and `cpctl ops rebuild`).
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.lock().tenants.iter().map(|(t, v)| (t.clone(), v.events_applied())).collect()
    }

    /// Logs a policy waiver (`--dev`) to `HOT/governance`.
    pub fn record_waiver(&self, policy_id: &str, reason: &str, actor: &str) -> Result<(), OpsError> {
        let e = NewEntry::new(event::POLICY_WAIVED)
            .decision("WAIVED")
            .reason(reason)
            .meta("policy_id", policy_id)
            .meta("actor", actor);
        self.set.open(cp_kernel::LedgerName::GOVERNANCE)?.append(e)?;
        Ok(())
    }

    /// Logs a refused request to `HOT/governance` (`ACCESS_DENIED` under the tenant asked, with
    /// the kernel's reject code, `principal`, `tenant_asked` and `tenant_held`; `policy_id`
    /// `tenant.sovereignty` for a token of another tenant, `router.auth` / `router.roles` else).
    pub fn record_denial(&self, r: &Refusal) -> Result<(), OpsError> {
        let code = r.code();
        let actor = r.principal.as_deref().unwrap_or("anonymous");
        let d = PolicyDecision::new(policy::of_reject_code(code), "DENY", r.message.clone(), actor);
        let e = d
            .apply(NewEntry::new(event::ACCESS_DENIED))
            .provenance(Provenance { tenant_id: r.tenant_asked.clone(), ..Provenance::default() })
            .meta("code", code)
            .meta("action", "ops.api")
            .meta("principal", r.principal.clone())
            .meta("tenant_asked", r.tenant_asked.clone())
            .meta("tenant_held", r.tenant_held.clone());
        self.set.open(cp_kernel::LedgerName::GOVERNANCE)?.append(e)?;
        Ok(())
    }

    /// The ledger set (for the alert worker).
    pub(crate) fn ledgers(&self) -> &LedgerSet {
        &self.set
    }
}

/// A request's events ready to be stored: the id of each (the client's `id`, else a fresh
/// UUIDv7) in request order, the events without repeats of an id earlier in the request, and
/// their `OPS_EVENTS` entry rendered in the request's own thread (none when it has no events).
pub(crate) struct Prepared {
    ids: Vec<String>,
    events: Vec<IdEvent>,
    entry: Option<PreparedEntry>,
}

impl Prepared {
    fn new(tenant: &str, events: Vec<Event>) -> Self {
        let mut seen = HashSet::new();
        let mut ids = Vec::with_capacity(events.len());
        let mut fresh = Vec::with_capacity(events.len());
        for e in events {
            let id = e.field("id").map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_string);
            ids.push(id.clone());
            if seen.insert(id.clone()) {
                fresh.push((id, e));
            }
        }
        // Rendered here, in the request's thread, not in the lane's serial store.
        let entry = (!fresh.is_empty()).then(|| entries::events_entry(tenant, &fresh).prepare());
        Self { ids, events: fresh, entry }
    }
}

/// A plane prompt entry as an event of its tenant: (tenant, event id, event).
/// Applies a budget `COST_ADJUSTED` entry (metadata `delta_micros`, parent = the adjusted
/// request's `PROMPT_RECEIVED`) to its tenant's spend at the entry's time; false when it has no
/// tenant, no parent the view knows, or no readable time or delta.
fn apply_budget_adjustment(tenants: &mut BTreeMap<String, TenantView>, e: &LedgerEntry) -> bool {
    let (Some(tenant), Some(parent)) = (e.tenant_id.as_deref(), e.parent_event_id.as_deref()) else { return false };
    let Some(view) = tenants.get_mut(tenant) else { return false };
    let Some(attr) = view.attribution(&format!("prompt:{parent}")).cloned() else { return false };
    let Some(delta) = e.metadata.get("delta_micros").and_then(Value::as_i64) else { return false };
    let Ok(ts) = e.timestamp.parse::<jiff::Timestamp>() else { return false };
    view.apply_cost(ts.as_millisecond(), delta as f64 / 1e6, attr);
    true
}

fn prompt_event(e: &LedgerEntry) -> Option<(String, String, Event)> {
    let tenant = e.tenant_id.clone()?;
    let m = &e.metadata;
    let failed = e.event_type == event::PROMPT_FAILED;
    let ts: jiff::Timestamp = e.timestamp.parse().ok()?;
    let mut fields = BTreeMap::new();
    let request = m.get("request_id").and_then(Value::as_str).unwrap_or(&e.id).to_string();
    fields.insert("run_id".to_string(), format!("prompt:{request}"));
    fields.insert("model_call_id".to_string(), request);
    for (k, src) in [
        ("provider", "provider"),
        ("model", "model"),
        ("price_book_version", "price_book_version"),
        ("error_type", "error_code"),
    ] {
        if let Some(v) = m.get(src).and_then(Value::as_str) {
            fields.insert(k.to_string(), v.to_string());
        }
    }
    if let Some(t) = &e.trace_id {
        fields.insert("trace_id".into(), t.clone());
    }
    let ev = Event {
        timestamp: format!("{ts:.3}"),
        ts_ms: ts.as_millisecond(),
        agent_id: e.agent_id.clone().unwrap_or_else(|| "prompt-router".into()),
        workflow_id: "prompt-router".into(),
        status: if failed { Status::Failure } else { Status::Success },
        latency_ms: m.get("latency_ms").and_then(Value::as_u64).unwrap_or(0),
        cost_usd: m.get("cost_micros").and_then(Value::as_u64).map_or(0.0, |c| c as f64 / 1e6),
        fields,
        tokens: BTreeMap::new(),
    };
    Some((tenant, format!("prompt:{}", e.id), ev))
}
