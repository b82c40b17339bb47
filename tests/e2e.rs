//! End to end, as the attention handoff specifies it: a clean plane → Layers 0–2 (8 packages)
//! → Layer 3 (PHASE2-SCHEMAS, TOKEN-BUDGETER, PROMPT-ROUTER, ATTENTION), every gate passing after
//! each install → a signed package adding an attention template → a prompt contract with
//! required_context → assemble → the context holds the expected fragments → route through the
//! mock provider → SENT and RECEIVED linked, hashes match, budget settled, ledgers verify.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::json;

use cp_installer::{InstallOptions, Installer, PackedArchive, pack_all, pack_package, write_signature};
use cp_kernel::{
    AttentionRequest, AttentionService, AuthSecret, GateId, GateStatus, KeyPairFile, LedgerSet, LimitConfig, Plane,
    PromptContract, PromptRequest, PromptRouter, Provenance, RoutedContext, RouterOptions, SchemaSet, ScopeKey,
    ScopeKind, TrustedKey, event, render_prompt, run_gates, sha256_hex, testkit::TempPlane, verify_plane,
};

const LAYER3: [&str; 4] =
    ["PKG-PHASE2-SCHEMAS-001", "PKG-TOKEN-BUDGETER-001", "PKG-PROMPT-ROUTER-001", "PKG-ATTENTION-001"];

fn assert_gates_pass(plane: &Plane, after: &str) {
    for r in run_gates(plane, &[] as &[GateId]).expect("gates run") {
        assert_eq!(r.status, GateStatus::Pass, "after {after}: {} failed: {} {:?}", r.gate, r.summary, r.errors);
    }
}

fn install(plane: &Plane, p: &PackedArchive, opts: &InstallOptions) {
    Installer::new(plane)
        .install_archive(&p.path, Some(&p.package_id), opts)
        .unwrap_or_else(|e| panic!("install {}: {e} ({})", p.package_id, e.code()));
    assert_gates_pass(&Plane::open(plane.root()).expect("plane"), &p.package_id);
}

