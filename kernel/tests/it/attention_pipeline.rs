//! Attention service: stages, halting, custom handlers, output fields.

use cp_kernel::{
    AttentionService, ContextFragment, CustomStageInput, FragmentSource, HaltReason, RequiredContext, StageStatus,
    StructuringConfig, StructuringStrategy, Tier, testkit::TempPlane,
};

use crate::attention::{STRUCTURE, append, clock, contract, frameworks_csv, kreq, service, simple, write};

const K: &str = "{agent_class: [KERNEL.syntactic]}";

fn lq(name: &str, extra: &str) -> String {
    format!(
        "  - stage: {name}\n    type: ledger_query\n    config: {{event_type: PROMPT_RECEIVED, max_entries: 10{extra}}}\n"
    )
}

fn fr(name: &str, paths: &str) -> String {
    format!("  - stage: {name}\n    type: file_read\n    config: {{paths: [{paths}], max_size_bytes: 100000}}\n")
}

#[test]
fn stages_run_in_order() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "alpha");
    write(&tp, "HOT/b.md", "beta");
    let p = format!(
        "  - stage: scope\n    type: tier_select\n    config: {{tiers: [ho1]}}\n{}{}{}{STRUCTURE}",
        fr("second", "HOT/b.md"),
        lq("third", ""),
        fr("first", "HOT/a.md")
    );
    simple(&tp, "ATT-K", K, &p);
    let c = service(&tp).assemble(&kreq()).unwrap();
    let names: Vec<&str> = c.pipeline_trace.iter().map(|s| s.stage.as_str()).collect();
    assert_eq!(names, ["scope", "second", "third", "first", "organise"]);
    // Hierarchical keeps collection order inside the file group.
    let ids: Vec<&str> = c.fragments.iter().map(|f| f.source_id.as_str()).collect();
    assert_eq!(ids, ["HOT/b.md", "HOT/a.md"]);
}

#[test]
fn disabled_stage_skipped() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "alpha");
    let p = format!(
        "{}    enabled: false\n{STRUCTURE}",
        fr("unused", "HOT/a.md").trim_end_matches('\n').to_string() + "\n"
    );
    simple(&tp, "ATT-K", K, &p);
    let c = service(&tp).assemble(&kreq()).unwrap();
    assert_eq!(c.pipeline_trace[0].status, StageStatus::Skipped);
    assert!(c.fragments.is_empty());
}

#[test]
fn ledger_query_produces_fragments() {
    let tp = TempPlane::new();
    append(
        &tp,
        "HO1/prompts",
        &[
            ("PROMPT_RECEIVED", "tenant-a", "S-1", "WO-1", "first answer"),
            ("PROMPT_SENT", "tenant-a", "S-1", "WO-1", "a request"),
            ("PROMPT_RECEIVED", "tenant-a", "S-1", "WO-1", "second answer"),
        ],
    );
    simple(&tp, "ATT-K", K, &format!("{}{STRUCTURE}", lq("recent", ", recency: session")));
    let c = service(&tp).assemble(&kreq()).unwrap();
    assert_eq!(c.fragments.len(), 2);
    assert!(c.fragments.iter().all(|f| f.source == FragmentSource::Ledger && f.content.contains("PROMPT_RECEIVED")));
    assert_eq!(c.fragments[0].source_id, "HO1/prompts#2", "newest first");
    assert!(c.fragments[0].content.contains("second answer"));
    assert_eq!(c.budget_used.queries, 1);
}

#[test]
fn registry_query_produces_fragments() {
    let tp = TempPlane::new();
    frameworks_csv(&tp, &[("FMWK-003", "Prompt Routing"), ("FMWK-004", "Attention")]);
    let p = format!(
        "  - stage: fw\n    type: registry_query\n    config: {{registry: frameworks, filters: {{framework_id: FMWK-004}}}}\n{STRUCTURE}"
    );
    simple(&tp, "ATT-K", K, &p);
    let c = service(&tp).assemble(&kreq()).unwrap();
    assert_eq!(c.fragments.len(), 1);
    assert_eq!(c.fragments[0].source, FragmentSource::Registry);
    assert_eq!(c.fragments[0].source_id, "frameworks:FMWK-004");
    assert!(c.fragments[0].content.contains("title: Attention"));
}

