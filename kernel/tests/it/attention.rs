//! Attention service: template loading, resolution, required_context merge, and shared helpers
//! for the other `attention_*` test modules.

use std::path::Path;
use std::sync::Arc;

use cp_kernel::{
    AgentClass, AttentionError, AttentionRequest, AttentionService, Boundary, LedgerSet, ManualClock, NewEntry,
    PromptContract, Provenance, RequiredContext, RequiredLedgerQuery, SchemaSet, StageOrigin, Tier, testkit::TempPlane,
    validate_template_file,
};

/// Writes `text` to the plane-relative `rel`.
pub(crate) fn write(tp: &TempPlane, rel: &str, text: &str) {
    let p = tp.plane.root().join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A template YAML with the given `applies_to` body, pipeline body, budget and fallback.
pub(crate) fn tpl(id: &str, applies: &str, pipeline: &str, budget: (u64, u64, u64), fallback: (&str, &str)) -> String {
    format!(
        "template_id: {id}\nversion: \"1.0.0\"\napplies_to: {applies}\npipeline:\n{pipeline}\nbudget:\n  max_context_tokens: {}\n  max_queries: {}\n  timeout_ms: {}\nfallback:\n  on_timeout: {}\n  on_empty: {}\n",
        budget.0, budget.1, budget.2, fallback.0, fallback.1
    )
}

/// Installs a template file under HOT/attention_templates.
pub(crate) fn install(tp: &TempPlane, id: &str, yaml: &str) {
    write(tp, &format!("HOT/attention_templates/{id}.yaml"), yaml);
}

/// A simple template applying to `applies` with `pipeline`, generous budget.
pub(crate) fn simple(tp: &TempPlane, id: &str, applies: &str, pipeline: &str) {
    install(tp, id, &tpl(id, applies, pipeline, (100_000, 100, 100_000), ("return_partial", "proceed_empty")));
}

pub(crate) const STRUCTURE: &str =
    "  - stage: organise\n    type: structuring\n    config: {strategy: hierarchical, max_tokens: 100000}\n";

pub(crate) fn req(class: AgentClass, fw: Option<&str>, tier: Tier) -> AttentionRequest {
    AttentionRequest {
        agent_id: "agent-1".into(),
        agent_class: class,
        framework_id: fw.map(str::to_string),
        tier,
        work_order_id: Some("WO-1".into()),
        session_id: Some("S-1".into()),
        tenant_id: "tenant-a".into(),
        prompt_contract: None,
        prompt_contract_path: None,
        template_override: None,
    }
}

pub(crate) fn kreq() -> AttentionRequest {
    req(AgentClass::KernelSyntactic, None, Tier::Ho1)
}

pub(crate) fn contract(rc: RequiredContext) -> PromptContract {
    PromptContract {
        contract_id: "PRC-TEST-001".into(),
        version: "1.0.0".into(),
        description: String::new(),
        prompt_template: "{{context}}".into(),
        prompt_pack_id: None,
        input_schema: serde_json::json!({"type": "object"}),
        output_schema: None,
        boundary: Boundary { max_tokens: 100, temperature: 0.0, model: None },
        required_context: rc,
    }
}

pub(crate) fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::at(jiff::Timestamp::now()))
}

pub(crate) fn service(tp: &TempPlane) -> AttentionService {
    AttentionService::builder(&tp.plane).clock(clock()).build().unwrap()
}

pub(crate) fn service_with(tp: &TempPlane, c: Arc<ManualClock>) -> AttentionService {
    AttentionService::builder(&tp.plane).clock(c).build().unwrap()
}

/// Appends `(event_type, tenant, session, work order, reason)` entries to ledger `name`.
pub(crate) fn append(tp: &TempPlane, name: &str, entries: &[(&str, &str, &str, &str, &str)]) {
    let set = LedgerSet::new(&tp.plane);
    let store = set.open(name).unwrap();
    let batch = entries
        .iter()
        .map(|(ev, tenant, session, wo, reason)| {
            NewEntry::new(*ev).reason(*reason).provenance(Provenance {
                tenant_id: Some(tenant.to_string()),
                session_id: Some(session.to_string()),
                work_order_id: Some(wo.to_string()),
                ..Provenance::default()
            })
        })
        .collect();
    store.append_batch(batch).unwrap();
}

