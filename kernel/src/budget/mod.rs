//! The token budgeter: hierarchical scopes tenant → session → work order → agent; allocate,
//! reserve, settle and release, each in the same ledger transaction as the router's entry.
//!
//! Owns: the budget state ([`BudgetState`], a pure function of the ledger), the limit and
//! rate-limit checks, the price book lookup ([`PriceBook`]), and dangling-reservation recovery.
//! Never does: call a provider, authenticate, or keep any state that the ledger does not hold
//! (a new [`Budgeter`] on the same ledger rebuilds exactly the same state).
//!
//! On the ledger: every budget change is an entry whose `metadata.budget` object has an `op`:
//! * `allocate` — `{op, scope, max_tokens, max_cost_micros, warn_threshold_pct, source}`
//!   (`BUDGET_ALLOCATED`; `source` is `explicit` or `default`);
//! * `reserve` — `{op, reservation_id, scopes[], tokens, micros, provider, at_ms,
//!   price_book_version}` (inside `PROMPT_SENT`);
//! * `settle` — `{op, reservation_id, scopes[], tokens, micros}` (inside `PROMPT_RECEIVED`);
//! * `release` — `{op, reservation_id}` (inside `PROMPT_FAILED` or `BUDGET_RECOVERED`);
//! * `warn` — `{op, scope, used_tokens, used_micros}` (`BUDGET_WARNING`, once per allocation);
//! * `adjust` — `{op, request_id, scopes[], delta_micros, delta_tokens}` (`COST_ADJUSTED`, a
//!   compensating entry added to the spent amounts; see [`Budgeter::adjust`]).
//!
//! [`reconcile`] recomputes every scope from these records and compares it with a budgeter.
//!
//! Money is integer micro-units of the price book's currency; tokens are integers.

mod adjust;
mod config;
mod cost;
mod op;
mod rate;
mod reconcile;
mod state;

pub use adjust::{ADJUST_POLICY_ID, Adjustment};
pub use config::{
    BUDGET_CONFIG_PATH, BUDGET_CONFIG_SCHEMA, BUDGET_PACKAGE, BudgetConfig, InputBound, LimitConfig, PRICE_BOOK_PATH,
    PRICE_BOOK_SCHEMA, Price, PriceBook, PriceVersion, RateLimitRule, RateTarget, ScopeDefaults,
};
pub use cost::{CostLine, CostReport, WorkOrderAdjustment, work_order_cost};
pub use op::BudgetOp;
pub use rate::RateState;
pub use reconcile::{ReconcileReport, ScopeDifference, ScopeTotals, ServedBudget, recompute, reconcile};
pub use state::BudgetState;
pub(crate) use state::{Reservation, ScopeState};

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ledger::{LedgerEntry, LedgerError, LedgerQuery, LedgerStore, NewEntry, Provenance, TxnView, event};
use crate::policy;

/// Errors of the budgeter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BudgetError {
    /// The ledger failed.
    #[error("budget ledger error")]
    Ledger(
        #[from]
        #[source]
        LedgerError,
    ),
    /// A scope string does not parse.
    #[error("invalid budget scope {0:?} (expected tenant/T, session/T/S, work_order/T/W or agent/T/A)")]
    InvalidScope(String),
    /// A limit outside what `budget_config.schema.json` allows.
    #[error("invalid budget limit: {0}")]
    InvalidLimit(String),
    /// A `COST_ADJUSTED` that cannot be applied (nothing was written).
    #[error("invalid cost adjustment: {0}")]
    InvalidAdjustment(String),
}

/// Kind of a budget scope, outermost first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    /// A tenant.
    Tenant,
    /// A session of a tenant.
    Session,
    /// A work order of a tenant.
    WorkOrder,
    /// An agent of a tenant.
    Agent,
}

impl ScopeKind {
    /// The name used in scope strings.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::Session => "session",
            Self::WorkOrder => "work_order",
            Self::Agent => "agent",
        }
    }
}