#[test]
fn file_read_produces_fragments() {
    let tp = TempPlane::new();
    write(&tp, "HOT/config/notes.md", "governing notes");
    simple(&tp, "ATT-K", K, &format!("{}{STRUCTURE}", fr("f", "HOT/config/notes.md")));
    let c = service(&tp).assemble(&kreq()).unwrap();
    assert_eq!(c.fragments.len(), 1);
    assert_eq!((c.fragments[0].source, c.fragments[0].content.as_str()), (FragmentSource::File, "governing notes"));
    assert_eq!(c.fragments[0].token_estimate, 4, "15 chars / 4 per token, rounded up");
}

#[test]
fn file_read_cuts_to_max_size_bytes() {
    let tp = TempPlane::new();
    write(&tp, "HOT/big.md", &"x".repeat(500));
    let p = "  - stage: f\n    type: file_read\n    config: {paths: [HOT/big.md], max_size_bytes: 100}\n";
    simple(&tp, "ATT-K", K, &format!("{p}{STRUCTURE}"));
    let c = service(&tp).assemble(&kreq()).unwrap();
    assert_eq!(c.fragments[0].content.len(), 100);
    assert_eq!(c.pipeline_trace[0].status, StageStatus::Truncated);
    assert!(c.warnings.iter().any(|w| w.contains("max_size_bytes")));
}

#[test]
fn file_not_found_warns() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "alpha");
    simple(&tp, "ATT-K", K, &format!("{}{STRUCTURE}", fr("f", "HOT/missing.md, HOT/a.md")));
    let c = service(&tp).assemble(&kreq()).unwrap();
    assert_eq!(c.fragments.len(), 1);
    assert!(c.warnings.iter().any(|w| w.contains("HOT/missing.md not found")), "{:?}", c.warnings);
}

#[test]
fn file_read_outside_plane_refused() {
    let tp = TempPlane::new();
    // A contract file_ref escaping the plane is refused before anything runs.
    simple(&tp, "ATT-K", K, STRUCTURE);
    let mut r = kreq();
    r.prompt_contract =
        Some(contract(RequiredContext { file_refs: vec!["../../etc/passwd".into()], ..Default::default() }));
    let e = service(&tp).assemble(&r).unwrap_err();
    assert!(e.to_string().contains("refused"), "{e}");
    // A symlink inside the plane pointing outside is refused at read time.
    let outside = tp.dir.path().join("secret.txt");
    std::fs::write(&outside, "secret").unwrap();
    std::fs::create_dir_all(tp.plane.root().join("HO2/docs")).unwrap();
    std::os::unix::fs::symlink(&outside, tp.plane.root().join("HO2/docs/link.txt")).unwrap();
    let tp2 = &tp;
    simple(tp2, "ATT-K", K, &format!("{}{STRUCTURE}", fr("f", "HO2/docs/link.txt")));
    let c = service(tp2).assemble(&kreq()).unwrap();
    assert!(c.fragments.is_empty());
    assert!(!c.context_text.contains("secret"));
    assert!(c.warnings.iter().any(|w| w.contains("refused")), "{:?}", c.warnings);
}

fn search(threshold: f64, max: u64) -> String {
    format!(
        "  - stage: find\n    type: horizontal_search\n    config: {{query: \"routing circuit breaker\", sources: [files, registry], tiers: [ho2], max_results: {max}, relevance_threshold: {threshold}}}\n"
    )
}

#[test]
fn horizontal_search_scores_fragments() {
    let tp = TempPlane::new();
    write(&tp, "HO2/docs/router.md", "the routing layer opens the circuit breaker after failures");
    write(&tp, "HO2/docs/breaker.md", "circuit breaker");
    write(&tp, "HO2/docs/other.md", "gardening tips and tomatoes");
    frameworks_csv(&tp, &[("FMWK-003", "Prompt Routing")]);
    simple(&tp, "ATT-K", K, &format!("{}{STRUCTURE}", search(0.0, 10)));
    let c = service(&tp).assemble(&kreq()).unwrap();
    let ids: Vec<&str> = c.fragments.iter().map(|f| f.source_id.as_str()).collect();
    assert!(ids.contains(&"HO2/docs/router.md") && ids.contains(&"HO2/docs/breaker.md"), "{ids:?}");
    assert!(!ids.contains(&"HO2/docs/other.md"));
    assert!(c.fragments.iter().all(|f| f.source == FragmentSource::Search));
    for f in &c.fragments {
        let s = f.relevance_score.unwrap();
        assert!(s > 0.0 && s <= 1.0, "{s}");
    }
    let router = c.fragments.iter().find(|f| f.source_id == "HO2/docs/router.md").unwrap();
    let breaker = c.fragments.iter().find(|f| f.source_id == "HO2/docs/breaker.md").unwrap();
    assert!(router.relevance_score > breaker.relevance_score, "three query terms beat two");
}

