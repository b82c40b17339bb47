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
//!   input_tokens_estimate, input_tokens_bound, principal, dev_mode, budget (reservation)`;
//! * `PROMPT_RECEIVED` — `parent_event_id` = SENT id; `request_id, provider, model, attempts,
//!   input_tokens, output_tokens, cached_input_tokens, cost_micros, price_book_version,
//!   latency_ms, finish_reason, response_hash / response_text, output_validation {valid,
//!   errors}, overrun {tokens?, micros?} (only when exceeded), budget (settle)`;
//! * `PROMPT_FAILED` — `parent_event_id` = SENT id; `request_id, error_code, attempts[],
//!   latency_ms, deadline {deadline_ms, elapsed_ms, reached}, budget (release)`;
//!
//! A reservation is an upper bound of the settled usage wherever the provider honours
//! `max_tokens`: input bound (prompt bytes, `budget_config.input_bound`) + the output cap the
//! provider is asked for, priced at the dearest candidate. `dispatch_deadline_ms` bounds retries
//! and fallbacks together. See `docs/ROUTER.md`.
//! * `PROMPT_REJECTED` — `request_id, code, contract_id, …`, nothing sent.

mod access;
#[cfg(feature = "bench")]
pub mod bench;
mod breaker;
mod config;
mod contract_source;

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

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::auth::{Action, AuthError, AuthSecret, Authorizer, Denial, DenialKind, Principal, TokenClaims};
use crate::budget::{
    BUDGET_CONFIG_PATH, BUDGET_CONFIG_SCHEMA, BUDGET_PACKAGE, BudgetConfig, BudgetError, BudgetState, Budgeter,
    LimitConfig, PRICE_BOOK_PATH, PRICE_BOOK_SCHEMA, PriceBook, RefusalKind, Reservation, ReserveRequest, ScopeKey,
    ScopeState,
};
use crate::clock::{Clock, SystemClock};
use crate::contract::{PROMPT_CONTRACT_SCHEMA, PromptContract};
use crate::hashing::sha256_hex;
use crate::ledger::{LedgerEntry, LedgerError, LedgerQuery, LedgerSet, LedgerStore, NewEntry, Provenance, event};
use crate::plane::{Plane, PlaneError};
use crate::providers::{
    Anthropic, HttpTransport, MockProvider, OpenAiCompatible, Provider, ProviderError, ProviderErrorCode,
    ProviderRequest, ProviderResponse, UreqTransport, Usage,
};
use crate::schema::{DocumentError, SchemaError, SchemaSet};

/// Reason codes of `PROMPT_REJECTED` (and `ACCESS_DENIED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum RejectCode {
    /// No valid token.
    AuthDenied,
    /// The token does not grant the action or the tenant.
    Forbidden,
    /// A hard budget limit would be exceeded.
    BudgetExhausted,
    /// A rate limit would be exceeded.
    RateLimited,
    /// Every candidate provider's circuit is open.
    CircuitOpen,
    /// The input does not satisfy the contract's `input_schema` (or lacks a tenant / template key).
    InvalidInput,
    /// The contract is invalid (schema, boundary outside `limits`, bad placeholders, bad schemas).
    ContractInvalid,
    /// The price book in force has no price for the provider/model.
    NoPrice,
    /// A valid token, but the request names another tenant or another tenant's session.
    AccessDenied,
    /// The request's contract is owned by no package and `ungoverned_contracts` is `refuse`.
    ContractUngoverned,
}

impl RejectCode {
    /// The code string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthDenied => "AUTH_DENIED",
            Self::Forbidden => "FORBIDDEN",
            Self::BudgetExhausted => "BUDGET_EXHAUSTED",
            Self::RateLimited => "RATE_LIMITED",
            Self::CircuitOpen => "CIRCUIT_OPEN",
            Self::InvalidInput => "INVALID_INPUT",
            Self::ContractInvalid => "CONTRACT_INVALID",
            Self::NoPrice => "NO_PRICE",
            Self::AccessDenied => "ACCESS_DENIED",
            Self::ContractUngoverned => "CONTRACT_UNGOVERNED",
        }
    }
}