/// A budget scope: `tenant/T`, `session/T/S`, `work_order/T/W` or `agent/T/A`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScopeKey {
    /// Kind.
    pub kind: ScopeKind,
    /// Tenant the scope belongs to.
    pub tenant: String,
    /// Id inside the tenant (empty for the tenant scope).
    pub id: String,
}

impl ScopeKey {
    /// The tenant scope.
    pub fn tenant(t: impl Into<String>) -> Self {
        Self { kind: ScopeKind::Tenant, tenant: t.into(), id: String::new() }
    }

    /// A scope of `kind` with `id` inside tenant `t`.
    pub fn new(kind: ScopeKind, t: impl Into<String>, id: impl Into<String>) -> Self {
        if kind == ScopeKind::Tenant {
            return Self::tenant(t);
        }
        Self { kind, tenant: t.into(), id: id.into() }
    }

    /// The chain of scopes a request with this provenance charges, outermost first; `None`
    /// without a tenant.
    pub fn chain(p: &Provenance) -> Option<Vec<ScopeKey>> {
        let t = p.tenant_id.as_deref().filter(|t| !t.is_empty())?;
        let mut v = vec![Self::tenant(t)];
        for (kind, id) in [
            (ScopeKind::Session, &p.session_id),
            (ScopeKind::WorkOrder, &p.work_order_id),
            (ScopeKind::Agent, &p.agent_id),
        ] {
            if let Some(id) = id.as_deref().filter(|s| !s.is_empty()) {
                v.push(Self::new(kind, t, id));
            }
        }
        Some(v)
    }
}

impl fmt::Display for ScopeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ScopeKind::Tenant => write!(f, "tenant/{}", self.tenant),
            k => write!(f, "{}/{}/{}", k.as_str(), self.tenant, self.id),
        }
    }
}

impl FromStr for ScopeKey {
    type Err = BudgetError;
    fn from_str(s: &str) -> Result<Self, BudgetError> {
        let bad = || BudgetError::InvalidScope(s.to_string());
        let parts: Vec<&str> = s.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad());
        }
        match parts.as_slice() {
            ["tenant", t] => Ok(Self::tenant(*t)),
            ["session", t, id] => Ok(Self::new(ScopeKind::Session, *t, *id)),
            ["work_order", t, id] => Ok(Self::new(ScopeKind::WorkOrder, *t, *id)),
            ["agent", t, id] => Ok(Self::new(ScopeKind::Agent, *t, *id)),
            _ => Err(bad()),
        }
    }
}

/// Why a reservation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefusalKind {
    /// A hard limit would be exceeded.
    BudgetExhausted,
    /// A rate limit would be exceeded.
    RateLimited,
}

/// A refused reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// Kind.
    pub kind: RefusalKind,
    /// Scope or rate key that refused.
    pub scope: String,
    /// What would be exceeded, in words.
    pub message: String,
}

/// What to reserve.
#[derive(Debug, Clone)]
pub struct ReserveRequest {
    /// Reservation id.
    pub reservation_id: String,
    /// Scopes charged, outermost first.
    pub scopes: Vec<ScopeKey>,
    /// Provider (for per-provider rate limits).
    pub provider: String,
    /// Tokens (input estimate + max output).
    pub tokens: u64,
    /// Micro-units at the price-book rate.
    pub micros: u64,
    /// Router clock (Unix ms).
    pub now_ms: u64,
    /// Price-book version used.
    pub price_book_version: String,
}

/// Result of a reservation transaction.
#[derive(Debug, Clone)]
pub struct ReserveOutcome {
    /// The reservation, or why it was refused.
    pub decision: Result<Reservation, Refusal>,
    /// Entries appended in the transaction (allocations, the caller's entry, warnings).
    pub entries: Vec<LedgerEntry>,
}