#[test]
fn search_index_invalidated_when_files_change() {
    let tp = TempPlane::new();
    write(&tp, "HO2/docs/a.md", "nothing relevant");
    simple(&tp, "ATT-K", K, &format!("{}{STRUCTURE}", search(0.0, 10)));
    let s = service(&tp);
    let mut r = kreq();
    assert!(s.assemble(&r).unwrap().fragments.is_empty());
    write(&tp, "HO2/docs/b.md", "routing circuit breaker notes");
    r.session_id = Some("S-2".into()); // different cache key
    let c = s.assemble(&r).unwrap();
    assert_eq!(c.fragments.len(), 1, "{:?}", c.fragments);
}

#[test]
fn structuring_deduplicates() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "same text");
    write(&tp, "HOT/b.md", "same text");
    write(&tp, "HOT/c.md", "other text");
    simple(&tp, "ATT-K", K, &format!("{}{STRUCTURE}", fr("f", "HOT/a.md, HOT/b.md, HOT/c.md")));
    let c = service(&tp).assemble(&kreq()).unwrap();
    let ids: Vec<&str> = c.fragments.iter().map(|f| f.source_id.as_str()).collect();
    assert_eq!(ids, ["HOT/a.md", "HOT/c.md"]);
    assert!(c.pipeline_trace[1].detail.contains("1 duplicate"));
}

fn frag(id: &str, tokens: u64, score: Option<f64>) -> ContextFragment {
    ContextFragment {
        source: FragmentSource::Search,
        source_id: id.into(),
        stage: "s".into(),
        content: format!("content of {id}"),
        token_estimate: tokens,
        relevance_score: score,
        timestamp: None,
    }
}

#[test]
fn structuring_truncates_to_budget() {
    let cfg = StructuringConfig { strategy: StructuringStrategy::Relevance, max_tokens: 25, hierarchy: vec![] };
    let input = vec![
        frag("low", 10, Some(0.2)),
        frag("high", 10, Some(0.9)),
        frag("mid", 10, Some(0.5)),
        frag("tie-b", 5, Some(0.2)),
    ];
    let (kept, dups, dropped) = cfg.apply(input);
    assert_eq!((dups, dropped), (0, 2));
    let ids: Vec<&str> = kept.iter().map(|f| f.source_id.as_str()).collect();
    // 0.2 ties: "tie-b" > "low" by source_id, so "tie-b" is dropped first, then "low".
    assert_eq!(ids, ["high", "mid"]);
    // Through the pipeline: a small max_tokens drops the search hit, keeps the file.
    let tp = TempPlane::new();
    write(&tp, "HOT/keep.md", &"k".repeat(40));
    write(&tp, "HO2/docs/r.md", &format!("routing {}", "z".repeat(40)));
    let st = "  - stage: organise\n    type: structuring\n    config: {strategy: relevance, max_tokens: 12}\n";
    simple(&tp, "ATT-K", K, &format!("{}{}{st}", fr("f", "HOT/keep.md"), search(0.0, 5)));
    let c = service(&tp).assemble(&kreq()).unwrap();
    let ids: Vec<&str> = c.fragments.iter().map(|f| f.source_id.as_str()).collect();
    assert_eq!(ids, ["HOT/keep.md"]);
    assert_eq!(c.pipeline_trace.last().unwrap().status, StageStatus::Truncated);
}

