//! The quickstart: one call that shows the whole kernel working on a plane.
//!
//! Creates (or opens) the plane, installs the built-in bootstrap set through the gates (trusted
//! through the pinned digests), issues an auth token, allocates a session budget, assembles
//! context for a sample request with the shipped attention templates, routes it through the
//! router (the mock provider, or the OpenAI-compatible provider when `CP_OPENAI_BASE_URL` is
//! set), then runs every gate and verifies every ledger. Running it again on the same plane
//! works: installs are no-ops and a new session is used.
//!
//! Owns: nothing new — it only composes the public APIs, in the order an orchestrator would.
//! Never does: print (it returns a [`QuickstartReport`]; `cpctl quickstart` renders it).
//!
//! On disk: the HMAC secret, when neither `CP_AUTH_SECRET` nor `CP_AUTH_SECRET_FILE` is set, is
//! the plane's operator secret `HOT/plane/auth-secret` (mode 0600; not a governed root, never
//! packaged, never read by the attention service), which every `cpctl` command finds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use crate::bootstrap::{BootstrapError, builtin_pins, builtin_sources};
use crate::install::{InstallError, InstallEvent, InstallOptions, Installer};
use cp_kernel::{
    AssembledContext, AttentionError, AttentionRequest, AttentionService, AuthError, AuthSecret, DocumentError,
    GateError, GateId, GateReport, GateStatus, LedgerError, LedgerQuery, LedgerSet, LimitConfig, Plane, PlaneConfig,
    PlaneError, PromptContract, PromptRequest, PromptRouter, Provenance, ReceiptError, RoutedContext, RouterError,
    RouterOptions, SchemaSet, ScopeKey, ScopeKind, VerifyReport, env_vars, fsx::FsError, load_receipts, run_gates,
    verify_plane,
};

/// What the quickstart uses; every value has a documented default.
#[derive(Debug, Clone)]
pub struct QuickstartOptions {
    /// Plane root.
    pub root: PathBuf,
    /// Tenant of the sample request (default `demo`).
    pub tenant: String,
    /// Plane-relative path of the prompt contract used (default the shipped
    /// `HOT/contracts/PRC-QUICKSTART-001.yaml`).
    pub contract_path: String,
    /// The question asked (the contract's `input.question`).
    pub question: String,
}

impl QuickstartOptions {
    /// Defaults for a plane at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            tenant: "demo".into(),
            contract_path: "HOT/contracts/PRC-QUICKSTART-001.yaml".into(),
            question: "Which framework governs prompt routing, and what must every LLM call do?".into(),
        }
    }
}