pub(crate) fn frameworks_csv(tp: &TempPlane, rows: &[(&str, &str)]) {
    let mut s = String::from("framework_id,title,status,version,plane_id,created_at\n");
    for (id, title) in rows {
        s.push_str(&format!("{id},{title},active,1.0.0,hot,2026-01-01T00:00:00Z\n"));
    }
    write(tp, "HOT/registries/frameworks_registry.csv", &s);
}

fn chosen(tp: &TempPlane, r: &AttentionRequest) -> String {
    service(tp).explain(r).unwrap().chosen
}

#[test]
fn resolve_by_agent_class() {
    let tp = TempPlane::new();
    simple(&tp, "ATT-K", "{agent_class: [KERNEL.syntactic]}", STRUCTURE);
    simple(&tp, "ATT-A", "{agent_class: [ADMIN]}", STRUCTURE);
    assert_eq!(chosen(&tp, &kreq()), "ATT-K");
    assert_eq!(chosen(&tp, &req(AgentClass::Admin, None, Tier::Hot)), "ATT-A");
}

#[test]
fn resolve_by_framework_id() {
    let tp = TempPlane::new();
    simple(&tp, "ATT-F3", "{framework_id: [FMWK-003]}", STRUCTURE);
    simple(&tp, "ATT-F4", "{framework_id: [FMWK-004]}", STRUCTURE);
    assert_eq!(chosen(&tp, &req(AgentClass::Resident, Some("FMWK-004"), Tier::Ho1)), "ATT-F4");
    assert_eq!(chosen(&tp, &req(AgentClass::Resident, Some("FMWK-003"), Tier::Ho1)), "ATT-F3");
}

#[test]
fn resolve_by_tier() {
    let tp = TempPlane::new();
    simple(&tp, "ATT-HO1", "{tier: [ho1]}", STRUCTURE);
    simple(&tp, "ATT-HO2", "{tier: [ho2]}", STRUCTURE);
    assert_eq!(chosen(&tp, &req(AgentClass::Resident, None, Tier::Ho2)), "ATT-HO2");
    assert_eq!(chosen(&tp, &req(AgentClass::Resident, None, Tier::Ho1)), "ATT-HO1");
}

#[test]
fn specificity_order() {
    let tp = TempPlane::new();
    simple(&tp, "ATT-T", "{tier: [ho1]}", STRUCTURE);
    simple(&tp, "ATT-C", "{agent_class: [KERNEL.syntactic]}", STRUCTURE);
    simple(&tp, "ATT-F", "{framework_id: [FMWK-003]}", STRUCTURE);
    let s = service(&tp);
    assert_eq!(s.explain(&req(AgentClass::KernelSyntactic, Some("FMWK-003"), Tier::Ho1)).unwrap().chosen, "ATT-F");
    assert_eq!(s.explain(&req(AgentClass::KernelSyntactic, Some("FMWK-999"), Tier::Ho1)).unwrap().chosen, "ATT-C");
    assert_eq!(s.explain(&req(AgentClass::Admin, None, Tier::Ho1)).unwrap().chosen, "ATT-T");
    let ex = s.explain(&req(AgentClass::KernelSyntactic, Some("FMWK-003"), Tier::Ho1)).unwrap();
    assert_eq!(ex.candidates.iter().filter(|c| c.matched).count(), 3);
    assert!(ex.why.contains("framework_id"), "{}", ex.why);
}

#[test]
fn no_match_uses_default() {
    let tp = TempPlane::new();
    simple(&tp, "ATT-A", "{agent_class: [ADMIN]}", STRUCTURE);
    write(&tp, "HOT/contracts/spec.md", "the spec");
    let s = service(&tp);
    let mut r = kreq();
    r.prompt_contract =
        Some(contract(RequiredContext { file_refs: vec!["HOT/contracts/spec.md".into()], ..Default::default() }));
    let c = s.assemble(&r).unwrap();
    assert_eq!(c.template_id, s.config().default_template.template_id);
    assert!(c.warnings.iter().any(|w| w.contains("no template applies")), "{:?}", c.warnings);
    assert_eq!(c.fragments.len(), 1);
    assert_eq!(c.fragments[0].content, "the spec");
    let kinds: Vec<&str> = c.pipeline_trace.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["file_read", "structuring"]);
}