#[test]
fn halting_satisfied() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "alpha alpha alpha");
    let halt = "  - stage: enough\n    type: halting\n    config: {min_fragments: 1, min_tokens: 1, satisfaction_threshold: 1.0}\n";
    let p = format!("{}{STRUCTURE}{halt}{}", fr("f", "HOT/a.md"), fr("never", "HOT/a.md"));
    simple(&tp, "ATT-K", K, &p);
    let mut r = kreq();
    r.prompt_contract = Some(contract(RequiredContext { file_refs: vec!["HOT/a.md".into()], ..Default::default() }));
    let c = service(&tp).assemble(&r).unwrap();
    assert_eq!(c.halting.reason, HaltReason::Satisfied);
    assert!(c.halting.detail.contains("coverage 1.00"), "{}", c.halting.detail);
    assert!(!c.pipeline_trace.iter().any(|s| s.stage == "never"), "pipeline stops when satisfied");
}

#[test]
fn halting_insufficient_reruns() {
    let tp = TempPlane::new();
    write(&tp, "HO2/docs/r.md", "routing notes and many other words that dilute the score of this file");
    write(&tp, "HO2/docs/x.md", "unrelated");
    let halt = "  - stage: enough\n    type: halting\n    config: {min_fragments: 1, min_tokens: 1, satisfaction_threshold: 0.0, max_reruns: 3, relax: {relevance_threshold_factor: 0.01, max_results_factor: 2.0}}\n";
    simple(&tp, "ATT-K", K, &format!("{}{STRUCTURE}{halt}", search(0.99, 1)));
    let c = service(&tp).assemble(&kreq()).unwrap();
    assert_eq!(c.halting.reason, HaltReason::Satisfied);
    assert_eq!(c.halting.reruns, 1);
    assert_eq!(c.fragments.len(), 1);
    let reruns: Vec<(&str, u32)> = c.pipeline_trace.iter().map(|s| (s.stage.as_str(), s.rerun)).collect();
    assert_eq!(reruns, [("find", 0), ("organise", 0), ("enough", 0), ("find", 1), ("organise", 1), ("enough", 1)]);
    // Never satisfiable: stops after max_reruns with a warning, halting logged as completed.
    let tp2 = TempPlane::new();
    write(&tp2, "HO2/docs/x.md", "unrelated");
    simple(&tp2, "ATT-K", K, &format!("{}{STRUCTURE}{halt}", search(0.99, 1)));
    let c = service(&tp2).assemble(&kreq()).unwrap();
    assert_eq!(c.halting.reruns, 3);
    assert!(c.warnings.iter().any(|w| w.contains("not satisfied after 3 rerun")), "{:?}", c.warnings);
}

#[test]
fn custom_stage_calls_handler() {
    let tp = TempPlane::new();
    let p = format!(
        "  - stage: mine\n    type: custom\n    config: {{handler: echo, params: {{word: hello}}}}\n{STRUCTURE}"
    );
    simple(&tp, "ATT-K", K, &p);
    let handler = |i: &CustomStageInput| -> Result<Vec<ContextFragment>, String> {
        let w = i.params["word"].as_str().unwrap_or_default();
        Ok(vec![ContextFragment {
            source: FragmentSource::File,
            source_id: format!("echo:{}", i.request.agent_id),
            stage: String::new(),
            content: format!("{w} from {}", i.stage),
            token_estimate: 0,
            relevance_score: None,
            timestamp: None,
        }])
    };
    let s = AttentionService::builder(&tp.plane).clock(clock()).custom("echo", handler).build().unwrap();
    let c = s.assemble(&kreq()).unwrap();
    assert_eq!(c.fragments.len(), 1);
    assert_eq!(c.fragments[0].source, FragmentSource::Custom);
    assert_eq!(c.fragments[0].content, "hello from mine");
    assert_eq!(c.fragments[0].token_estimate, 4);
    // An unregistered handler is refused when the service is built.
    let e = AttentionService::builder(&tp.plane).build().unwrap_err();
    assert!(e.to_string().contains("echo"), "{e}");
}

#[test]
fn context_hash_computed() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "alpha");
    simple(&tp, "ATT-K", K, &format!("{}{STRUCTURE}", fr("f", "HOT/a.md")));
    let c = service(&tp).assemble(&kreq()).unwrap();
    assert_eq!(c.context_hash, cp_kernel::sha256_hex(c.context_text.as_bytes()));
    assert!(c.context_text.contains("--- file HOT/a.md ---\nalpha"), "{}", c.context_text);
}