/// Why the quickstart stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QuickstartError {
    /// File error.
    #[error(transparent)]
    Io(#[from] FsError),
    /// Plane error.
    #[error(transparent)]
    Plane(#[from] PlaneError),
    /// The bootstrap sources or pins.
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    /// An install was refused or failed.
    #[error("installing the bootstrap set failed")]
    Install(#[from] InstallError),
    /// The install receipts could not be read.
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    /// The auth secret.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The router refused or failed.
    #[error("routing failed")]
    Router(#[from] RouterError),
    /// Context assembly failed.
    #[error("assembling context failed")]
    Attention(#[from] AttentionError),
    /// A document.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// The plane's schemas.
    #[error(transparent)]
    Schema(#[from] cp_kernel::SchemaError),
    /// The gates could not run.
    #[error("running the gates failed")]
    Gates(#[from] GateError),
    /// The ledgers could not be read.
    #[error("reading the ledgers failed")]
    Ledger(#[from] LedgerError),
}

/// Progress of the quickstart (for a progress bar).
#[derive(Debug, Clone)]
pub enum QuickstartEvent {
    /// An install event of the bootstrap set.
    Install(InstallEvent),
    /// A later step began (`token`, `budget`, `attention`, `route`, `gates`, `verify`).
    Step(&'static str),
}

/// One package of the bootstrap step.
#[derive(Debug, Clone, Serialize)]
pub struct InstalledPackage {
    /// Package id.
    pub package_id: String,
    /// Version.
    pub version: String,
    /// What happened (`installed`, `already_installed`, …).
    pub action: String,
    /// Why it was trusted.
    pub trust: String,
    /// Files it owns.
    pub files: usize,
}

/// One fragment of the assembled context, without its text.
#[derive(Debug, Clone, Serialize)]
pub struct FragmentSummary {
    /// `ledger`, `registry`, `file`, `search`, `custom`.
    pub source: String,
    /// Entry/row/file it came from.
    pub source_id: String,
    /// Stage that produced it.
    pub stage: String,
    /// Estimated tokens.
    pub tokens: u64,
    /// Relevance (search only).
    pub relevance: Option<f64>,
}

/// One ledger entry written during the run.
#[derive(Debug, Clone, Serialize)]
pub struct WrittenEntry {
    /// Ledger.
    pub ledger: String,
    /// Position.
    pub seq: u64,
    /// Event type.
    pub event_type: String,
    /// Decision, if any.
    pub decision: Option<String>,
}

/// Everything the quickstart did and found.
#[derive(Debug, Clone, Serialize)]
pub struct QuickstartReport {
    /// The plane root.
    pub root: String,
    /// Bootstrap packages in install order.
    pub packages: Vec<InstalledPackage>,
    /// Where the auth secret came from.
    pub secret_source: String,
    /// Principal, tenant and roles of the token issued (never the token).
    pub token: serde_json::Value,
    /// The session budget allocated.
    pub budget: serde_json::Value,
    /// The session id of this run.
    pub session_id: String,
    /// Template chosen.
    pub template_id: String,
    /// How it was chosen (`override`, `match`, `default`).
    pub template_rule: String,
    /// Why it won.
    pub template_why: String,
    /// Templates considered: id, matched, specificity, reason.
    pub candidates: Vec<serde_json::Value>,
    /// The fragments of the context.
    pub fragments: Vec<FragmentSummary>,
    /// Estimated context tokens.
    pub context_tokens: u64,
    /// SHA-256 of the context.
    pub context_hash: String,
    /// Why the attention pipeline stopped.
    pub halting: serde_json::Value,
    /// Attention warnings.
    pub attention_warnings: Vec<String>,
    /// The provider's answer and its accounting.
    pub response: serde_json::Value,
    /// Every ledger entry written during the run.
    pub ledger_entries: Vec<WrittenEntry>,
    /// `gates --all`.
    pub gates: Vec<GateReport>,
    /// Verification of every ledger.
    pub verification: Vec<VerifyReport>,
}

impl QuickstartReport {
    /// Whether every gate passed and every ledger verified.
    pub fn all_green(&self) -> bool {
        self.gates.iter().all(|g| g.status == GateStatus::Pass) && self.verification.iter().all(|v| v.ok)
    }
}

/// Runs the quickstart.
pub fn quickstart(
    opts: &QuickstartOptions,
    progress: &mut dyn FnMut(QuickstartEvent),
) -> Result<QuickstartReport, QuickstartError> {
    let plane = Plane::init(&opts.root, PlaneConfig::default())?;
    let before = ledger_heads(&plane)?;

    let packages = install_bootstrap(&plane, progress)?;
    let plane = Plane::open(plane.root())?;

    let (secret, secret_source) = auth_secret(&plane)?;
    let mut ropts = RouterOptions::new().auth_secret(secret);
    if std::env::var_os(env_vars::CP_OPENAI_BASE_URL).is_some_and(|v| !v.is_empty()) {
        ropts = ropts.default_provider("openai");
    }
    let router = PromptRouter::open(&plane, ropts)?;

    progress(QuickstartEvent::Step("token"));
    let roles = vec!["operator".to_string()];
    let (token, claims) = router.issue_token("quickstart", &roles, &opts.tenant, None)?;

    progress(QuickstartEvent::Step("budget"));
    let session_id = format!("S-{}", uuid::Uuid::now_v7().simple());
    let scope = ScopeKey::new(ScopeKind::Session, &opts.tenant, &session_id);
    let limit: LimitConfig = router.budgeter().config().defaults.session;
    router.allocate(&token, &scope, limit)?;

    progress(QuickstartEvent::Step("attention"));
    let request = attention_request(opts, &session_id)?;
    let service = AttentionService::builder(&plane).build()?;
    let explanation = service.explain(&request)?;
    let context = service.assemble(&request)?;

    progress(QuickstartEvent::Step("route"));
    let schemas = SchemaSet::for_plane(&plane)?;
    let contract = PromptContract::load(&schemas, &plane.resolve(&opts.contract_path)?)?;
    let response = router.route(PromptRequest {
        context: RoutedContext::from(&context),
        contract,
        input: json!({ "question": opts.question }),
        provenance: provenance(opts, &session_id),
        auth_token: token,
    })?;

    progress(QuickstartEvent::Step("gates"));
    let gates = run_gates(&plane, &[] as &[GateId])?;
    progress(QuickstartEvent::Step("verify"));
    let verification = verify_plane(&LedgerSet::new(&plane))?;

    Ok(QuickstartReport {
        root: plane.root().display().to_string(),
        packages,
        secret_source,
        token: json!({"principal": claims.principal, "tenant": claims.tenant, "roles": claims.roles, "token_id": claims.token_id}),
        budget: json!({"scope": scope.to_string(), "max_tokens": limit.max_tokens, "max_cost_micros": limit.max_cost_micros,
            "warn_threshold_pct": limit.warn_threshold_pct}),
        session_id,
        template_id: explanation.chosen.clone(),
        template_rule: explanation.rule.clone(),
        template_why: explanation.why.clone(),
        candidates: explanation
            .candidates
            .iter()
            .map(|c| json!({"template_id": c.template_id, "matched": c.matched, "specificity": c.specificity, "reason": c.reason}))
            .collect(),
        fragments: fragments(&context),
        context_tokens: context.budget_used.tokens,
        context_hash: context.context_hash.clone(),
        halting: serde_json::to_value(&context.halting).unwrap_or_default(),
        attention_warnings: context.warnings.clone(),
        response: json!({
            "provider": response.provider, "model": response.model, "text": response.text,
            "input_tokens": response.usage.input_tokens, "output_tokens": response.usage.output_tokens,
            "cached_input_tokens": response.usage.cached_input_tokens, "cost_micros": response.cost_micros,
            "price_book_version": response.price_book_version, "latency_ms": response.latency_ms,
            "output_valid": response.output_valid, "finish_reason": response.finish_reason,
        }),
        ledger_entries: written_since(&plane, &before)?,
        gates,
        verification,
    })
}

fn install_bootstrap(
    plane: &Plane,
    progress: &mut dyn FnMut(QuickstartEvent),
) -> Result<Vec<InstalledPackage>, QuickstartError> {
    let opts = InstallOptions { pinned: builtin_pins()?, ..InstallOptions::default() };
    let outcomes = Installer::new(plane)
        .install_bootstrap(&builtin_sources()?, &opts, &mut |e| progress(QuickstartEvent::Install(e)))?;
    let acted: BTreeMap<String, String> = outcomes
        .into_iter()
        .map(|o| {
            let action = serde_json::to_value(o.action).ok().and_then(|v| v.as_str().map(str::to_string));
            (o.package_id, action.unwrap_or_default())
        })
        .collect();
    // The installed set as the receipts record it (the installer skips packages that are
    // already there as dependencies, so its outcomes alone may not list every package).
    let mut receipts: Vec<_> = load_receipts(plane)?.into_values().collect();
    receipts.sort_by(|a, b| (a.layer, &a.package_id).cmp(&(b.layer, &b.package_id)));
    Ok(receipts
        .into_iter()
        .map(|r| InstalledPackage {
            action: acted.get(&r.package_id).cloned().unwrap_or_else(|| "already_installed".into()),
            package_id: r.package_id,
            version: r.version,
            trust: r.trust,
            files: r.files.len(),
        })
        .collect())
}

/// The secret from `CP_AUTH_SECRET(_FILE)`, else the plane's operator secret (created when
/// absent: `HOT/plane/auth-secret`, mode 0600).
fn auth_secret(plane: &Plane) -> Result<(AuthSecret, String), QuickstartError> {
    let min = cp_kernel::load_router_configs(plane, &SchemaSet::for_plane(plane)?)?.router.auth.min_secret_bytes;
    let (s, from, _) = AuthSecret::ensure_for_plane(plane, min)?;
    Ok((s, from))
}

/// The plane's operator secret file (`HOT/plane/auth-secret` of the plane at `root`), where the
/// quickstart keeps the auth secret: inside the plane's operator area, outside governed roots.
pub fn quickstart_secret_path(root: &Path) -> PathBuf {
    match Plane::open(root) {
        Ok(p) => AuthSecret::operator_path(&p),
        Err(_) => root.join("HOT/plane").join(cp_kernel::OPERATOR_SECRET_FILE),
    }
}

fn attention_request(opts: &QuickstartOptions, session_id: &str) -> Result<AttentionRequest, QuickstartError> {
    serde_json::from_value(json!({
        "agent_id": "agent-quickstart",
        "agent_class": "KERNEL.semantic",
        "framework_id": "FMWK-003",
        "tier": "ho1",
        "work_order_id": "WO-QUICKSTART-001",
        "session_id": session_id,
        "tenant_id": opts.tenant,
        "prompt_contract_path": opts.contract_path,
    }))
    .map_err(|e| {
        QuickstartError::Document(DocumentError::Decode {
            path: PathBuf::from("<quickstart request>"),
            message: e.to_string(),
        })
    })
}

fn provenance(opts: &QuickstartOptions, session_id: &str) -> Provenance {
    Provenance {
        tenant_id: Some(opts.tenant.clone()),
        agent_id: Some("agent-quickstart".into()),
        agent_class: Some("KERNEL.semantic".into()),
        framework_id: Some("FMWK-003".into()),
        work_order_id: Some("WO-QUICKSTART-001".into()),
        session_id: Some(session_id.to_string()),
        tier: Some("ho1".into()),
        ..Provenance::default()
    }
}

fn fragments(c: &AssembledContext) -> Vec<FragmentSummary> {
    c.fragments
        .iter()
        .map(|f| FragmentSummary {
            source: serde_json::to_value(f.source)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            source_id: f.source_id.clone(),
            stage: f.stage.clone(),
            tokens: f.token_estimate,
            relevance: f.relevance_score,
        })
        .collect()
}

fn ledger_heads(plane: &Plane) -> Result<BTreeMap<String, u64>, LedgerError> {
    let set = LedgerSet::new(plane);
    let mut out = BTreeMap::new();
    for name in set.list()? {
        let n = name.to_string();
        out.insert(n.clone(), set.open(&n)?.len()?);
    }
    Ok(out)
}

fn written_since(plane: &Plane, before: &BTreeMap<String, u64>) -> Result<Vec<WrittenEntry>, LedgerError> {
    let set = LedgerSet::new(plane);
    let mut out = Vec::new();
    for name in set.list()? {
        let n = name.to_string();
        let from = before.get(&n).copied().unwrap_or(0);
        let q = LedgerQuery { after_seq: from.checked_sub(1), ..LedgerQuery::default() };
        for e in set.open(&n)?.query(&q)? {
            out.push(WrittenEntry { ledger: n.clone(), seq: e.seq, event_type: e.event_type, decision: e.decision });
        }
    }
    Ok(out)
}
