//! # cp-kernel — the Control Plane kernel
//!
//! An embedded, governed runtime kernel for LLM agents. Data flows one way: the **plane** (a
//! directory of governed files) → the **attention service** (assembles context, read-only) →
//! the **prompt router** (authenticates, budgets, calls the provider) → the **ledger**
//! (append-only, SHA-256 hash-chained record of everything that happened).
//!
//! Every public item is re-exported here, flat; the modules are private. What an orchestrator
//! uses:
//!
//! * [`Plane`] — the installed root: tiers, layout, the one path-resolution function.
//! * [`AttentionService`] — assembles an [`AssembledContext`] for an [`AttentionRequest`].
//! * [`PromptRouter`] — routes a [`PromptRequest`] (auth, budget, provider, ledger).
//! * [`LedgerSet`] / [`LedgerStore`] — entries, queries, verification, checkpoints.
//! * [`Clock`] — injected time ([`SystemClock`], [`ManualClock`] for tests).
//!
//! What the installer and the command line also use: package manifests, the strict archive
//! reader, receipts, the gates (each over typed inputs, so that the installer runs them before
//! any file moves), schemas, registries, frameworks, signing.
//!
//! Namespaces kept as modules (their names would collide flat): [`fsx`] (file I/O whose errors
//! name their path), [`env_vars`], [`event`] (ledger event types), [`canonical`] (RFC 8785
//! JSON), [`merkle`], [`cp2`] (Control Plane v2 ledgers); with features, `bench` (benchmark
//! drivers) and `testkit` (test support).
//!
//! The library never prints; it emits `tracing` events. Binaries install the subscriber.

mod attention;
mod auth;
mod budget;
mod causes;
mod clock;
mod contract;
pub mod env_vars;
mod framework;
pub mod fsx;
mod gates;
mod hashing;
mod ledger;
mod package;
mod phase_report;
mod plane;
pub mod policy;
mod providers;
mod registry;
mod replay;
mod router;
mod schema;
mod signing;
#[cfg(feature = "testkit")]
pub mod testkit;
mod work_order;

pub use ledger::{canonical, cp2, event, merkle};

// The plane.
pub use plane::tier::UnknownTier;
pub use plane::{
    DEFAULT_LAYOUT_JSON, Durability, LAYOUT_PATH, LAYOUT_SCHEMA, Layout, LedgerBackend, LedgerLayout, OperatorNotes,
    PLANE_CONFIG_SCHEMA, Plane, PlaneConfig, PlaneDocumentProblem, PlaneError, RootSource, Tier, TrustedKey,
    normalize_relative, resolve_root,
};
pub use plane::{LEDGER_URL_ENV, PostgresLedgerConfig};

// Time.
pub use clock::{Clock, ManualClock, SystemClock};

// Ledger: entries, stores, queries, verification, checkpoints.
pub use ledger::checkpoint::{
    CHECKPOINTS_DIR, Checkpoint, CheckpointError, checkpoint_file_name, latest_in_plane as latest_checkpoint,
    record_checkpoint, save_in_plane as save_checkpoint, verify_against_checkpoint, verify_records_against_checkpoint,
};
pub use ledger::columns::{
    COLUMNS as INDEX_COLUMNS, ColumnRow, ColumnValue, N_COLUMNS as N_INDEX_COLUMNS, OwnedColumn,
};
pub use ledger::verify::{
    Defect, DefectKind, ExportError, OwnedRecord, VerifyReport, export_jsonl, missing_report, stored_records,
    verify_plane, verify_records, verify_store,
};
pub use ledger::{
    ChainHead, GENESIS_PREVIOUS_HASH, JsonlStore, LedgerEntry, LedgerError, LedgerName, LedgerQuery, LedgerSet,
    LedgerStore, MemoryStore, NewEntry, Order, PreparedEntry, Provenance, RawRecord, RecordFault, RepairReport,
    SCHEMA_VERSION as ENTRY_SCHEMA_VERSION, SqliteStore, TxnFn, TxnView, compute_entry_hash,
};
pub use ledger::{CopyReport, SealedSink, copy_ledger};
pub use ledger::{
    DEFAULT_BUSY_TIMEOUT_MS, LEDGER_MANIFEST_FILE, MissingLedger, missing_ledgers, open_store, open_store_with,
};
pub use ledger::{NOTE_PRINCIPAL_KEY, NoteRefused, check_operator_note};
#[cfg(feature = "postgres")]
pub use ledger::{PG_SCHEMA_VERSION, PgOptions, PgStore, PgTarget};

// Registries (CSV).
pub use registry::{
    FrameworkRow, OwnershipRow, PackageStateRow, RegistryError, RegistryKind, SpecRow, Table, append_rows,
    current_ownership, encode_rows, read_kind_table, read_rows, read_table, write_rows,
};