#[test]
fn pipeline_trace_recorded() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "alpha");
    let p = format!(
        "  - stage: scope\n    type: tier_select\n    config: {{tiers: [ho1, hot]}}\n{}{}{STRUCTURE}",
        fr("f", "HOT/a.md"),
        lq("l", "")
    );
    simple(&tp, "ATT-K", K, &p);
    let c = service(&tp).assemble(&kreq()).unwrap();
    let t: Vec<(&str, &str, StageStatus, u64)> =
        c.pipeline_trace.iter().map(|s| (s.stage.as_str(), s.kind.as_str(), s.status, s.fragments_produced)).collect();
    assert_eq!(
        t,
        [
            ("scope", "tier_select", StageStatus::Ok, 0),
            ("f", "file_read", StageStatus::Ok, 1),
            ("l", "ledger_query", StageStatus::Empty, 0),
            ("organise", "structuring", StageStatus::Ok, 1)
        ]
    );
    let sum = c.trace_summary();
    assert_eq!(sum["stages"].as_array().unwrap().len(), 4);
    assert_eq!(sum["halting"]["reason"]["kind"], "completed");
}

#[test]
fn budget_used_reported() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "12345678");
    let c1 = std::sync::Arc::new(cp_kernel::ManualClock::at(jiff::Timestamp::now()).stepping(3));
    let p = format!(
        "  - stage: scope\n    type: tier_select\n    config: {{tiers: [ho1, ho2]}}\n{}{}{STRUCTURE}",
        fr("f", "HOT/a.md"),
        lq("l", "")
    );
    simple(&tp, "ATT-K", K, &p);
    let s = crate::attention::service_with(&tp, c1);
    let c = s.assemble(&kreq()).unwrap();
    assert_eq!(c.budget_used.tokens, 2);
    assert_eq!(c.budget_used.queries, 2, "one query per selected tier");
    assert!(c.budget_used.elapsed_ms > 0);
}

#[test]
fn warnings_collected() {
    let tp = TempPlane::new();
    let p = format!("{}{}{STRUCTURE}", fr("f", "HOT/gone1.md"), fr("g", "HOT/gone2.md"));
    simple(&tp, "ATT-K", K, &p);
    let mut r = kreq();
    r.session_id = None;
    let p2 =
        format!("{}{}{}{STRUCTURE}", fr("f", "HOT/gone1.md"), fr("g", "HOT/gone2.md"), lq("l", ", recency: session"));
    simple(&tp, "ATT-K", K, &p2);
    let c = service(&tp).assemble(&r).unwrap();
    assert!(c.warnings.iter().any(|w| w.contains("gone1")));
    assert!(c.warnings.iter().any(|w| w.contains("gone2")));
    assert!(c.warnings.iter().any(|w| w.contains("no session_id")));
    assert!(c.warnings.iter().any(|w| w.contains("proceed_empty")));
}

#[test]
fn use_default_runs_default_template() {
    let tp = TempPlane::new();
    // The template reads a missing file; with on_empty: use_default the default template runs
    // (its pipeline is required_context + one structuring stage).
    let y = crate::attention::tpl(
        "ATT-K",
        K,
        &format!("{}{STRUCTURE}", fr("f", "HOT/none.md")),
        (1000, 10, 1000),
        ("fail", "use_default"),
    );
    crate::attention::install(&tp, "ATT-K", &y);
    let s = service(&tp);
    let c = s.assemble(&kreq()).unwrap();
    assert_eq!(c.template_id, s.config().default_template.template_id);
    assert_eq!(c.halting.reason, HaltReason::Fallback { trigger: "on_empty".into(), action: "use_default".into() });
    let stages: Vec<&str> = c.pipeline_trace.iter().map(|t| t.stage.as_str()).collect();
    assert_eq!(stages, ["f", "organise", "structure"]);
    assert!(c.warnings.iter().any(|w| w.contains("use_default")));
    assert!(c.warnings.iter().any(|w| w.contains("HOT/none.md not found")));
}

