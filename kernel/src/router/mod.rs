//! The prompt router: validate the contract and the input → authenticate and authorise (HMAC
//! token, roles → actions, tenant) → choose a provider (circuit breakers, prices in force,
//! fallback order) → `[txn]` rate limits + hard limits + reserve + `PROMPT_SENT` → provider
//! (timeout, retries with backoff, `Retry-After`, fallback) → `[txn] PROMPT_RECEIVED + settle` or
//! `[txn] PROMPT_FAILED + release`. Rate and budget checks run inside the ledger transaction
//! that logs the reservation, so concurrent routers (threads or processes) never overspend.
//!
//! Owns: [`PromptRouter`], its config ([`RouterConfig`], `HOT/config/router_config.yaml`), the
//! circuit breakers, the retry loop, prompt rendering, and the ledger records of every path.
//! Never does: assemble context (it takes a [`RoutedContext`] from the attention service), or
//! return without a ledger entry — every refusal is a `PROMPT_REJECTED` (or `ACCESS_DENIED` for
//! budget and ledger reads) with a reason code, and its error carries that entry's id.
//!
//! On the ledger (the one named by `router_config.ledger`, default `HO1/prompts`):
//! * `PROMPT_SENT` — provenance; `metadata`: `request_id, contract_id, contract_version,
//!   context_hash, template_id, attention (trace summary incl. halting), retrieval (every
//!   candidate: source, source_id, stage, relevance, rank_before, rank_after, tokens,
//!   content_sha256), prompt_hash,
//!   prompt_text (log_content full) , log_content, provider, model, max_tokens, temperature,
//!   input_tokens_estimate, input_tokens_bound, principal, dev_mode, budget (reservation),
//!   degrade_profile (under a profile), replay (when the context was assembled: see
//!   `crate::ReplayRecord`)`;
//! * `PROMPT_RECEIVED` — `parent_event_id` = SENT id; `request_id, provider, model, attempts,
//!   input_tokens, output_tokens, cached_input_tokens, cost_micros, price_book_version,
//!   latency_ms, settled_at_ms, finish_reason, response_hash / response_text, output_validation {valid,
//!   errors}, overrun {tokens?, micros?} (only when exceeded), budget (settle)`;
//! * `PROMPT_FAILED` — `parent_event_id` = SENT id; `request_id, error_code, attempts[],
//!   latency_ms, settled_at_ms, deadline {deadline_ms, elapsed_ms, reached}, budget (release)`;
//!
//! A reservation is an upper bound of the settled usage wherever the provider honours
//! `max_tokens`: input bound (prompt bytes, `budget_config.input_bound`) + the output cap the
//! provider is asked for, priced at the dearest candidate. `dispatch_deadline_ms` bounds retries
//! and fallbacks together. See `docs/ROUTER.md`.
//! * `PROMPT_REJECTED` — `request_id, code, contract_id, …`, nothing sent.
//! * `DEGRADE_ENTERED` / `DEGRADE_EXITED` — `profile, actor, policy_id, trigger` (see
//!   `degrade.rs`); `COST_ADJUSTED` — see `crate::budget`.

mod access;
#[cfg(feature = "bench")]
pub mod bench;
mod breaker;
mod config;
mod contract_source;
mod degrade;
mod degrade_ops;
mod dispatch;
mod reconcile;
mod route;
mod sovereignty;
mod types;
mod work_order;

pub use access::{
    ASSEMBLE_ACTIONS, ATTENTION_REQUEST_SCHEMA, AuthorizedRoute, NamedScope, ROUTE_ACTIONS, ROUTE_REQUEST_SCHEMA,
    RouteRequestDoc, ScopeField, attention_request_for, read_attention_request, scope_fields,
};
pub use breaker::{BreakerState, CircuitBreaker};
pub use config::{
    BreakerConfig, Limits, LogContent, ProviderConfig, ProviderKind, ROUTER_CONFIG_PATH, ROUTER_CONFIG_SCHEMA,
    ROUTER_PACKAGE, RetryConfig, RouterConfig, SHIPPED_BUDGET_CONFIG, SHIPPED_PRICE_BOOK, SHIPPED_ROUTER_CONFIG,
    UngovernedContracts,
};
pub use contract_source::ContractSource;
pub use degrade::{
    ActiveDegrade, DEGRADE_POLICY_ID, DegradeActions, DegradeProfile, DegradeTrigger,
    SYSTEM_ACTOR as DEGRADE_SYSTEM_ACTOR,
};
pub use degrade_ops::DegradeStatus;
pub use reconcile::AdjustRequest;
pub use route::render;
pub use sovereignty::{ReadAccess, ReadGrant};
pub(crate) use types::BudgetReport;
pub use types::{NotLogged, PromptRequest, PromptResponse, RejectCode, RequestFile, RoutedContext, RouterError};
pub use work_order::WorkOrderGuard;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, json};