// Schemas and documents.
pub use schema::{
    CheckedAs, DocumentError, EMBEDDED_SCHEMAS, FILE_NAME_SCHEMAS, LocatedDocument, Locations, ParseLimits,
    SCHEMA_SUFFIX, SchemaError, SchemaInfo, SchemaSet, Violation, infer_schema_name, is_json_path, parse_document,
    parse_located, schema_name,
};

// Frameworks, spec packs, governance policy, vocabulary, registry catalogue.
pub use framework::{
    Acceptance, DEFAULT_GOVERNANCE_POLICY_YAML, DEFAULT_REGISTRIES_YAML, DEFAULT_VOCABULARY_YAML, FRAMEWORK_SCHEMA,
    FrameworkError, FrameworkManifest, GOVERNANCE_POLICY_PATH, GOVERNANCE_POLICY_SCHEMA, GenesisCheck, GenesisRules,
    GovernancePolicy, IdentifierRule, Invariant, InvariantLevel, LayerOverride,
    MANIFEST_FILE as FRAMEWORK_MANIFEST_FILE, PathAuthorizer, REGISTRIES_PATH, REGISTRIES_SCHEMA, RegistriesConfig,
    RegistryHeaderIssue, RegistrySource, RegistrySpec, Ring, SPEC_SCHEMA, SpecLinkIssue, SpecPack,
    Status as FrameworkStatus, Term, VOCABULARY_PATH, VOCABULARY_SCHEMA, Vocabulary, check_expected_specs,
    derive_registry_rows, derive_rows, load_framework_file, load_frameworks, load_frameworks_in, load_spec_file,
    load_spec_packs, load_spec_packs_in, path_authorized,
};
pub use framework::{FrameworkSet, LoadedFramework, LoadedSpec, is_framework_manifest, is_spec_manifest};

// Package format: manifest, archives, install config, receipts, signatures.
pub use package::archive::{
    ArchiveError, ArchiveFile, MANIFEST_NAME, ReadArchive, ReadFile, read_archive, read_archive_with, write_archive,
};
pub use package::config::{
    ArchiveCaps, DEFAULT_INSTALL_CONFIG_JSON, INSTALL_CONFIG_PATH, INSTALL_CONFIG_SCHEMA, INSTALL_JOURNAL_FILE,
    InstallConfig, PendingFrameworkPolicy, embedded_schemas, plane_schemas,
};
pub use package::manifest::{
    Asset, Dependency, HashRequirement, MANIFEST_SCHEMA, MANIFEST_SCHEMA_VERSION, Manifest, ManifestError, Version,
    parse_manifest,
};
pub use package::receipt::{
    Receipt, ReceiptError, ReceiptFile, ReceiptWaiver, current_owners, load_receipts, receipt_dir, registry_path,
};
pub use package::signature::SignatureFile;

// Gates: each check takes typed inputs; `run_gates` runs the plane-level ones.
pub use gates::documents::{
    DocumentKind, check_document, check_plane_documents, check_staged_documents, plane_documents,
};
pub use gates::g0a_declaration::check_archive as check_declaration;
pub use gates::g0b_ownership::check_plane as check_ownership;
pub use gates::g1_chain::check_package as check_chain;
pub use gates::g1_complete::check_frameworks as check_completeness;
pub use gates::g5_signature::{Trust, check_signature};
pub use gates::{
    Gate, GateCode, GateError, GateId, GateIssue, GateReport, GateStatus, gate, plane_gate_ids, run_gates,
    run_plane_gates,
};

// Signing and hashing.
pub use hashing::{is_sha256_prefixed, sha256_hex, sha256_prefixed};
pub use signing::{KeyPairFile, PublicKeyFile, SigningError};

// Prompt contracts.
pub use contract::{
    Boundary, PROMPT_CONTRACT_SCHEMA, PROMPT_PACK_EXT, PROMPT_PACKS_DIR, PromptContract, RequiredContext,
    RequiredLedgerQuery,
};

// Attention: the service, its config and templates, the stage configs.
pub use attention::stages::{
    CustomConfig, FileReadConfig, HaltingConfig, HorizontalSearchConfig, LedgerQueryConfig, RegistryQueryConfig,
    RelaxConfig, SearchSourceKind, Stage, StageConfig, StageType, Structured, StructuringConfig, StructuringStrategy,
    TierSelectConfig, TierStrategy,
};
pub use attention::{
    ATTENTION_CONFIG_PATH, ATTENTION_CONFIG_SCHEMA, ATTENTION_TEMPLATE_SCHEMA, AgentClass, AppliesTo, AssembledContext,
    AttentionConfig, AttentionError, AttentionRequest, AttentionService, AttentionServiceBuilder, AttentionTemplate,
    BudgetLimit, BudgetUsed, CacheConfig, CacheStatus, Candidate, ContextFragment, CustomStage, CustomStageInput,
    DEFAULT_ATTENTION_CONFIG_YAML, DefaultTemplateConfig, Fallback, FragmentSource, HaltReason, HaltingRecord,
    InvalidSelector, InvalidTemplate, LoadedTemplate, MergedStage, OnEmpty, OnTimeout, RequiredContextDefaults,
    ResolutionExplanation, RetrievalCandidate, RetrievalConfig, SearchConfig, StageOrigin, StageResult, StageSpec,
    StageStatus, TemplateBudget, TemplateIssue, TemplateReport, estimate_tokens, invalid_templates, load_template_file,
    load_template_str, validate_template_file,
};