#[test]
fn tier_select_changes_ledgers_read() {
    let tp = TempPlane::new();
    append(&tp, "HO2/prompts", &[("PROMPT_RECEIVED", "tenant-a", "S-1", "WO-1", "in ho2")]);
    append(&tp, "HO1/prompts", &[("PROMPT_RECEIVED", "tenant-a", "S-1", "WO-1", "in ho1")]);
    let p =
        format!("  - stage: scope\n    type: tier_select\n    config: {{tiers: [ho2]}}\n{}{STRUCTURE}", lq("l", ""));
    simple(&tp, "ATT-K", K, &p);
    let c =
        service(&tp).assemble(&crate::attention::req(cp_kernel::AgentClass::KernelSyntactic, None, Tier::Ho1)).unwrap();
    assert_eq!(c.fragments.len(), 1);
    assert_eq!(c.fragments[0].source_id, "HO2/prompts#0");
}

#[test]
fn shipped_kernel_template_assembles_on_a_plane() {
    let tp = TempPlane::new();
    let pkg = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../packages/PKG-ATTENTION-001/HOT");
    for id in ["ATT-KERNEL-001", "ATT-ADMIN-001", "ATT-ROUTING-001"] {
        let text = std::fs::read_to_string(pkg.join(format!("attention_templates/{id}.yaml"))).unwrap();
        crate::attention::install(&tp, id, &text);
    }
    write(
        &tp,
        "HOT/config/attention_config.yaml",
        &std::fs::read_to_string(pkg.join("config/attention_config.yaml")).unwrap(),
    );
    frameworks_csv(&tp, &[("FMWK-003", "Prompt Routing"), ("FMWK-004", "Attention")]);
    write(&tp, "HOT/contracts/standard.md", "the attention standard");
    append(
        &tp,
        "HO1/prompts",
        &[
            ("PROMPT_RECEIVED", "tenant-a", "S-1", "WO-1", "earlier answer"),
            ("PROMPT_RECEIVED", "tenant-a", "S-9", "WO-9", "other session"),
        ],
    );
    let mut r = kreq();
    r.prompt_contract = Some(contract(RequiredContext {
        framework_refs: vec!["FMWK-004".into()],
        file_refs: vec!["HOT/contracts/standard.md".into()],
        ..Default::default()
    }));
    let s = service(&tp);
    let ex = s.explain(&r).unwrap();
    assert_eq!(ex.chosen, "ATT-KERNEL-001");
    let c = s.assemble(&r).unwrap();
    assert_eq!(c.halting.reason, HaltReason::Satisfied, "{:?}", c.halting);
    let sources: std::collections::BTreeSet<FragmentSource> = c.fragments.iter().map(|f| f.source).collect();
    assert!(
        sources.contains(&FragmentSource::Ledger)
            && sources.contains(&FragmentSource::Registry)
            && sources.contains(&FragmentSource::File),
        "{sources:?}"
    );
    assert!(c.context_text.contains("earlier answer") && !c.context_text.contains("other session"));
    assert!(c.context_text.contains("the attention standard"));
    // FMWK-003 agents get the routing template (framework_id beats agent_class).
    let mut r3 = kreq();
    r3.framework_id = Some("FMWK-003".into());
    assert_eq!(s.explain(&r3).unwrap().chosen, "ATT-ROUTING-001");
}

/// Copies a fixture plane tree into `tp`.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn golden_fixture_context_is_byte_exact() {
    let fx = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/attention/golden");
    let tp = TempPlane::new();
    copy_tree(&fx.join("plane"), tp.plane.root());
    let text = std::fs::read_to_string(fx.join("request.yaml")).unwrap();
    let value = cp_kernel::parse_document(&fx.join("request.yaml"), &text).unwrap();
    let r: cp_kernel::AttentionRequest = serde_json::from_value(value).unwrap();
    let c = service(&tp).assemble(&r).unwrap();
    let expected = std::fs::read_to_string(fx.join("expected_context.txt")).unwrap();
    assert_eq!(c.context_text, expected);
    assert_eq!(c.context_hash, cp_kernel::sha256_hex(expected.as_bytes()));
    assert_eq!(c.halting.reason, HaltReason::Satisfied);
    assert!(c.pipeline_trace.iter().any(|s| s.detail.contains("1 duplicate")));
}