use crate::auth::{Action, AuthError, AuthSecret, Authorizer, Denial, DenialKind, Principal, TokenClaims};
use crate::budget::{
    BUDGET_CONFIG_PATH, BUDGET_CONFIG_SCHEMA, BUDGET_PACKAGE, BudgetConfig, BudgetError, BudgetState, Budgeter,
    LimitConfig, PRICE_BOOK_PATH, PRICE_BOOK_SCHEMA, PriceBook, ScopeKey,
};
use crate::clock::{Clock, SystemClock};
use crate::ledger::{LedgerEntry, LedgerQuery, LedgerSet, LedgerStore, NewEntry, Provenance, event};
use crate::plane::Plane;
use crate::providers::{Anthropic, HttpTransport, MockProvider, OpenAiCompatible, Provider, UreqTransport};
use crate::schema::SchemaSet;

/// Knobs of [`PromptRouter::open`] (providers, clock, secret, store).
#[derive(Default)]
pub struct RouterOptions {
    providers: BTreeMap<String, Arc<dyn Provider>>,
    clock: Option<Arc<dyn Clock>>,
    secret: Option<AuthSecret>,
    store: Option<Arc<dyn LedgerStore>>,
    transport: Option<Arc<dyn HttpTransport>>,
    default_provider: Option<String>,
}

impl std::fmt::Debug for RouterOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterOptions").field("providers", &self.providers.keys().collect::<Vec<_>>()).finish()
    }
}

impl RouterOptions {
    /// Defaults: providers built from config, system clock, secret from the environment, the
    /// plane's ledger.
    pub fn new() -> Self {
        Self::default()
    }
    /// Uses `p` for provider `name` instead of building it from the config.
    pub fn provider(mut self, name: impl Into<String>, p: Arc<dyn Provider>) -> Self {
        self.providers.insert(name.into(), p);
        self
    }
    /// Uses `c` as the clock.
    pub fn clock(mut self, c: Arc<dyn Clock>) -> Self {
        self.clock = Some(c);
        self
    }
    /// Uses `s` as the auth secret instead of the environment.
    pub fn auth_secret(mut self, s: AuthSecret) -> Self {
        self.secret = Some(s);
        self
    }
    /// Writes to `store` instead of the plane's ledger named in the config.
    pub fn ledger_store(mut self, s: Arc<dyn LedgerStore>) -> Self {
        self.store = Some(s);
        self
    }
    /// HTTP transport for the HTTP providers built from config.
    pub fn transport(mut self, t: Arc<dyn HttpTransport>) -> Self {
        self.transport = Some(t);
        self
    }
    /// Uses provider `name` (which must be defined under `providers` in the router config)
    /// instead of the config's `default_provider` — e.g. the quickstart's
    /// `CP_OPENAI_BASE_URL` switch. The fallback list is unchanged.
    pub fn default_provider(mut self, name: impl Into<String>) -> Self {
        self.default_provider = Some(name.into());
        self
    }
}

/// The provider `cpctl route` (and an orchestrator honouring the same settings) routes to:
/// `flag`, else the request file's `provider`, else `openai` when `CP_OPENAI_BASE_URL` is set
/// (as the quickstart does), else `None` — the config's `default_provider`. Pass the result to
/// [`RouterOptions::default_provider`].
pub fn choose_provider(flag: Option<String>, file: Option<String>) -> Option<String> {
    flag.or(file).or_else(|| {
        std::env::var_os(crate::env_vars::CP_OPENAI_BASE_URL).filter(|v| !v.is_empty()).map(|_| "openai".to_string())
    })
}

struct ProviderSlot {
    provider: Arc<dyn Provider>,
    config: ProviderConfig,
    breaker: CircuitBreaker,
}