/// A budget transaction body: sees the budgeter, its caught-up state and the chain.
type BudgetTxnFn<'a> = dyn FnMut(&Budgeter, &mut Inner, &dyn TxnView) -> Result<Vec<NewEntry>, LedgerError> + 'a;

/// A transaction body that sees the caught-up budget state and the chain.
pub(crate) type StateTxnFn<'a> = dyn FnMut(&BudgetState, &dyn TxnView) -> Result<Vec<NewEntry>, LedgerError> + 'a;

struct Inner {
    state: BudgetState,
    rate: RateState,
}

/// The budgeter over one ledger store.
pub struct Budgeter {
    config: BudgetConfig,
    store: Arc<dyn LedgerStore>,
    inner: Mutex<Inner>,
}

impl fmt::Debug for Budgeter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budgeter").field("ledger", &self.store.name()).finish()
    }
}

fn with_budget(mut e: NewEntry, budget: Value) -> NewEntry {
    e.metadata.insert("budget".into(), budget);
    e
}

impl Budgeter {
    /// A budgeter over `store`, its state rebuilt from the ledger.
    pub fn open(config: BudgetConfig, store: Arc<dyn LedgerStore>) -> Result<Self, BudgetError> {
        let b = Self {
            config,
            store,
            inner: Mutex::new(Inner { state: BudgetState::default(), rate: RateState::default() }),
        };
        b.state()?;
        Ok(b)
    }

    /// The configuration.
    pub fn config(&self) -> &BudgetConfig {
        &self.config
    }

