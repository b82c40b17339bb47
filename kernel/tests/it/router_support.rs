//! Shared fixtures of the router, budget, providers and auth tests: a plane carrying the shipped
//! router/budget configs (optionally edited), a manual clock, a scripted mock, a known secret.

use std::sync::Arc;

use cp_kernel::{
    LedgerEntry, LedgerQuery, ManualClock, MemoryStore, MockProvider, PromptRequest, PromptRouter, Provenance,
    RoutedContext, RouterOptions, testkit::TempPlane,
};
use serde_json::{Value, json};

/// 2026-11-22T00:00:00Z, after the shipped price book's first version.
pub(crate) const T0: u64 = 1_795_305_600_000;

pub(crate) use cp_kernel::testkit::{
    REPO_ROOT as REPO, router_test_configs as test_configs, shipped_document as shipped, test_contract as contract,
    test_secret as secret, write_router_configs as write_configs,
};

pub(crate) fn router_cfg() -> Value {
    shipped("packages/PKG-PROMPT-ROUTER-001/HOT/config/router_config.yaml")
}
pub(crate) fn budget_cfg() -> Value {
    shipped("packages/PKG-TOKEN-BUDGETER-001/HOT/config/budget_config.yaml")
}
pub(crate) fn price_book() -> Value {
    shipped("packages/PKG-TOKEN-BUDGETER-001/HOT/config/price_book.yaml")
}

pub(crate) struct Fx {
    pub(crate) tp: TempPlane,
    pub(crate) clock: Arc<ManualClock>,
    pub(crate) mock: Arc<MockProvider>,
    pub(crate) backup: Arc<MockProvider>,
    pub(crate) router: PromptRouter,
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
            retrieval: Vec::new(),
            replay: None,
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
        cp_kernel::Clock::now_ms(self)
    }
}