// Router, budgets, providers, auth.
pub use auth::{
    Action, AuthError, AuthSecret, OPERATOR_SECRET_FILE, Principal, TokenClaims,
    decode_unverified as decode_token_unverified, issue as issue_token, verify as verify_token,
};
pub use budget::{
    BUDGET_CONFIG_PATH, BUDGET_CONFIG_SCHEMA, BUDGET_PACKAGE, BudgetConfig, BudgetError, BudgetOp, BudgetState,
    Budgeter, InputBound, LimitConfig, PRICE_BOOK_PATH, PRICE_BOOK_SCHEMA, Price, PriceBook, PriceVersion,
    RateLimitRule, RateState, RateTarget, ReserveRequest, ScopeDefaults, ScopeKey, ScopeKind, dangling_prompts,
};
// Reconciliation, compensating entries, per-task cost (issue 15).
pub use budget::{
    ADJUST_POLICY_ID, Adjustment, CostLine, CostReport, ReconcileReport, ScopeDifference, ScopeTotals, ServedBudget,
    WorkOrderAdjustment, recompute as recompute_budget, reconcile as reconcile_budget, work_order_cost,
};
pub use providers::{
    Anthropic, HttpRequest, HttpResponse, HttpTransport, MockProvider, MockStep, OpenAiCompatible, Provider,
    ProviderError, ProviderErrorCode, ProviderRequest, ProviderResponse, TransportError, UreqTransport, Usage,
};
pub use replay::{
    BoundedStore, DriftCause, PromptReplay, RecordedContract, RecordedHead, RecordedRead, ReplayError, ReplayRecord,
    ReplayReport, ReplaySelector, ReplayStatus, Rerunnable, ResponseCheck, assemble_recorded, capture_heads,
    replay as replay_prompts,
};
pub use router::{
    ASSEMBLE_ACTIONS, ATTENTION_REQUEST_SCHEMA, AuthorizedRoute, BreakerConfig, BreakerState, CircuitBreaker,
    ContractSource, Limits, LogContent, NamedScope, NotLogged, PromptRequest, PromptResponse, PromptRouter,
    ProviderConfig, ProviderKind, ROUTE_ACTIONS, ROUTE_REQUEST_SCHEMA, ROUTER_CONFIG_PATH, ROUTER_CONFIG_SCHEMA,
    ROUTER_PACKAGE, ReadAccess, ReadGrant, RejectCode, RequestFile, RetryConfig, RouteRequestDoc, RoutedContext,
    RouterConfig, RouterConfigs, RouterError, RouterOptions, SHIPPED_BUDGET_CONFIG, SHIPPED_PRICE_BOOK,
    SHIPPED_ROUTER_CONFIG, ScopeField, UngovernedContracts, WorkOrderGuard, attention_request_for, choose_provider,
    load_configs as load_router_configs, read_attention_request, render as render_prompt, scope_fields,
};

// The phase-report contract.
pub use phase_report::{
    PHASE_REPORT_CONTRACT_ID, PHASE_REPORT_CONTRACT_PATH, PHASE_REPORT_KEYS, PhaseReportError, ReportCheck,
    check_phase_report, output_error_paths,
};

// Work orders: document, lifecycle, state derived from the ledger.
pub use router::{
    ActiveDegrade, AdjustRequest, DEGRADE_POLICY_ID, DEGRADE_SYSTEM_ACTOR, DegradeActions, DegradeProfile,
    DegradeStatus, DegradeTrigger,
};
pub use work_order::{
    HistoryItem as WorkOrderHistoryItem, LifecycleConfig, RefusalCode as WorkOrderRefusal, SHIPPED_WORK_ORDERS_CONFIG,
    TransitionRule, WORK_ORDER_SCHEMA, WORK_ORDERS_CONFIG_PATH, WORK_ORDERS_CONFIG_SCHEMA, WORK_ORDERS_PACKAGE,
    WorkOrder, WorkOrderBudget, WorkOrderError, WorkOrderState, WorkOrders, derive_work_orders,
};

/// Benchmark drivers (feature `bench`): shared by the criterion benches and `cpctl bench`;
/// never used by the kernel itself.
#[cfg(feature = "bench")]
pub mod bench {
    pub use crate::attention::bench as attention;
    pub use crate::ledger::bench as ledger;
    pub use crate::router::bench as route;
}