#[test]
fn multiple_matches_fail_closed() {
    let tp = TempPlane::new();
    simple(&tp, "ATT-K1", "{agent_class: [KERNEL.syntactic]}", STRUCTURE);
    simple(&tp, "ATT-K2", "{agent_class: [KERNEL.syntactic, ADMIN]}", STRUCTURE);
    let s = service(&tp);
    match s.assemble(&kreq()) {
        Err(AttentionError::AmbiguousTemplate { ids, .. }) => assert_eq!(ids, ["ATT-K1", "ATT-K2"]),
        other => panic!("expected ambiguity, got {other:?}"),
    }
    // A more specific template breaks the tie.
    simple(&tp, "ATT-KT", "{agent_class: [KERNEL.syntactic], tier: [ho1]}", STRUCTURE);
    assert_eq!(service(&tp).explain(&kreq()).unwrap().chosen, "ATT-KT");
}

#[test]
fn template_override() {
    let tp = TempPlane::new();
    simple(&tp, "ATT-K", "{agent_class: [KERNEL.syntactic]}", STRUCTURE);
    simple(&tp, "ATT-OTHER", "{}", STRUCTURE);
    let s = service(&tp);
    let mut r = kreq();
    r.template_override = Some("ATT-OTHER".into());
    let ex = s.explain(&r).unwrap();
    assert_eq!((ex.chosen.as_str(), ex.rule.as_str()), ("ATT-OTHER", "override"));
    r.template_override = Some("ATT-NOPE".into());
    assert!(matches!(s.assemble(&r), Err(AttentionError::UnknownTemplate { .. })));
}

fn lq(ev: &str) -> RequiredLedgerQuery {
    RequiredLedgerQuery {
        event_type: ev.into(),
        max_entries: Some(3),
        recency: Some("session".into()),
        tier: Some("ho1".into()),
    }
}

const HALT: &str = "  - stage: enough\n    type: halting\n    config: {min_fragments: 1, min_tokens: 1, satisfaction_threshold: 1.0}\n";

#[test]
fn merge_ledger_queries() {
    let tp = TempPlane::new();
    simple(&tp, "ATT-K", "{agent_class: [KERNEL.syntactic]}", &format!("{STRUCTURE}{HALT}"));
    let mut r = kreq();
    r.prompt_contract = Some(contract(RequiredContext {
        ledger_queries: vec![lq("PROMPT_RECEIVED"), lq("PROMPT_RECEIVED")],
        ..Default::default()
    }));
    let ex = service(&tp).explain(&r).unwrap();
    let kinds: Vec<(&str, StageOrigin)> = ex.pipeline.iter().map(|s| (s.kind.as_str(), s.origin)).collect();
    assert_eq!(
        kinds,
        [
            ("ledger_query", StageOrigin::RequiredContext),
            ("structuring", StageOrigin::Template),
            ("halting", StageOrigin::Template)
        ]
    );
    assert_eq!(ex.pipeline[0].config["event_type"], "PROMPT_RECEIVED");
    assert_eq!(ex.pipeline[0].config["max_entries"], 3);
    assert_eq!(ex.pipeline[0].config["recency"], "session");
}

#[test]
fn merge_framework_refs() {
    let tp = TempPlane::new();
    simple(&tp, "ATT-K", "{agent_class: [KERNEL.syntactic]}", STRUCTURE);
    let mut r = kreq();
    r.prompt_contract = Some(contract(RequiredContext {
        framework_refs: vec!["FMWK-003".into(), "FMWK-004".into(), "FMWK-003".into()],
        ..Default::default()
    }));
    let ex = service(&tp).explain(&r).unwrap();
    let regs: Vec<_> = ex.pipeline.iter().filter(|s| s.kind == "registry_query").collect();
    assert_eq!(regs.len(), 2);
    assert_eq!(regs[0].config["registry"], "frameworks");
    assert_eq!(regs[0].config["filters"]["framework_id"], "FMWK-003");
    assert_eq!(regs[1].config["filters"]["framework_id"], "FMWK-004");
    assert_eq!(ex.pipeline.last().unwrap().kind, "structuring");
}