/// A signed package carrying one attention template for FMWK-004 agents.
fn template_package(dir: &Path, key: &KeyPairFile) -> PackedArchive {
    let src = dir.join("PKG-E2E-ATTENTION-001");
    std::fs::create_dir_all(src.join("HOT/attention_templates")).unwrap();
    let manifest = json!({
        "package_id": "PKG-E2E-ATTENTION-001", "version": "1.0.0", "schema_version": "1.2",
        "title": "E2E template", "description": "An attention template for FMWK-004 agents",
        "spec_id": "SPEC-ATTENTION-001", "framework_id": "FMWK-004", "plane_id": "hot", "layer": 4,
        "dependencies": ["PKG-ATTENTION-001"],
        "assets": [{"path": "HOT/attention_templates/ATT-E2E-001.yaml", "classification": "template"}]
    });
    std::fs::write(src.join("manifest.json"), serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    std::fs::write(
        src.join("HOT/attention_templates/ATT-E2E-001.yaml"),
        r#"template_id: ATT-E2E-001
version: "1.0.0"
description: Context for attention agents - their framework, its standard, and the session budget.
applies_to:
  framework_id: [FMWK-004]
pipeline:
  - {stage: scope, type: tier_select, config: {tiers: [ho1, ho2], strategy: all_parallel}}
  - {stage: framework, type: registry_query, config: {registry: frameworks, filters: {framework_id: FMWK-004}}}
  - {stage: standard, type: file_read, config: {paths: [HOT/FMWK-004_Attention/attention_standard.md], max_size_bytes: 65536}}
  - {stage: organise, type: structuring, config: {strategy: hierarchical, max_tokens: 6000}}
  - {stage: enough, type: halting, config: {min_fragments: 3, min_tokens: 10, satisfaction_threshold: 1.0}}
budget: {max_context_tokens: 8000, max_queries: 16, timeout_ms: 5000}
fallback: {on_timeout: fail, on_empty: fail}
"#,
    )
    .unwrap();
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    let packed = pack_package(dir, src.to_str().unwrap(), &store).expect("pack e2e package");
    write_signature(&packed.path, &packed.manifest_sha256, key).expect("sign");
    packed
}

#[test]
fn clean_plane_bootstrap_attention_route_round_trip() {
    let tp = TempPlane::new();
    let work = tempfile::tempdir().unwrap();
    let repo = Path::new(cp_installer::BUILT_FROM);
    let mut packed = pack_all(repo, work.path()).expect("pack the bootstrap set");
    packed.sort_by(|a, b| (a.layer, &a.package_id).cmp(&(b.layer, &b.package_id)));
    let opts = InstallOptions { pinned: cp_installer::builtin_pins().unwrap(), ..InstallOptions::default() };

    // Layers 0–2: the 8 packages, gates after each.
    let base: Vec<&PackedArchive> = packed.iter().filter(|p| p.layer <= 2).collect();
    assert_eq!(base.len(), 8, "{:?}", base.iter().map(|p| &p.package_id).collect::<Vec<_>>());
    for p in base {
        install(&tp.plane, p, &opts);
    }
    // Layer 3 in the handoff's order.
    for id in LAYER3 {
        install(&tp.plane, packed.iter().find(|p| p.package_id == id).expect(id), &opts);
    }

    // A signed package from a key the plane trusts adds a template (G5 by signature).
    let key = KeyPairFile::from_seed(&[42u8; 32]);
    let mut plane = Plane::open(tp.plane.root()).unwrap();
    let mut cfg = plane.config().clone();
    cfg.trusted_keys.push(TrustedKey {
        key_id: key.key_id.clone(),
        public_key: key.public_key.clone(),
        note: "e2e".into(),
    });
    plane.save_config(cfg).unwrap();
    let tpl = template_package(work.path(), &key);
    let outcome =
        Installer::new(&plane).install_archive(&tpl.path, Some(&tpl.package_id), &InstallOptions::default()).unwrap();
    assert_eq!(outcome.trust, format!("signature:{}", key.key_id));
    assert_gates_pass(&plane, "PKG-E2E-ATTENTION-001");

    // Router: token and a session budget.
    let router = PromptRouter::open(
        &plane,
        RouterOptions::new().auth_secret(AuthSecret::from_bytes(vec![7u8; 32], 32, "test").unwrap()),
    )
    .unwrap();
    let (token, _) = router.issue_token("e2e", &["operator".to_string()], "acme", None).unwrap();
    let session = ScopeKey::new(ScopeKind::Session, "acme", "S-E2E");
    let limit = LimitConfig { max_tokens: Some(100_000), max_cost_micros: Some(5_000_000), warn_threshold_pct: 80 };
    router.allocate(&token, &session, limit).unwrap();

    // A prompt contract with required_context, validated against the installed schema.
    let contract_path = work.path().join("PRC-E2E-001.yaml");
    std::fs::write(
        &contract_path,
        r#"contract_id: PRC-E2E-001
version: "1.0.0"
prompt_template: "Context:\n{{context}}\nTask: {{input.task}}\nAnswer as JSON {\"answer\": \"...\"}"
input_schema: {type: object, required: [task], properties: {task: {type: string}}, additionalProperties: false}
output_schema: {type: object, required: [answer], properties: {answer: {type: string}}}
boundary: {max_tokens: 256, temperature: 0.0}
required_context:
  framework_refs: [FMWK-003]
  file_refs: [HOT/config/router_config.yaml]
  ledger_queries:
    - {event_type: BUDGET_ALLOCATED, recency: session, tier: ho1}
"#,
    )
    .unwrap();
    let contract =
        PromptContract::load(&SchemaSet::for_plane(&plane).unwrap(), &contract_path).expect("contract validates");

    // Assemble.
    let request: AttentionRequest = serde_json::from_value(json!({
        "agent_id": "agent-e2e", "agent_class": "RESIDENT", "framework_id": "FMWK-004", "tier": "ho2",
        "work_order_id": "WO-E2E", "session_id": "S-E2E", "tenant_id": "acme", "prompt_contract": contract,
    }))
    .unwrap();
    let ctx = AttentionService::builder(&plane).build().unwrap().assemble(&request).expect("assemble");
    assert_eq!(ctx.template_id, "ATT-E2E-001");
    assert_eq!(ctx.context_hash, sha256_hex(ctx.context_text.as_bytes()));
    let ids: BTreeSet<&str> = ctx.fragments.iter().map(|f| f.source_id.as_str()).collect();
    for want in [
        "frameworks:FMWK-004",
        "frameworks:FMWK-003",
        "HOT/FMWK-004_Attention/attention_standard.md",
        "HOT/config/router_config.yaml",
    ] {
        assert!(ids.contains(want), "missing fragment {want}: {ids:?}");
    }
    assert!(ids.iter().any(|i| i.starts_with("HO1/prompts#")), "no ledger fragment (session budget): {ids:?}");
    assert!(ctx.context_text.contains("FMWK-003") && ctx.context_text.contains("default_provider"));

    // Route.
    let input = json!({"task": "summarise the attention framework's invariants"});
    let provenance = Provenance {
        tenant_id: Some("acme".into()),
        agent_id: Some("agent-e2e".into()),
        agent_class: Some("RESIDENT".into()),
        framework_id: Some("FMWK-004".into()),
        work_order_id: Some("WO-E2E".into()),
        session_id: Some("S-E2E".into()),
        tier: Some("ho2".into()),
        ..Provenance::default()
    };
    let resp = router
        .route(PromptRequest {
            context: RoutedContext::from(&ctx),
            contract: contract.clone(),
            input: input.clone(),
            provenance,
            auth_token: token,
        })
        .expect("route");
    assert!(resp.output_valid, "{:?}", resp.output_errors);

    // SENT and RECEIVED are linked and carry the hashes.
    let store = LedgerSet::new(&plane).open("HO1/prompts").unwrap();
    let sent = store.get(resp.sent.seq).unwrap().unwrap();
    let recv = store.get(resp.received.seq).unwrap().unwrap();
    assert_eq!(sent.event_type, event::PROMPT_SENT);
    assert_eq!(recv.event_type, event::PROMPT_RECEIVED);
    assert_eq!(recv.parent_event_id.as_deref(), Some(sent.id.as_str()));
    assert_eq!(sent.metadata["context_hash"], json!(ctx.context_hash));
    assert_eq!(sent.metadata["template_id"], json!("ATT-E2E-001"));
    let prompt = render_prompt(&contract.prompt_template, &ctx.context_text, &input).unwrap();
    assert_eq!(sent.metadata["prompt_hash"], json!(sha256_hex(prompt.as_bytes())));
    assert!(sent.metadata["attention"].to_string().contains("halting"), "{}", sent.metadata["attention"]);

    // Budget settled to the actual usage, and a fresh router rebuilds the same state.
    let state = router.budgeter().state().unwrap();
    let s = &state.scopes[&session.to_string()];
    assert_eq!((s.reserved_tokens, s.reserved_micros), (0, 0));
    assert_eq!(s.spent_tokens, resp.usage.input_tokens + resp.usage.output_tokens);
    assert_eq!(s.spent_micros, resp.cost_micros);
    assert!(resp.cost_micros > 0, "priced by the shipped price book");
    let again = PromptRouter::open(
        &plane,
        RouterOptions::new().auth_secret(AuthSecret::from_bytes(vec![7u8; 32], 32, "test").unwrap()),
    )
    .unwrap();
    assert_eq!(again.budgeter().state().unwrap(), state);

    // Every ledger verifies; every gate still passes.
    for r in verify_plane(&LedgerSet::new(&plane)).unwrap() {
        assert!(r.ok, "{}", r.summary());
    }
    assert_gates_pass(&plane, "routing");
}