/// The prompt router of one plane.
pub struct PromptRouter {
    config: RouterConfig,
    price_book: PriceBook,
    schemas: SchemaSet,
    budgeter: Budgeter,
    auth: Authorizer,
    clock: Arc<dyn Clock>,
    providers: BTreeMap<String, ProviderSlot>,
    /// The plane's vocabulary (provenance `agent_class` / `tier`), loaded once at open.
    vocabulary: crate::framework::Vocabulary,
}

impl std::fmt::Debug for PromptRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromptRouter")
            .field("ledger", &self.config.ledger)
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// The router's three config documents, loaded and validated.
#[derive(Debug, Clone)]
pub struct RouterConfigs {
    /// `router_config`.
    pub router: RouterConfig,
    /// `budget_config`.
    pub budget: BudgetConfig,
    /// `price_book`.
    pub price_book: PriceBook,
}

fn load<T: serde::de::DeserializeOwned>(
    plane: &Plane,
    schemas: &SchemaSet,
    schema: &str,
    rel: &str,
    package: &'static str,
) -> Result<T, RouterError> {
    let path = plane.resolve(rel)?;
    if !path.is_file() {
        return Err(RouterError::MissingConfig { path, package });
    }
    Ok(schemas.load_document(schema, &path)?)
}

/// Loads `router_config`, `budget_config` and `price_book` from the plane's `HOT/config/`.
pub fn load_configs(plane: &Plane, schemas: &SchemaSet) -> Result<RouterConfigs, RouterError> {
    let router: RouterConfig = load(plane, schemas, ROUTER_CONFIG_SCHEMA, ROUTER_CONFIG_PATH, ROUTER_PACKAGE)?;
    let budget = load(plane, schemas, BUDGET_CONFIG_SCHEMA, BUDGET_CONFIG_PATH, BUDGET_PACKAGE)?;
    let price_book = load(plane, schemas, PRICE_BOOK_SCHEMA, PRICE_BOOK_PATH, BUDGET_PACKAGE)?;
    let path = plane.resolve(ROUTER_CONFIG_PATH)?;
    let bad = |message: String| RouterError::InvalidConfig { path: path.clone(), message };
    for name in std::iter::once(&router.default_provider).chain(&router.fallback_providers) {
        if !router.providers.contains_key(name) {
            return Err(bad(format!("provider {name:?} is used but not defined under providers")));
        }
    }
    degrade::check(&router).map_err(bad)?;
    if router.limits.temperature_min > router.limits.temperature_max {
        return Err(bad("limits.temperature_min exceeds limits.temperature_max".into()));
    }
    Ok(RouterConfigs { router, budget, price_book })
}

impl PromptRouter {
    /// Opens the router of `plane`: loads and validates its configs, opens its ledger, rebuilds the
    /// budget state from it, and builds the providers. Logs `AUTH_DEV_MODE` when dev mode is on.
    pub fn open(plane: &Plane, opts: RouterOptions) -> Result<Self, RouterError> {
        let schemas = SchemaSet::for_plane(plane)?;
        let mut cfgs = load_configs(plane, &schemas)?;
        if let Some(name) = opts.default_provider {
            if !cfgs.router.providers.contains_key(&name) {
                return Err(RouterError::InvalidConfig {
                    path: plane.resolve(ROUTER_CONFIG_PATH)?,
                    message: format!("provider {name:?} is requested but not defined under providers"),
                });
            }
            cfgs.router.default_provider = name;
        }
        let vocabulary = crate::framework::Vocabulary::for_plane(plane, &schemas).map_err(RouterError::Vocabulary)?;
        let store = match opts.store {
            Some(s) => s,
            None => LedgerSet::new(plane).open(&cfgs.router.ledger)?,
        };
        let secret = match opts.secret {
            Some(s) => Some(s),
            None => match AuthSecret::for_plane(plane, cfgs.router.auth.min_secret_bytes) {
                Ok((s, _)) => Some(s),
                Err(AuthError::NoSecret) => None,
                Err(e) => return Err(e.into()),
            },
        };
        let clock = opts.clock.unwrap_or_else(|| Arc::new(SystemClock::new()));
        let transport: Arc<dyn HttpTransport> =
            opts.transport.unwrap_or_else(|| Arc::new(UreqTransport::new(cfgs.router.max_response_bytes)));
        let mut providers = BTreeMap::new();
        for (name, pc) in &cfgs.router.providers {
            let provider: Arc<dyn Provider> = match opts.providers.get(name) {
                Some(p) => p.clone(),
                None => build_provider(name, pc, cfgs.budget.chars_per_token, transport.clone()),
            };
            providers.insert(
                name.clone(),
                ProviderSlot { provider, config: pc.clone(), breaker: CircuitBreaker::new(pc.circuit_breaker) },
            );
        }
        let budgeter = Budgeter::open(cfgs.budget, store)?;
        let auth = Authorizer::new(cfgs.router.auth.clone(), secret);
        let router = Self {
            config: cfgs.router,
            price_book: cfgs.price_book,
            schemas,
            budgeter,
            auth,
            clock,
            providers,
            vocabulary,
        };
        if router.config.auth.dev_mode {
            tracing::warn!("router auth dev mode is on: tokens are not checked");
            router.budgeter.append(vec![
                NewEntry::new(event::AUTH_DEV_MODE)
                    .decision("WAIVE")
                    .reason("router_config auth.dev_mode is true: tokens are not checked")
                    .meta("config", ROUTER_CONFIG_PATH),
            ])?;
        }
        Ok(router)
    }

