//! Shared fixtures of the router, budget, providers and auth tests: a plane carrying the shipped
//! router/budget configs (optionally edited), a manual clock, a scripted mock, a known secret.

use std::path::Path;
use std::sync::Arc;

use cp_kernel::auth::AuthSecret;
use cp_kernel::contract::{Boundary, PromptContract, RequiredContext};
use cp_kernel::ledger::{LedgerEntry, LedgerQuery, MemoryStore, Provenance};
use cp_kernel::providers::MockProvider;
use cp_kernel::router::{ManualClock, PromptRequest, PromptRouter, RoutedContext, RouterOptions};
use cp_kernel::schema::parse_document;
use cp_kernel::testkit::TempPlane;
use serde_json::{Value, json};

pub(crate) const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
/// 2026-11-22T00:00:00Z, after the shipped price book's first version.
pub(crate) const T0: u64 = 1_795_305_600_000;

pub(crate) fn shipped(rel: &str) -> Value {
    let path = Path::new(REPO).join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    parse_document(&path, &text).unwrap()
}

pub(crate) fn router_cfg() -> Value {
    shipped("packages/PKG-PROMPT-ROUTER-001/HOT/config/router_config.yaml")
}
pub(crate) fn budget_cfg() -> Value {
    shipped("packages/PKG-TOKEN-BUDGETER-001/HOT/config/budget_config.yaml")
}
pub(crate) fn price_book() -> Value {
    shipped("packages/PKG-TOKEN-BUDGETER-001/HOT/config/price_book.yaml")
}

/// Writes the three configs into the plane (JSON is YAML).
pub(crate) fn write_configs(tp: &TempPlane, router: &Value, budget: &Value, prices: &Value) {
    let cfg = tp.plane.root().join("HOT/config");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("router_config.yaml"), serde_json::to_vec_pretty(router).unwrap()).unwrap();
    std::fs::write(cfg.join("budget_config.yaml"), serde_json::to_vec_pretty(budget).unwrap()).unwrap();
    std::fs::write(cfg.join("price_book.yaml"), serde_json::to_vec_pretty(prices).unwrap()).unwrap();
}

pub(crate) fn secret() -> AuthSecret {
    AuthSecret::from_bytes(b"0123456789abcdef0123456789abcdef".to_vec(), 32, "test").unwrap()
}

pub(crate) struct Fx {
    pub(crate) tp: TempPlane,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) mock: Arc<MockProvider>,
    pub(crate) backup: Arc<MockProvider>,
    pub(crate) router: PromptRouter,
}

/// Test configs: no rate limits, unlimited default allocations, a `backup` mock provider.
pub(crate) fn test_configs() -> (Value, Value, Value) {
    let mut r = router_cfg();
    r["providers"]["backup"] = r["providers"]["mock"].clone();
    r["retries"]["backoff_initial_ms"] = json!(10);
    let mut b = budget_cfg();
    b["rate_limits"] = json!([]);
    for k in ["tenant", "session", "work_order", "agent"] {
        b["defaults"][k] = json!({"max_tokens": null, "max_cost_micros": null, "warn_threshold_pct": 80});
    }
    let mut p = price_book();
    let mut backup = p["versions"][0]["prices"][0].clone();
    backup["provider"] = json!("backup");
    p["versions"][0]["prices"].as_array_mut().unwrap().push(backup);
    (r, b, p)
}

impl Fx {
    pub(crate) fn new() -> Self {
        let (r, b, p) = test_configs();
        Self::with(r, b, p, false)
    }

    pub(crate) fn with(r: Value, b: Value, p: Value, memory_store: bool) -> Self {
        let tp = TempPlane::new();
        write_configs(&tp, &r, &b, &p);
        let clock = Arc::new(ManualClock::new(T0));
        let cpt = b["chars_per_token"].as_u64().unwrap();
        let mock = Arc::new(MockProvider::new("mock", cpt));
        let backup = Arc::new(MockProvider::new("backup", cpt));
        let mut opts = RouterOptions::new()
            .provider("mock", mock.clone())
            .provider("backup", backup.clone())
            .clock(clock.clone())
            .auth_secret(secret());
        if memory_store {
            opts = opts.ledger_store(Arc::new(MemoryStore::new(r["ledger"].as_str().unwrap())));
        }
        let router = PromptRouter::open(&tp.plane, opts).unwrap();
        Self { tp, clock, mock, backup, router }
    }

    pub(crate) fn token(&self, tenant: &str, roles: &[&str]) -> String {
        let roles: Vec<String> = roles.iter().map(|s| s.to_string()).collect();
        self.router.issue_token("tester", &roles, tenant, None).unwrap().0
    }

    pub(crate) fn entries(&self) -> Vec<LedgerEntry> {
        self.router.store().query(&LedgerQuery::default()).unwrap()
    }

    /// Event types after `skip` entries.
    pub(crate) fn types_after(&self, skip: usize) -> Vec<String> {
        self.entries().into_iter().skip(skip).map(|e| e.event_type).collect()
    }
}

pub(crate) fn contract() -> PromptContract {
    PromptContract {
        contract_id: "PRC-TEST-001".into(),
        version: "1.0.0".into(),
        description: String::new(),
        prompt_template: "Context: {{context}}\nQuestion: {{input.question}}".into(),
        input_schema: json!({"type": "object", "required": ["question"],
            "properties": {"question": {"type": "string", "minLength": 1}}, "additionalProperties": false}),
        output_schema: Some(
            json!({"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}}),
        ),
        boundary: Boundary { max_tokens: 100, temperature: 0.2, model: None },
        required_context: RequiredContext::default(),
    }
}

pub(crate) fn provenance(tenant: &str) -> Provenance {
    Provenance {
        tenant_id: Some(tenant.into()),
        session_id: Some("s1".into()),
        agent_id: Some("agent-1".into()),
        agent_class: Some("KERNEL.semantic".into()),
        framework_id: Some("FMWK-003".into()),
        work_order_id: None,
        ..Provenance::default()
    }
}

pub(crate) fn request(tenant: &str, token: &str) -> PromptRequest {
    PromptRequest {
        context: RoutedContext {
            context_text: "the plane has 12 packages".into(),
            context_hash: "c0ffee".into(),
            template_id: "ATT-TEST-001".into(),
            trace_summary: json!({"halted": true, "halting_reason": "budget"}),
        },
        contract: contract(),
        input: json!({"question": "how many packages?"}),
        provenance: provenance(tenant),
        auth_token: token.into(),
    }
}

pub(crate) trait NowForTest {
    fn now_ms_for_test(&self) -> u64;
}

impl NowForTest for ManualClock {
    fn now_ms_for_test(&self) -> u64 {
        cp_kernel::router::Clock::now_ms(self)
    }
}