    /// The ledger store.
    pub fn store(&self) -> &Arc<dyn LedgerStore> {
        &self.store
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn catch_up(&self, inner: &mut Inner, entries: &[LedgerEntry]) {
        for e in entries {
            inner.state.apply(e);
            inner.rate.apply(e, &self.config.rate_limits);
        }
    }

    fn after(inner: &Inner) -> LedgerQuery {
        LedgerQuery { after_seq: inner.state.last_seq, ..LedgerQuery::default() }
    }

    /// Applies the entries appended since the last one seen (nothing to read when the head is
    /// that entry: the common case when every writer in the process goes through here).
    fn sync(&self, inner: &mut Inner, view: &dyn TxnView) -> Result<(), LedgerError> {
        if view.head().map(|h| h.seq) == inner.state.last_seq {
            return Ok(());
        }
        let new = view.query(&Self::after(inner))?;
        self.catch_up(inner, &new);
        Ok(())
    }

    /// Runs `f` in one ledger transaction after catching up, then applies what was appended.
    fn txn(&self, f: &mut BudgetTxnFn<'_>) -> Result<Vec<LedgerEntry>, BudgetError> {
        let mut g = self.lock();
        let sealed = self.store.transact(&mut |view: &dyn TxnView| {
            self.sync(&mut g, view)?;
            f(self, &mut g, view)
        })?;
        self.catch_up(&mut g, &sealed);
        Ok(sealed)
    }

    /// Runs `f` in one ledger transaction with the caught-up budget state and appends what it
    /// returns (router decisions that must be atomic across processes, e.g. entering a degrade
    /// profile).
    pub(crate) fn transact_with_state(&self, f: &mut StateTxnFn<'_>) -> Result<Vec<LedgerEntry>, BudgetError> {
        self.txn(&mut |_, inner, view| f(&inner.state, view))
    }

    /// Appends `entries` in one transaction, keeping the state in step (the router writes every
    /// entry of its ledger through here).
    pub fn append(&self, entries: Vec<NewEntry>) -> Result<Vec<LedgerEntry>, BudgetError> {
        // Cloned per run: the store may run the transaction again (see `LedgerStore::transact`).
        self.txn(&mut |_, _, _| Ok(entries.clone()))
    }

    /// The current state (caught up with the ledger, including other processes' writes). Reads
    /// inside an empty transaction, so a concurrent writer is never seen half-way.
    pub fn state(&self) -> Result<BudgetState, BudgetError> {
        self.txn(&mut |_, _, _| Ok(Vec::new()))?;
        Ok(self.lock().state.clone())
    }

    /// Estimated tokens of `chars` characters of input (`chars_per_token` from the config, rounded up).
    pub fn estimate_tokens(&self, chars: usize) -> u64 {
        (chars as u64).div_ceil(self.config.chars_per_token.max(1))
    }

    /// Upper bound of the input tokens a provider can count for a prompt of `bytes` UTF-8 bytes:
    /// `ceil(bytes / input_bound.min_bytes_per_token) + input_bound.overhead_tokens`.
    pub fn input_token_bound(&self, bytes: usize) -> u64 {
        let b = &self.config.input_bound;
        (bytes as u64).div_ceil(b.min_bytes_per_token.max(1)).saturating_add(b.overhead_tokens)
    }

    fn default_limit(&self, kind: ScopeKind) -> LimitConfig {
        let d = &self.config.defaults;
        match kind {
            ScopeKind::Tenant => d.tenant,
            ScopeKind::Session => d.session,
            ScopeKind::WorkOrder => d.work_order,
            ScopeKind::Agent => d.agent,
        }
    }

    fn provenance_of(scope: &ScopeKey) -> Provenance {
        let mut p = Provenance { tenant_id: Some(scope.tenant.clone()), ..Provenance::default() };
        match scope.kind {
            ScopeKind::Tenant => {}
            ScopeKind::Session => p.session_id = Some(scope.id.clone()),
            ScopeKind::WorkOrder => p.work_order_id = Some(scope.id.clone()),
            ScopeKind::Agent => p.agent_id = Some(scope.id.clone()),
        }
        p
    }

    fn allocation_entry(scope: &ScopeKey, limit: LimitConfig, source: &str) -> NewEntry {
        NewEntry::new(event::BUDGET_ALLOCATED)
            .meta(policy::POLICY_ID_KEY, policy::BUDGET_ALLOCATION)
            .meta(policy::ACTOR_KEY, policy::SYSTEM_ACTOR)
            .decision("ALLOW")
            .reason(format!("{source} allocation for {scope}"))
            .provenance(Self::provenance_of(scope))
            .meta(
                "budget",
                BudgetOp::Allocate {
                    scope: scope.to_string(),
                    max_tokens: limit.max_tokens,
                    max_cost_micros: limit.max_cost_micros,
                    warn_threshold_pct: limit.warn_threshold_pct,
                    source: source.to_string(),
                }
                .to_value(),
            )
    }

    /// Allocates `limit` to `scope` (replacing its limits, keeping what was spent), logged as
    /// `BUDGET_ALLOCATED` with `extra` metadata merged in (e.g. the principal).
    pub fn allocate(
        &self,
        scope: &ScopeKey,
        limit: LimitConfig,
        extra: serde_json::Map<String, Value>,
    ) -> Result<LedgerEntry, BudgetError> {
        // The bound of `warn_threshold_pct` in budget_config.schema.json: a percentage.
        if limit.warn_threshold_pct > 100 {
            return Err(BudgetError::InvalidLimit(format!(
                "warn_threshold_pct {} is not a percentage (0-100)",
                limit.warn_threshold_pct
            )));
        }
        let mut e = Self::allocation_entry(scope, limit, "explicit");
        e.metadata.extend(extra);
        let actor = policy::principal_of(&e);
        e.metadata.insert(policy::ACTOR_KEY.into(), actor.into());
        self.append_one(e)
    }

    /// Checks limits and rate limits and, in the same ledger transaction, appends default
    /// allocations for unallocated scopes, `sent` (with `metadata.budget` = the reservation)
    /// and any `BUDGET_WARNING` — or, when refused, only `on_refused(&refusal)`.
    pub fn reserve(
        &self,
        req: &ReserveRequest,
        sent: NewEntry,
        on_refused: &mut dyn FnMut(&Refusal) -> NewEntry,
    ) -> Result<ReserveOutcome, BudgetError> {
        let mut decision: Option<Result<Reservation, Refusal>> = None;
        let sealed = self.txn(&mut |me, inner, _view| {
            let (d, entries) = me.plan_reserve(inner, req, &sent, on_refused);
            decision = Some(d);
            Ok(entries)
        })?;
        let decision =
            decision.ok_or_else(|| BudgetError::Ledger(LedgerError::Aborted("reservation not decided".into())))?;
        Ok(ReserveOutcome { decision, entries: sealed })
    }

    fn plan_reserve(
        &self,
        inner: &Inner,
        req: &ReserveRequest,
        sent: &NewEntry,
        on_refused: &mut dyn FnMut(&Refusal) -> NewEntry,
    ) -> (Result<Reservation, Refusal>, Vec<NewEntry>) {
        if let Some(r) = inner.rate.check(&self.config.rate_limits, &req.scopes, &req.provider, req.tokens, req.now_ms)
        {
            let e = on_refused(&r);
            return (Err(r), vec![e]);
        }
        let mut entries = Vec::new();
        let mut warnings = Vec::new();
        for scope in &req.scopes {
            let key = scope.to_string();
            let mut st = inner.state.scopes.get(&key).cloned().unwrap_or_default();
            if !st.allocated {
                let limit = self.default_limit(scope.kind);
                entries.push(Self::allocation_entry(scope, limit, "default"));
                st.max_tokens = limit.max_tokens;
                st.max_cost_micros = limit.max_cost_micros;
                st.warn_threshold_pct = limit.warn_threshold_pct;
                st.warned = false;
            }
            let over = |used: u64, add: u64, max: Option<u64>| max.is_some_and(|m| used.saturating_add(add) > m);
            if over(st.used_tokens(), req.tokens, st.max_tokens)
                || over(st.used_micros(), req.micros, st.max_cost_micros)
            {
                let r = Refusal {
                    kind: RefusalKind::BudgetExhausted,
                    scope: key.clone(),
                    message: format!(
                        "{key}: reserving {} tokens / {} micros would exceed the hard limit (used {} of {} tokens, {} of {} micros)",
                        req.tokens,
                        req.micros,
                        st.used_tokens(),
                        limit_text(st.max_tokens),
                        st.used_micros(),
                        limit_text(st.max_cost_micros)
                    ),
                };
                let e = on_refused(&r);
                // Default allocations are still logged: they are facts, not part of the refusal.
                entries.push(e);
                return (Err(r), entries);
            }
            if !st.warned && st.over_warn(req.tokens, req.micros) {
                warnings.push(
                    NewEntry::new(event::BUDGET_WARNING)
                        .meta(policy::POLICY_ID_KEY, policy::BUDGET_WARN_THRESHOLD)
                        .meta(policy::ACTOR_KEY, policy::SYSTEM_ACTOR)
                        .decision("WARN")
                        .reason(format!("{key} crossed its warning threshold of {}%", st.warn_threshold_pct))
                        .provenance(Self::provenance_of(scope))
                        .meta(
                            "budget",
                            BudgetOp::Warn {
                                scope: key.clone(),
                                used_tokens: st.used_tokens().saturating_add(req.tokens),
                                used_micros: st.used_micros().saturating_add(req.micros),
                            }
                            .to_value(),
                        ),
                );
            }
        }
        let res = Reservation {
            reservation_id: req.reservation_id.clone(),
            scopes: req.scopes.iter().map(ToString::to_string).collect(),
            tokens: req.tokens,
            micros: req.micros,
            provider: req.provider.clone(),
            at_ms: req.now_ms,
            price_book_version: req.price_book_version.clone(),
        };
        entries.push(with_budget(sent.clone(), BudgetOp::Reserve(res.clone()).to_value()));
        entries.extend(warnings);
        (Ok(res), entries)
    }

    /// Settles `reservation` to the actual usage in the same transaction as `received`.
    pub fn settle(
        &self,
        reservation: &Reservation,
        tokens: u64,
        micros: u64,
        received: NewEntry,
    ) -> Result<LedgerEntry, BudgetError> {
        let op = BudgetOp::Settle {
            reservation_id: reservation.reservation_id.clone(),
            scopes: reservation.scopes.clone(),
            tokens,
            micros,
        };
        self.append_one(with_budget(received, op.to_value()))
    }

    /// Releases `reservation_id` in the same transaction as `entry` (`PROMPT_FAILED`,
    /// `BUDGET_RECOVERED`).
    pub fn release(&self, reservation_id: &str, entry: NewEntry) -> Result<LedgerEntry, BudgetError> {
        let op = BudgetOp::Release { reservation_id: reservation_id.to_string() };
        self.append_one(with_budget(entry, op.to_value()))
    }

    fn append_one(&self, e: NewEntry) -> Result<LedgerEntry, BudgetError> {
        self.append(vec![e])?
            .into_iter()
            .next()
            .ok_or_else(|| BudgetError::Ledger(LedgerError::InvalidEntry("entry not appended".into())))
    }

    /// Releases every dangling reservation (a `PROMPT_SENT` with no `PROMPT_RECEIVED`,
    /// `PROMPT_FAILED` or `BUDGET_RECOVERED` answering it), one `BUDGET_RECOVERED` entry each, in
    /// one transaction. Run it only when no router is dispatching on this ledger.
    pub fn recover(&self, extra: serde_json::Map<String, Value>) -> Result<Vec<LedgerEntry>, BudgetError> {
        self.txn(&mut |_, _, view| {
            let all = view.query(&LedgerQuery::default())?;
            Ok(dangling_in(&all)
                .into_iter()
                .map(|sent| {
                    let rid = match BudgetOp::of(sent) {
                        Some(Ok(BudgetOp::Reserve(r))) => r.reservation_id,
                        _ => String::new(),
                    };
                    let mut p = sent.provenance();
                    p.parent_event_id = Some(sent.id.clone());
                    let mut e = NewEntry::new(event::BUDGET_RECOVERED)
                        .decision("RELEASE")
                        .reason(format!("released the reservation of dangling PROMPT_SENT seq {}", sent.seq))
                        .provenance(p)
                        .meta("sent_seq", sent.seq);
                    e.metadata.extend(extra.clone());
                    with_budget(e, BudgetOp::Release { reservation_id: rid }.to_value())
                })
                .collect())
        })
    }
}

/// A limit in words: the number, or `unlimited`.
fn limit_text(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_string(), |m| m.to_string())
}

/// `PROMPT_SENT` entries of `entries` that nothing answers (`PROMPT_RECEIVED`, `PROMPT_FAILED`
/// or `BUDGET_RECOVERED` with `parent_event_id` = their id).
pub(crate) fn dangling_in(entries: &[LedgerEntry]) -> Vec<&LedgerEntry> {
    let answered: BTreeSet<&str> = entries
        .iter()
        .filter(|e| {
            matches!(e.event_type.as_str(), event::PROMPT_RECEIVED | event::PROMPT_FAILED | event::BUDGET_RECOVERED)
        })
        .filter_map(|e| e.parent_event_id.as_deref())
        .collect();
    entries.iter().filter(|e| e.event_type == event::PROMPT_SENT && !answered.contains(e.id.as_str())).collect()
}

/// Dangling `PROMPT_SENT` entries of a ledger (as `dangling_in` finds them in a slice of entries).
pub fn dangling_prompts(store: &dyn LedgerStore) -> Result<Vec<LedgerEntry>, LedgerError> {
    let all = store.query(&LedgerQuery::default())?;
    Ok(dangling_in(&all).into_iter().cloned().collect())
}

#[cfg(test)]
mod tests;
