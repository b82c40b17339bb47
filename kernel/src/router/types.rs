//! The router's request, response and error types: reason codes, [`RouterError`], the routed
//! context, the request (and its file form) and the response.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use crate::auth::AuthError;
use crate::budget::{BudgetError, Reservation, ScopeState};
use crate::contract::PromptContract;
use crate::hashing::sha256_hex;
use crate::ledger::{LedgerEntry, LedgerError, Provenance};
use crate::plane::PlaneError;
use crate::providers::{ProviderErrorCode, Usage};
use crate::schema::{DocumentError, SchemaError};

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
    /// The active degrade profile refuses the request's agent class.
    Degraded,
    /// `work_order_guard` is required and the prompt's work order is missing, unknown, another
    /// tenant's, or not in one of the guard's states.
    WorkOrderState,
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
            Self::Degraded => "DEGRADED",
            Self::WorkOrderState => "WORK_ORDER_STATE",
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
    /// A ledger write the router needs returned no entry for it.
    #[error("router ledger error: the {what} was not logged")]
    NotLogged {
        /// Which record.
        what: NotLogged,
    },
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
    /// A degrade profile that `router_config.degrade_profiles` does not define.
    #[error("unknown degrade profile {name:?} (router_config degrade_profiles defines: {known})")]
    UnknownProfile {
        /// The name asked for.
        name: String,
        /// The names defined, comma-separated (or `none`).
        known: String,
    },
    /// Auth setup error (secret source, roles, TTL).
    #[error("router auth error")]
    Auth(
        #[from]
        #[source]
        AuthError,
    ),
}

/// A record the router must log before it answers, named in [`RouterError::NotLogged`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotLogged {
    /// The `PROMPT_REJECTED` of a refusal before the reservation.
    Rejection,
    /// The `PROMPT_REJECTED` of a reservation refused by a limit.
    Refusal,
    /// The `PROMPT_SENT` of a reservation.
    PromptSent,
    /// The `ACCESS_DENIED` of a denial.
    Denial,
    /// The `CONTRACT_UNGOVERNED` of a route request's contract.
    ContractUse,
}

impl std::fmt::Display for NotLogged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Rejection => "rejection",
            Self::Refusal => "refusal",
            Self::PromptSent => "PROMPT_SENT",
            Self::Denial => "denial",
            Self::ContractUse => "contract use",
        })
    }
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
    /// What replay needs ([`crate::ReplayRecord`]), logged in `PROMPT_SENT` as `replay`;
    /// `None` for a context given inline.
    pub replay: Option<Value>,
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
            replay: None,
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
            replay: None,
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