#[test]
fn merge_file_refs() {
    let tp = TempPlane::new();
    simple(&tp, "ATT-K", "{agent_class: [KERNEL.syntactic]}", STRUCTURE);
    let mut r = kreq();
    r.prompt_contract = Some(contract(RequiredContext {
        file_refs: vec!["HOT/a.md".into(), "./HOT/b.md".into(), "HOT/a.md".into()],
        ..Default::default()
    }));
    let ex = service(&tp).explain(&r).unwrap();
    let files: Vec<_> = ex.pipeline.iter().filter(|s| s.kind == "file_read").collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].config["paths"], serde_json::json!(["HOT/a.md", "HOT/b.md"]));
    // A template file_read with `paths: []` is the slot they go into.
    let tp2 = TempPlane::new();
    let slot = "  - stage: docs\n    type: file_read\n    config: {paths: [], max_size_bytes: 100}\n";
    simple(&tp2, "ATT-K", "{agent_class: [KERNEL.syntactic]}", &format!("{slot}{STRUCTURE}"));
    let ex = service(&tp2).explain(&r).unwrap();
    assert_eq!(ex.pipeline.len(), 2);
    assert_eq!(ex.pipeline[0].stage, "docs");
    assert_eq!(ex.pipeline[0].config["paths"], serde_json::json!(["HOT/a.md", "HOT/b.md"]));
    assert_eq!(ex.pipeline[0].config["max_size_bytes"], 100);
}

#[test]
fn template_stages_take_priority() {
    let tp = TempPlane::new();
    let stages = "  - stage: mine\n    type: ledger_query\n    config: {event_type: PROMPT_RECEIVED, max_entries: 7}\n  - stage: fw\n    type: registry_query\n    config: {registry: frameworks, filters: {framework_id: FMWK-003}}\n  - stage: files\n    type: file_read\n    config: {paths: [HOT/a.md], max_size_bytes: 50}\n";
    simple(&tp, "ATT-K", "{agent_class: [KERNEL.syntactic]}", &format!("{stages}{STRUCTURE}"));
    let mut r = kreq();
    r.prompt_contract = Some(contract(RequiredContext {
        ledger_queries: vec![lq("PROMPT_RECEIVED")],
        framework_refs: vec!["FMWK-003".into()],
        file_refs: vec!["HOT/a.md".into()],
    }));
    let ex = service(&tp).explain(&r).unwrap();
    assert_eq!(ex.pipeline.len(), 4, "{:#?}", ex.pipeline);
    assert!(ex.pipeline.iter().all(|s| s.origin == StageOrigin::Template));
    assert_eq!(ex.pipeline[0].config["max_entries"], 7);
    assert_eq!(ex.required.len(), 3);
}

// ---- malformed templates give located errors ----

fn issues_of(yaml: &str) -> Vec<String> {
    let schemas = SchemaSet::embedded().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ATT-BAD.yaml");
    std::fs::write(&p, yaml).unwrap();
    let rep = validate_template_file(&schemas, &p);
    assert!(!rep.valid);
    rep.issues.iter().map(|i| i.to_string()).collect()
}

fn good_stage() -> String {
    tpl("ATT-X", "{tier: [ho1]}", STRUCTURE, (10, 10, 10), ("fail", "fail"))
}

#[test]
fn malformed_bad_yaml_is_located() {
    let issues = issues_of("template_id: ATT-X\npipeline: [\n  - {stage: a\n");
    assert!(issues[0].contains("ATT-BAD.yaml:"), "{issues:?}");
    assert!(issues[0].split(':').nth(1).unwrap().parse::<u32>().is_ok(), "line missing: {issues:?}");
}

#[test]
fn malformed_unknown_stage_type_is_located() {
    let y = good_stage().replace("type: structuring", "type: telepathy");
    let issues = issues_of(&y);
    assert!(issues.iter().any(|i| i.contains("/pipeline/0/type")), "{issues:?}");
}