impl std::fmt::Display for RejectCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors of the router. Refusals and provider failures carry the ledger entry that records them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RouterError {
    /// Refused before anything was sent (logged as `PROMPT_REJECTED` / `ACCESS_DENIED`).
    #[error("{code}: {message} (logged as {ledger} seq {seq})")]
    Rejected {
        /// Reason code.
        code: RejectCode,
        /// Why.
        message: String,
        /// Ledger name.
        ledger: String,
        /// Id of the entry.
        entry_id: String,
        /// Its seq.
        seq: u64,
    },
    /// Sent, but every attempt failed (logged as `PROMPT_FAILED`, reservation released).
    #[error("{}: prompt failed after {attempts} attempt(s): {message} (logged as {ledger} seq {seq})", code.as_str())]
    Failed {
        /// Last provider error code.
        code: ProviderErrorCode,
        /// Last error message.
        message: String,
        /// Attempts made.
        attempts: u32,
        /// Ledger name.
        ledger: String,
        /// Id of the `PROMPT_FAILED` entry.
        entry_id: String,
        /// Its seq.
        seq: u64,
    },
    /// The plane's vocabulary (`HOT/config/vocabulary.yaml`) could not be loaded.
    #[error("vocabulary: {0}")]
    Vocabulary(#[source] crate::framework::FrameworkError),
    /// A config file the router needs is missing.
    #[error("{} is missing; it is shipped by package {package}", path.display())]
    MissingConfig {
        /// The file.
        path: PathBuf,
        /// The package that ships it.
        package: &'static str,
    },
    /// A config file is invalid.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// A config is schema-valid but inconsistent.
    #[error("{}: {message}", path.display())]
    InvalidConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Schemas could not be loaded.
    #[error(transparent)]
    Schema(#[from] SchemaError),
    /// Plane path error.
    #[error(transparent)]
    Plane(#[from] PlaneError),
    /// Ledger error.
    #[error("router ledger error")]
    Ledger(
        #[from]
        #[source]
        LedgerError,
    ),
    /// Budget error.
    #[error("router budget error")]
    Budget(
        #[from]
        #[source]
        BudgetError,
    ),
    /// Auth setup error (secret source, roles, TTL).
    #[error("router auth error")]
    Auth(
        #[from]
        #[source]
        AuthError,
    ),
}

impl RouterError {
    /// The reject code, if this is a refusal.
    pub fn reject_code(&self) -> Option<RejectCode> {
        match self {
            Self::Rejected { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// The assembled context as the router receives it (from the attention service).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RoutedContext {
    /// The context text substituted for `{{context}}`.
    pub context_text: String,
    /// SHA-256 (hex) of the context, as computed by the attention service.
    pub context_hash: String,
    /// Attention template used.
    pub template_id: String,
    /// Pipeline trace summary (including the halting decision), logged in `PROMPT_SENT`.
    pub trace_summary: Value,
    /// Every candidate the attention stages ranked, with its final rank, logged in
    /// `PROMPT_SENT` as `retrieval`.
    pub retrieval: Vec<crate::attention::RetrievalCandidate>,
}

impl From<&crate::attention::AssembledContext> for RoutedContext {
    /// The context the attention service assembled, with its trace summary (halting decision
    /// included) for `PROMPT_SENT`.
    fn from(c: &crate::attention::AssembledContext) -> Self {
        Self {
            context_text: c.context_text.clone(),
            context_hash: c.context_hash.clone(),
            template_id: c.template_id.clone(),
            trace_summary: c.trace_summary(),
            retrieval: c.retrieval.clone(),
        }
    }
}

impl RoutedContext {
    /// A context from plain text (no attention pipeline; `template_id` is `none`).
    pub fn from_text(text: impl Into<String>) -> Self {
        let t = text.into();
        Self {
            context_hash: sha256_hex(t.as_bytes()),
            context_text: t,
            template_id: "none".into(),
            trace_summary: Value::Null,
            retrieval: Vec::new(),
        }
    }
}

/// One prompt to route.
#[derive(Debug, Clone)]
pub struct PromptRequest {
    /// The assembled context.
    pub context: RoutedContext,
    /// The prompt contract.
    pub contract: PromptContract,
    /// The input (checked against `contract.input_schema`).
    pub input: Value,
    /// Provenance ids: `tenant_id` (required), `agent_id`, `agent_class`, `framework_id`,
    /// `work_order_id`, `session_id` (and optionally trace/span ids).
    pub provenance: Provenance,
    /// The caller's auth token.
    pub auth_token: String,
}

/// A prompt request as a file (`cpctl route --request REQ.yaml`, schema `route_request`): the
/// contract by path, the context as text (the attention service is not called here), the
/// input, provenance and optionally the token and provider. Read with [`RequestFile::read`],
/// then [`PromptRouter::authorize_route_request`].
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFile {
    /// Contract path: plane-relative (`HOT/contracts/PRC-….yaml`) or relative to the request file.
    pub contract: String,
    /// Context text (`{{context}}`); absent = empty.
    #[serde(default)]
    pub context: Option<String>,
    /// Input checked against the contract's `input_schema`.
    #[serde(default)]
    pub input: Value,
    /// Provenance ids; `tenant_id` may be left out (it is the token's tenant) and, when
    /// given, must be the token's tenant.
    #[serde(default)]
    pub provenance: Provenance,
    /// Provider to route to (a key of `providers` in `router_config`; else its
    /// `default_provider`). The CALLER opens the router with it.
    #[serde(default)]
    pub provider: Option<String>,
    /// Auth token (else the caller supplies one).
    #[serde(default)]
    pub auth_token: Option<String>,
    /// The agent part of an attention request (`agent_id`, `agent_class`, `tier`, optional
    /// `template_override`): the CALLER (e.g. `cpctl route`) assembles the context with it
    /// before routing; the router itself never reads it and never assembles context.
    #[serde(default)]
    pub attention: Option<Value>,
}

/// A reference to a ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryRef {
    /// Entry id.
    pub id: String,
    /// Seq.
    pub seq: u64,
}

impl From<&LedgerEntry> for EntryRef {
    fn from(e: &LedgerEntry) -> Self {
        Self { id: e.id.clone(), seq: e.seq }
    }
}

/// The answer of a routed prompt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromptResponse {
    /// Request id (`submission_id` of the entries).
    pub request_id: String,
    /// Output text.
    pub text: String,
    /// The output parsed as JSON, when it is JSON.
    pub output: Option<Value>,
    /// Whether the output satisfies `contract.output_schema` (true without a schema).
    pub output_valid: bool,
    /// Output-schema violations.
    pub output_errors: Vec<String>,
    /// Provider that answered.
    pub provider: String,
    /// Model that answered.
    pub model: String,
    /// Usage.
    pub usage: Usage,
    /// Cost (micro-units).
    pub cost_micros: u64,
    /// Price-book version used.
    pub price_book_version: String,
    /// Latency on the router clock (ms).
    pub latency_ms: u64,
    /// Finish reason.
    pub finish_reason: String,
    /// Attempts made (all providers).
    pub attempts: u32,
    /// The `PROMPT_SENT` entry.
    pub sent: EntryRef,
    /// The `PROMPT_RECEIVED` entry.
    pub received: EntryRef,
}

/// A tenant's budget.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetReport {
    /// Tenant.
    pub tenant: String,
    /// Its scopes.
    pub scopes: BTreeMap<String, ScopeState>,
    /// Its open reservations.
    pub open_reservations: Vec<Reservation>,
    /// Seqs of budget entries of the ledger that could not be understood (all tenants).
    pub malformed_entries: Vec<u64>,
}

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
    if router.limits.temperature_min > router.limits.temperature_max {
        return Err(bad("limits.temperature_min exceeds limits.temperature_max".into()));
    }
    Ok(RouterConfigs { router, budget, price_book })
}

/// Code of the `attempts` entry that records a dispatch stopped by `dispatch_deadline_ms`.
pub(crate) const DEADLINE_EXCEEDED: &str = "DEADLINE_EXCEEDED";

struct Dispatch {
    attempts: Vec<Value>,
    count: u32,
    /// Whether `dispatch_deadline_ms` stopped the dispatch.
    deadline_reached: bool,
    /// Router-clock milliseconds the dispatch took.
    elapsed_ms: u64,
    result: Result<(String, ProviderResponse), ProviderError>,
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

    fn reject(
        &self,
        code: RejectCode,
        message: String,
        req: &PromptRequest,
        request_id: &str,
        extra: Map<String, Value>,
    ) -> RouterError {
        let mut e = NewEntry::new(event::PROMPT_REJECTED)
            .submission(request_id)
            .decision("DENY")
            .reason(message.clone())
            .provenance(req.provenance.clone())
            .meta("request_id", request_id)
            .meta("code", code.as_str())
            .meta("contract_id", req.contract.contract_id.clone());
        e.metadata.extend(extra);
        match self.budgeter.append(vec![e]).map(|v| v.into_iter().next()) {
            Ok(Some(entry)) => self.rejected(code, message, &entry),
            Ok(None) => RouterError::Ledger(LedgerError::Aborted("rejection not logged".into())),
            Err(err) => RouterError::Budget(err),
        }
    }

    fn rejected(&self, code: RejectCode, message: String, entry: &LedgerEntry) -> RouterError {
        RouterError::Rejected {
            code,
            message,
            ledger: self.config.ledger.clone(),
            entry_id: entry.id.clone(),
            seq: entry.seq,
        }
    }

    fn validate_contract(
        &self,
        c: &PromptContract,
    ) -> Result<(jsonschema::Validator, Option<jsonschema::Validator>), String> {
        let mut v = serde_json::to_value(c).map_err(|e| e.to_string())?;
        // Absent optional fields serialize as null; the schema describes them as absent.
        if let Some(m) = v.as_object_mut() {
            m.retain(|_, x| !x.is_null());
            if let Some(b) = m.get_mut("boundary").and_then(Value::as_object_mut) {
                b.retain(|_, x| !x.is_null());
            }
        }
        self.schemas.validate(PROMPT_CONTRACT_SCHEMA, &v).map_err(|e| e.to_string())?;
        let l = &self.config.limits;
        if c.boundary.max_tokens == 0 || c.boundary.max_tokens > l.max_tokens_ceiling {
            return Err(format!("boundary.max_tokens {} outside 1..={}", c.boundary.max_tokens, l.max_tokens_ceiling));
        }
        let t = c.boundary.temperature;
        if !(t >= l.temperature_min && t <= l.temperature_max) {
            return Err(format!("boundary.temperature {t} outside {}..={}", l.temperature_min, l.temperature_max));
        }
        let input = jsonschema::validator_for(&c.input_schema).map_err(|e| format!("input_schema: {e}"))?;
        let output = match &c.output_schema {
            Some(s) => Some(jsonschema::validator_for(s).map_err(|e| format!("output_schema: {e}"))?),
            None => None,
        };
        Ok((input, output))
    }

    /// Routes one prompt. Every outcome leaves ledger entries (see the module docs); refusals
    /// return [`RouterError::Rejected`], provider failures [`RouterError::Failed`].
    pub fn route(&self, req: PromptRequest) -> Result<PromptResponse, RouterError> {
        let request_id = uuid::Uuid::now_v7().to_string();
        let none = Map::new;
        // 1. Contract and input.
        let (input_v, output_v) = match self.validate_contract(&req.contract) {
            Ok(v) => v,
            Err(m) => return Err(self.reject(RejectCode::ContractInvalid, m, &req, &request_id, none())),
        };
        let errors: Vec<String> =
            input_v.iter_errors(&req.input).map(|e| format!("{}: {e}", e.instance_path())).collect();
        if !errors.is_empty() {
            let m = format!("input does not satisfy the contract's input_schema: {}", errors.join("; "));
            return Err(self.reject(RejectCode::InvalidInput, m, &req, &request_id, none()));
        }
        let Some(scopes) = ScopeKey::chain(&req.provenance) else {
            return Err(self.reject(
                RejectCode::InvalidInput,
                "provenance.tenant_id is required".into(),
                &req,
                &request_id,
                none(),
            ));
        };
        if let Err(e) = self.vocabulary.check_provenance(&req.provenance) {
            return Err(self.reject(RejectCode::InvalidInput, format!("provenance: {e}"), &req, &request_id, none()));
        }
        let prompt = match render(&req.contract.prompt_template, &req.context.context_text, &req.input) {
            Ok(p) => p,
            Err((code, m)) => return Err(self.reject(code, m, &req, &request_id, none())),
        };
        // 2. Auth.
        let tenant = scopes[0].tenant.clone();
        let now = self.clock.now_ms();
        let principal = match self.auth.authorize(&req.auth_token, Action::Route, &tenant, now) {
            Ok(p) => p,
            Err(d) => {
                let code = denial_code(&d);
                let extra =
                    json!({"action": "route", "principal": d.principal}).as_object().cloned().unwrap_or_default();
                return Err(self.reject(code, d.message, &req, &request_id, extra));
            }
        };
        // 3. Circuit breakers and prices → the candidate providers.
        let Some(pv) = self.price_book.version_at(now) else {
            return Err(self.reject(
                RejectCode::NoPrice,
                format!("no price-book version is in force at {now} ms"),
                &req,
                &request_id,
                none(),
            ));
        };
        let mut order = vec![self.config.default_provider.clone()];
        for f in &self.config.fallback_providers {
            if !order.contains(f) {
                order.push(f.clone());
            }
        }
        let mut candidates: Vec<(String, String)> = Vec::new();
        let mut skipped = Vec::new();
        for name in &order {
            let Some(slot) = self.providers.get(name) else { continue };
            if slot.breaker.state(now) == BreakerState::Open {
                skipped.push(json!({"provider": name, "code": RejectCode::CircuitOpen.as_str()}));
                continue;
            }
            let model = req.contract.boundary.model.clone().unwrap_or_else(|| slot.config.default_model.clone());
            if pv.price(name, &model).is_none() {
                skipped.push(json!({"provider": name, "model": model, "code": RejectCode::NoPrice.as_str()}));
                continue;
            }
            candidates.push((name.clone(), model));
        }
        if candidates.is_empty() {
            let all_open = skipped.iter().all(|s| s["code"] == RejectCode::CircuitOpen.as_str());
            let code = if all_open { RejectCode::CircuitOpen } else { RejectCode::NoPrice };
            let extra =
                json!({"skipped": skipped, "price_book_version": pv.version}).as_object().cloned().unwrap_or_default();
            return Err(self.reject(
                code,
                format!("no provider available: {}", Value::Array(skipped.clone())),
                &req,
                &request_id,
                extra,
            ));
        }
        // 4. Reservation: an upper bound of the usage — the input bound (prompt bytes +
        // overhead, budget_config.input_bound) plus the output cap, which is exactly the
        // max_tokens the provider is asked for — at the dearest candidate's rate.
        let est_in = self.budgeter.estimate_tokens(prompt.chars().count());
        let in_bound = self.budgeter.input_token_bound(prompt.len());
        let max_out = req.contract.boundary.max_tokens;
        let micros = candidates
            .iter()
            .filter_map(|(p, m)| pv.price(p, m))
            .map(|p| p.max_cost_micros(in_bound, max_out))
            .max()
            .unwrap_or(0);
        let (provider, model) = candidates[0].clone();
        let rreq = ReserveRequest {
            reservation_id: request_id.clone(),
            scopes,
            provider: provider.clone(),
            tokens: in_bound.saturating_add(max_out),
            micros,
            now_ms: now,
            price_book_version: pv.version.clone(),
        };
        let prompt_hash = sha256_hex(prompt.as_bytes());
        let mut sent = NewEntry::new(event::PROMPT_SENT)
            .submission(&request_id)
            .decision("ALLOW")
            .provenance(req.provenance.clone())
            .meta("request_id", request_id.clone())
            .meta("contract_id", req.contract.contract_id.clone())
            .meta("contract_version", req.contract.version.clone())
            .meta("context_hash", req.context.context_hash.clone())
            .meta("template_id", req.context.template_id.clone())
            .meta("attention", req.context.trace_summary.clone())
            .meta("retrieval", serde_json::to_value(&req.context.retrieval).unwrap_or(Value::Null))
            .meta("prompt_hash", prompt_hash)
            .meta("log_content", log_content_str(self.config.log_content))
            .meta("provider", provider.clone())
            .meta("model", model.clone())
            .meta("max_tokens", max_out)
            .meta("temperature", req.contract.boundary.temperature)
            .meta("input_tokens_estimate", est_in)
            .meta("input_tokens_bound", in_bound)
            .meta("principal", principal.principal.clone())
            .meta("dev_mode", principal.dev_mode);
        if self.config.log_content == LogContent::Full {
            sent = sent.meta("prompt_text", prompt.clone());
        }
        if !skipped.is_empty() {
            sent = sent.meta("skipped_providers", Value::Array(skipped));
        }
        let prov = req.provenance.clone();
        let rid = request_id.clone();
        let cid = req.contract.contract_id.clone();
        let outcome = self.budgeter.reserve(&rreq, sent, &mut |r| {
            let code = match r.kind {
                RefusalKind::BudgetExhausted => RejectCode::BudgetExhausted,
                RefusalKind::RateLimited => RejectCode::RateLimited,
            };
            NewEntry::new(event::PROMPT_REJECTED)
                .submission(&rid)
                .decision("DENY")
                .reason(r.message.clone())
                .provenance(prov.clone())
                .meta("request_id", rid.clone())
                .meta("code", code.as_str())
                .meta("contract_id", cid.clone())
                .meta("scope", r.scope.clone())
        })?;
        let reservation = match outcome.decision {
            Ok(r) => r,
            Err(refusal) => {
                let code = match refusal.kind {
                    RefusalKind::BudgetExhausted => RejectCode::BudgetExhausted,
                    RefusalKind::RateLimited => RejectCode::RateLimited,
                };
                let entry = outcome.entries.iter().rev().find(|e| e.event_type == event::PROMPT_REJECTED);
                return Err(match entry {
                    Some(e) => self.rejected(code, refusal.message, e),
                    None => RouterError::Ledger(LedgerError::Aborted("refusal not logged".into())),
                });
            }
        };
        let Some(sent_entry) = outcome.entries.iter().find(|e| e.event_type == event::PROMPT_SENT).cloned() else {
            return Err(RouterError::Ledger(LedgerError::Aborted("PROMPT_SENT not logged".into())));
        };
        // 5. Dispatch.
        let start = self.clock.now_ms();
        let d = self.dispatch(&candidates, &prompt, max_out, req.contract.boundary.temperature);
        let latency_ms = self.clock.now_ms().saturating_sub(start);
        let mut parent = req.provenance.clone();
        parent.parent_event_id = Some(sent_entry.id.clone());
        match d.result {
            Ok((used, resp)) => {
                let model_used =
                    candidates.iter().find(|(p, _)| *p == used).map_or(resp.model.clone(), |(_, m)| m.clone());
                let cost = pv.price(&used, &model_used).map_or(0, |p| {
                    p.cost_micros(resp.usage.input_tokens, resp.usage.cached_input_tokens, resp.usage.output_tokens)
                });
                let (output, output_errors) = validate_output(&resp.text, output_v.as_ref());
                let output_valid = output_errors.is_empty();
                let tokens = resp.usage.input_tokens.saturating_add(resp.usage.output_tokens);
                let mut rec = NewEntry::new(event::PROMPT_RECEIVED)
                    .submission(&request_id)
                    .decision(if output_valid { "ACCEPT" } else { "INVALID_OUTPUT" })
                    .provenance(parent)
                    .meta("request_id", request_id.clone())
                    .meta("provider", used.clone())
                    .meta("model", resp.model.clone())
                    .meta("attempts", Value::Array(d.attempts))
                    .meta("attempt_count", d.count)
                    .meta("input_tokens", resp.usage.input_tokens)
                    .meta("output_tokens", resp.usage.output_tokens)
                    .meta("cached_input_tokens", resp.usage.cached_input_tokens)
                    .meta("cost_micros", cost)
                    .meta("currency", self.price_book.currency.clone())
                    .meta("price_book_version", pv.version.clone())
                    .meta("latency_ms", latency_ms)
                    .meta("finish_reason", resp.finish_reason.clone())
                    .meta("output_validation", json!({"valid": output_valid, "errors": output_errors}));
                if let Some(over) = overrun(&reservation, tokens, cost) {
                    tracing::warn!(request_id = %request_id, overrun = %over, "settled usage exceeds the reservation");
                    rec = rec.meta("overrun", over);
                }
                match self.config.log_content {
                    LogContent::Full => {
                        rec = rec
                            .meta("response_hash", sha256_hex(resp.text.as_bytes()))
                            .meta("response_text", resp.text.clone())
                    }
                    LogContent::Hash => rec = rec.meta("response_hash", sha256_hex(resp.text.as_bytes())),
                    LogContent::None => {}
                }
                let received = self.budgeter.settle(&reservation, tokens, cost, rec)?;
                Ok(PromptResponse {
                    request_id,
                    text: resp.text,
                    output,
                    output_valid,
                    output_errors,
                    provider: used,
                    model: resp.model,
                    usage: resp.usage,
                    cost_micros: cost,
                    price_book_version: pv.version.clone(),
                    latency_ms,
                    finish_reason: resp.finish_reason,
                    attempts: d.count,
                    sent: (&sent_entry).into(),
                    received: (&received).into(),
                })
            }
            Err(err) => {
                let deadline_ms = self.config.dispatch_deadline_ms;
                let (reason, message) = if d.deadline_reached {
                    let why = format!(
                        "dispatch deadline of {deadline_ms} ms reached after {} ms and {} attempt(s)",
                        d.elapsed_ms, d.count
                    );
                    (format!("{why}; last error: {err}"), format!("{why}; last error: {}", err.message))
                } else {
                    (err.to_string(), err.message.clone())
                };
                let failed = NewEntry::new(event::PROMPT_FAILED)
                    .submission(&request_id)
                    .decision("FAIL")
                    .reason(reason)
                    .provenance(parent)
                    .meta("request_id", request_id.clone())
                    .meta("error_code", err.code.as_str())
                    .meta("attempts", Value::Array(d.attempts))
                    .meta("attempt_count", d.count)
                    .meta("latency_ms", latency_ms)
                    .meta(
                        "deadline",
                        json!({"deadline_ms": deadline_ms, "elapsed_ms": d.elapsed_ms, "reached": d.deadline_reached}),
                    );
                let entry = self.budgeter.release(&reservation.reservation_id, failed)?;
                Err(RouterError::Failed {
                    code: err.code,
                    message,
                    attempts: d.count,
                    ledger: self.config.ledger.clone(),
                    entry_id: entry.id,
                    seq: entry.seq,
                })
            }
        }
    }

    /// Tries the candidates in order, each with retries and backoff, within
    /// `dispatch_deadline_ms` on the router clock: no attempt starts and no backoff is slept once
    /// the deadline would be reached (an attempt's timeout is cut to the time left), and the
    /// attempts list then ends with a `DEADLINE_EXCEEDED` entry.
    fn dispatch(&self, candidates: &[(String, String)], prompt: &str, max_tokens: u64, temperature: f64) -> Dispatch {
        let r = &self.config.retries;
        let deadline = self.config.dispatch_deadline_ms;
        let start = self.clock.now_ms();
        let elapsed = || self.clock.now_ms().saturating_sub(start);
        let mut attempts = Vec::new();
        let mut count = 0u32;
        let mut deadline_reached = false;
        let mut last = ProviderError::new(ProviderErrorCode::Unavailable, "no provider attempted");
        let mut hit_deadline = |attempts: &mut Vec<Value>, name: &str, elapsed_ms: u64| {
            deadline_reached = true;
            attempts.push(json!({"provider": name, "code": DEADLINE_EXCEEDED, "elapsed_ms": elapsed_ms}));
        };
        'providers: for (name, model) in candidates {
            let Some(slot) = self.providers.get(name) else { continue };
            let mut backoff = r.backoff_initial_ms;
            for attempt in 1..=r.max_attempts {
                let now = elapsed();
                if now >= deadline {
                    hit_deadline(&mut attempts, name, now);
                    break 'providers;
                }
                if !slot.breaker.try_acquire(self.clock.now_ms()) {
                    attempts.push(json!({"provider": name, "code": RejectCode::CircuitOpen.as_str()}));
                    break;
                }
                count += 1;
                let preq = ProviderRequest {
                    model: model.clone(),
                    prompt: prompt.to_string(),
                    max_tokens,
                    temperature,
                    timeout_ms: slot.config.timeout_ms.unwrap_or(self.config.default_timeout_ms).min(deadline - now),
                };
                match slot.provider.complete(&preq) {
                    Ok(resp) => {
                        slot.breaker.on_success();
                        attempts.push(json!({"provider": name, "attempt": attempt, "ok": true}));
                        return Dispatch {
                            attempts,
                            count,
                            deadline_reached,
                            elapsed_ms: elapsed(),
                            result: Ok((name.clone(), resp)),
                        };
                    }
                    Err(e) => {
                        slot.breaker.on_failure(self.clock.now_ms());
                        attempts.push(json!({"provider": name, "attempt": attempt, "code": e.code.as_str(), "message": e.message}));
                        let retryable = r.retryable_codes.contains(&e.code);
                        let wait = match e.retry_after_ms {
                            Some(ms) if ms > r.max_retry_after_ms => None,
                            Some(ms) => Some(ms),
                            None => Some(backoff),
                        };
                        last = e;
                        match wait {
                            Some(w) if retryable && attempt < r.max_attempts => {
                                let now = elapsed();
                                if now.saturating_add(w) >= deadline {
                                    hit_deadline(&mut attempts, name, now);
                                    break 'providers;
                                }
                                self.clock.sleep_ms(w);
                                backoff = backoff.saturating_mul(r.backoff_multiplier).min(r.backoff_max_ms);
                            }
                            _ => break,
                        }
                    }
                }
            }
        }
        Dispatch { attempts, count, deadline_reached, elapsed_ms: elapsed(), result: Err(last) }
    }

    fn deny(&self, d: &Denial, action: Action, tenant: &str) -> RouterError {
        let code = denial_code(d);
        let e = NewEntry::new(event::ACCESS_DENIED)
            .decision("DENY")
            .reason(d.message.clone())
            .provenance(Provenance { tenant_id: Some(tenant.to_string()), ..Provenance::default() })
            .meta("code", code.as_str())
            .meta("action", action.as_str())
            .meta("principal", d.principal.clone());
        match self.budgeter.append(vec![e]).map(|v| v.into_iter().next()) {
            Ok(Some(entry)) => self.rejected(code, d.message.clone(), &entry),
            Ok(None) => RouterError::Ledger(LedgerError::Aborted("denial not logged".into())),
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

/// The `overrun` record of `PROMPT_RECEIVED`: for each dimension whose settled amount exceeds the
/// reservation — `tokens` (input + output) and `micros` (cost) — `{reserved, actual, excess}`;
/// a dimension within its reservation is absent, and `None` when neither exceeds.
fn overrun(reservation: &Reservation, tokens: u64, micros: u64) -> Option<Value> {
    let mut over = Map::new();
    for (dim, reserved, actual) in [("tokens", reservation.tokens, tokens), ("micros", reservation.micros, micros)] {
        if actual > reserved {
            over.insert(dim.into(), json!({"reserved": reserved, "actual": actual, "excess": actual - reserved}));
        }
    }
    (!over.is_empty()).then_some(Value::Object(over))
}

fn denial_code(d: &Denial) -> RejectCode {
    match d.kind {
        DenialKind::AuthDenied => RejectCode::AuthDenied,
        DenialKind::Forbidden => RejectCode::Forbidden,
    }
}

fn log_content_str(l: LogContent) -> &'static str {
    match l {
        LogContent::Full => "full",
        LogContent::Hash => "hash",
        LogContent::None => "none",
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

/// Renders a contract's `prompt_template`: `{{context}}` → the context text, `{{input.KEY}}` →
/// the input's top-level value (strings as-is, others as JSON). Any other placeholder makes the
/// contract invalid; a missing input key makes the input invalid.
pub fn render(template: &str, context: &str, input: &Value) -> Result<String, (RejectCode, String)> {
    let mut out = String::with_capacity(template.len() + context.len());
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err((RejectCode::ContractInvalid, "prompt_template has an unclosed {{".into()));
        };
        let name = after[..j].trim();
        if name == "context" {
            out.push_str(context);
        } else if let Some(key) = name.strip_prefix("input.") {
            match input.get(key) {
                Some(Value::String(s)) => out.push_str(s),
                Some(v) => out.push_str(&v.to_string()),
                None => {
                    return Err((
                        RejectCode::InvalidInput,
                        format!("input has no key {key:?} used by the prompt_template"),
                    ));
                }
            }
        } else {
            return Err((
                RejectCode::ContractInvalid,
                format!("prompt_template has an unknown placeholder {{{{{name}}}}}"),
            ));
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn validate_output(text: &str, schema: Option<&jsonschema::Validator>) -> (Option<Value>, Vec<String>) {
    let parsed: Option<Value> = serde_json::from_str(text.trim()).ok();
    let Some(v) = schema else { return (parsed, Vec::new()) };
    match &parsed {
        None => (None, vec!["output is not JSON".to_string()]),
        Some(p) => {
            let errs = v.iter_errors(p).map(|e| format!("{}: {e}", e.instance_path())).collect();
            (parsed, errs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_substitutes_and_refuses() {
        let input = json!({"q": "why", "n": 3});
        assert_eq!(render("C={{context}} Q={{ input.q }} N={{input.n}}", "ctx", &input).unwrap(), "C=ctx Q=why N=3");
        assert_eq!(render("{{input.zz}}", "", &input).unwrap_err().0, RejectCode::InvalidInput);
        assert_eq!(render("{{other}}", "", &input).unwrap_err().0, RejectCode::ContractInvalid);
        assert_eq!(render("{{context", "", &input).unwrap_err().0, RejectCode::ContractInvalid);
    }

    #[test]
    fn output_validation_is_full_json_schema() {
        let schema = jsonschema::validator_for(&json!({"type": "object", "required": ["a"],
            "properties": {"a": {"type": "string", "pattern": "^x"}}}))
        .unwrap();
        assert!(validate_output(r#"{"a": "xy"}"#, Some(&schema)).1.is_empty());
        assert_eq!(
            validate_output(r#"{"a": "yy"}"#, Some(&schema)).1.len(),
            1,
            "pattern is checked, not only required"
        );
        assert_eq!(validate_output("not json", Some(&schema)).1.len(), 1);
        assert!(validate_output("not json", None).1.is_empty());
    }
}