    /// The router config.
    pub fn config(&self) -> &RouterConfig {
        &self.config
    }

    /// The budgeter.
    pub fn budgeter(&self) -> &Budgeter {
        &self.budgeter
    }

    /// The ledger the router writes.
    pub fn store(&self) -> &Arc<dyn LedgerStore> {
        self.budgeter.store()
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The circuit state of a provider.
    pub fn breaker_state(&self, provider: &str) -> Option<BreakerState> {
        self.providers.get(provider).map(|s| s.breaker.state(self.clock.now_ms()))
    }

    /// The error of a refusal logged as `entry`.
    fn rejected(&self, code: RejectCode, message: String, entry: &LedgerEntry) -> RouterError {
        RouterError::Rejected {
            code,
            message,
            ledger: self.config.ledger.clone(),
            entry_id: entry.id.clone(),
            seq: entry.seq,
        }
    }

    /// Logs a denial as `ACCESS_DENIED` and returns its error.
    fn deny(&self, d: &Denial, action: Action, tenant: &str) -> RouterError {
        let code = denial_code(d);
        let e = NewEntry::new(event::ACCESS_DENIED)
            .decision("DENY")
            .reason(d.message.clone())
            .provenance(Provenance { tenant_id: Some(tenant.to_string()), ..Provenance::default() })
            .meta("code", code.as_str())
            .meta("action", action.as_str())
            .meta("principal", d.principal.clone())
            .meta("tenant_asked", tenant)
            .meta("tenant_held", d.tenant_held.clone());
        let actor = crate::policy::principal_of(&e);
        // A verified token of another tenant is a sovereignty decision; anything else is auth.
        let other_tenant = d.tenant_held.as_deref().is_some_and(|h| h != tenant);
        let pid =
            if other_tenant { crate::policy::TENANT_SOVEREIGNTY } else { crate::policy::of_reject_code(code.as_str()) };
        let e = crate::policy::stamp(e, pid, &actor);
        match self.budgeter.append(vec![e]).map(|v| v.into_iter().next()) {
            Ok(Some(entry)) => self.rejected(code, d.message.clone(), &entry),
            Ok(None) => RouterError::NotLogged { what: NotLogged::Denial },
            Err(err) => RouterError::Budget(err),
        }
    }

    /// Authorises `action` on `tenant` for `token`; a denial is logged as `ACCESS_DENIED`.
    pub fn authorize(&self, token: &str, action: Action, tenant: &str) -> Result<Principal, RouterError> {
        self.auth.authorize(token, action, tenant, self.clock.now_ms()).map_err(|d| self.deny(&d, action, tenant))
    }

    /// A tenant's budget (action `budget.read`, token bound to that tenant).
    pub fn budget_show(&self, token: &str, tenant: &str) -> Result<BudgetReport, RouterError> {
        self.authorize(token, Action::BudgetRead, tenant)?;
        Ok(self.budget_report(tenant)?)
    }

    /// A tenant's budget without auth (local operator tools only).
    pub fn budget_report(&self, tenant: &str) -> Result<BudgetReport, BudgetError> {
        let st: BudgetState = self.budgeter.state()?;
        let prefix: Vec<String> = st.scopes_of(tenant).keys().cloned().collect();
        Ok(BudgetReport {
            tenant: tenant.to_string(),
            scopes: st.scopes_of(tenant),
            open_reservations: st
                .open
                .values()
                .filter(|r| r.scopes.iter().any(|s| prefix.contains(s)))
                .cloned()
                .collect(),
            malformed_entries: st.malformed.clone(),
        })
    }

    /// Allocates `limit` to `scope` (action `budget.allocate` on the scope's tenant), logged.
    pub fn allocate(&self, token: &str, scope: &ScopeKey, limit: LimitConfig) -> Result<LedgerEntry, RouterError> {
        let p = self.authorize(token, Action::BudgetAllocate, &scope.tenant)?;
        let extra = json!({"principal": p.principal, "dev_mode": p.dev_mode}).as_object().cloned().unwrap_or_default();
        Ok(self.budgeter.allocate(scope, limit, extra)?)
    }

    /// Entries of `tenant` matching `q` (action `ledger.read`); a query naming another tenant is
    /// refused and logged.
    pub fn ledger_entries(&self, token: &str, tenant: &str, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, RouterError> {
        let asked = q.provenance.tenant_id.as_deref().unwrap_or(tenant);
        self.authorize(token, Action::LedgerRead, asked)?;
        if asked != tenant {
            self.authorize(token, Action::LedgerRead, tenant)?;
        }
        let mut q = q.clone();
        q.provenance.tenant_id = Some(asked.to_string());
        Ok(self.store().query(&q)?)
    }

    /// Issues a token (logs `AUTH_TOKEN_ISSUED` with the claims, never the token).
    pub fn issue_token(
        &self,
        principal: &str,
        roles: &[String],
        tenant: &str,
        ttl_s: Option<u64>,
    ) -> Result<(String, TokenClaims), RouterError> {
        self.vocabulary.check_identifier("tenant", tenant).map_err(RouterError::Vocabulary)?;
        self.vocabulary.check_identifier("principal", principal).map_err(RouterError::Vocabulary)?;
        let claims = self.auth.claims(principal, roles, tenant, ttl_s, self.clock.now_ms())?;
        let token = self.auth.sign(&claims)?;
        self.budgeter.append(vec![
            NewEntry::new(event::AUTH_TOKEN_ISSUED)
                .decision("ISSUE")
                .provenance(Provenance { tenant_id: Some(tenant.to_string()), ..Provenance::default() })
                .meta("principal", principal)
                .meta("roles", roles.to_vec())
                .meta("token_id", claims.token_id.clone())
                .meta("issued_at_ms", claims.issued_at_ms)
                .meta("expires_at_ms", claims.expires_at_ms),
        ])?;
        Ok((token, claims))
    }

    /// Verifies a token with this router's secret and clock (for `cpctl auth inspect`).
    pub fn verify_token(&self, token: &str) -> Result<TokenClaims, AuthError> {
        self.auth.verify(token, self.clock.now_ms())
    }

    /// Releases every dangling reservation (see [`Budgeter::recover`]), logged as `BUDGET_RECOVERED`.
    pub fn recover(&self) -> Result<Vec<LedgerEntry>, RouterError> {
        Ok(self.budgeter.recover(Map::new())?)
    }
}

fn denial_code(d: &Denial) -> RejectCode {
    match d.kind {
        DenialKind::AuthDenied => RejectCode::AuthDenied,
        DenialKind::Forbidden => RejectCode::Forbidden,
    }
}

fn build_provider(
    name: &str,
    pc: &ProviderConfig,
    chars_per_token: u64,
    transport: Arc<dyn HttpTransport>,
) -> Arc<dyn Provider> {
    let env = |k: &Option<String>| k.as_deref().and_then(|k| std::env::var(k).ok()).filter(|v| !v.is_empty());
    let base = env(&pc.base_url_env).or_else(|| pc.base_url.clone()).unwrap_or_default();
    match pc.kind {
        ProviderKind::Mock => Arc::new(MockProvider::new(name, chars_per_token)),
        ProviderKind::OpenaiCompatible => Arc::new(OpenAiCompatible::new(name, base, env(&pc.api_key_env), transport)),
        ProviderKind::Anthropic => Arc::new(Anthropic::new(
            name,
            base,
            env(&pc.api_key_env),
            pc.api_version.clone().unwrap_or_default(),
            transport,
        )),
    }
}