#[test]
fn malformed_unknown_config_key_is_located() {
    let y = good_stage().replace("max_tokens: 100000}", "max_tokens: 100000, max_tokenz: 3}");
    let issues = issues_of(&y);
    assert!(issues.iter().any(|i| i.contains("/pipeline/0/config") && i.contains("max_tokenz")), "{issues:?}");
    assert!(issues.iter().any(|i| i.contains("ATT-BAD.yaml:7:")), "line of the config: {issues:?}");
}

#[test]
fn malformed_negative_budget_is_located() {
    let y = good_stage().replace("max_queries: 10", "max_queries: -1");
    let issues = issues_of(&y);
    assert!(issues.iter().any(|i| i.contains("/budget/max_queries") && i.contains("ATT-BAD.yaml:11:")), "{issues:?}");
}

#[test]
fn malformed_semantic_errors_name_stage_and_field() {
    let st = "  - stage: lq\n    type: ledger_query\n    config: {event_type: X, max_entries: 2, filters: {tenant_id: t}}\n  - stage: fr\n    type: file_read\n    config: {paths: [../../etc/passwd], max_size_bytes: 10}\n";
    let y = tpl("ATT-X", "{tier: [ho1]}", st, (10, 10, 10), ("fail", "fail"));
    let issues = issues_of(&y);
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert!(issues[0].contains("/pipeline/0/config/filters/tenant_id") && issues[0].contains("\"lq\""), "{issues:?}");
    assert!(issues[1].contains("/pipeline/1/config/paths/0") && issues[1].contains("refused"), "{issues:?}");
    assert!(issues[0].contains("ATT-BAD.yaml:7:") && issues[1].contains("ATT-BAD.yaml:10:"), "{issues:?}");
}

#[test]
fn invalid_templates_in_plane_are_listed_with_all_issues() {
    // Since issue 8 an invalid template no longer refuses the service (see attention_isolation).
    let tp = TempPlane::new();
    install(&tp, "ATT-B1", "template_id: ATT-B1\n");
    install(&tp, "ATT-B2", &good_stage().replace("ATT-X", "ATT-B2").replace("max_queries: 10", "max_queries: -1"));
    let s = AttentionService::builder(&tp.plane).build().unwrap();
    let invalid = s.invalid_templates();
    assert!(invalid.iter().any(|t| t.path.ends_with("ATT-B1.yaml") && !t.issues.is_empty()));
    assert!(invalid.iter().any(|t| t.path.ends_with("ATT-B2.yaml") && !t.issues.is_empty()));
    assert!(s.template_ids().is_empty());
}

#[test]
fn shipped_templates_and_config_are_valid() {
    let schemas = SchemaSet::embedded().unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../packages/PKG-ATTENTION-001/HOT");
    for id in ["ATT-KERNEL-001", "ATT-ADMIN-001", "ATT-ROUTING-001"] {
        let rep = validate_template_file(&schemas, &dir.join(format!("attention_templates/{id}.yaml")));
        assert!(rep.valid, "{id}: {:?}", rep.issues);
        assert_eq!(rep.template_id.as_deref(), Some(id));
    }
    let cfg: cp_kernel::AttentionConfig =
        schemas.load_document("attention_config", &dir.join("config/attention_config.yaml")).unwrap();
    assert_eq!(cfg, cp_kernel::AttentionConfig::shipped(&schemas).unwrap());
}

#[test]
fn prompt_contract_schema_matches_struct() {
    let schemas = SchemaSet::embedded().unwrap();
    let c = contract(RequiredContext {
        ledger_queries: vec![lq("PROMPT_RECEIVED")],
        framework_refs: vec!["FMWK-003".into()],
        file_refs: vec!["HOT/a.md".into()],
    });
    let v = serde_json::to_value(&c).unwrap();
    schemas.validate("prompt_contract", &v).unwrap();
    let mut bad = v.clone();
    bad["required_context"]["extra"] = serde_json::json!(1);
    assert!(schemas.validate("prompt_contract", &bad).is_err());
}
