//! Attention robustness (issue 8 §5): the cache key covers every request field, an unsatisfied
//! halting decision applies `fallback.on_empty`, structuring merges overlapping content of one
//! source, and a ledger store that fails inside a `ledger_query` stage is survived.

use std::ops::ControlFlow;
use std::sync::Arc;

use cp_kernel::RoutedContext;
use cp_kernel::testkit::TempPlane;
use cp_kernel::{
    AttentionService, CacheStatus, ContextFragment, FragmentSource, HaltReason, StageStatus, StructuringConfig,
    StructuringStrategy,
};
use cp_kernel::{
    ChainHead, LedgerEntry, LedgerError, LedgerQuery, LedgerStore, MemoryStore, NewEntry, Provenance, RawRecord, TxnFn,
};

use crate::attention::{STRUCTURE, clock, install, kreq, service, simple, tpl, write};

const K: &str = "{agent_class: [KERNEL.syntactic]}";

fn fr(name: &str, paths: &str, max: u64) -> String {
    format!("  - stage: {name}\n    type: file_read\n    config: {{paths: [{paths}], max_size_bytes: {max}}}\n")
}

// ---------------------------------------------------------------------------------------------
// 1. Cache key

#[test]
fn regression_cache_never_serves_one_agents_context_to_another() {
    let tp = TempPlane::new();
    write(&tp, "HO2/notes/alpha.md", "alpha owns the secret launch plan");
    write(&tp, "HO2/notes/bravo.md", "bravo owns the quarterly budget memo");
    let search = "  - stage: mine\n    type: horizontal_search\n    config: {query: \"{agent_id}\", sources: [files], tiers: [ho2], max_results: 5, relevance_threshold: 0.0}\n";
    simple(&tp, "ATT-K", K, &format!("{search}{STRUCTURE}"));
    let s = service(&tp);
    let mut a = kreq();
    a.agent_id = "alpha".into();
    let mut b = kreq();
    b.agent_id = "bravo".into();
    // Same tenant, session, work order, class, tier and template: only agent_id differs.
    let ca = s.assemble(&a).unwrap();
    let cb = s.assemble(&b).unwrap();
    assert!(ca.context_text.contains("secret launch plan"), "{}", ca.context_text);
    assert!(!ca.context_text.contains("budget memo"), "{}", ca.context_text);
    assert_eq!(cb.cache, CacheStatus::Miss, "another agent never hits the first agent's entry");
    assert!(cb.context_text.contains("budget memo"), "{}", cb.context_text);
    assert!(!cb.context_text.contains("secret launch plan"), "{}", cb.context_text);
    // The same agent again within the TTL is still a hit.
    assert_eq!(s.assemble(&a).unwrap().cache, CacheStatus::Hit);
}

#[test]
fn cache_key_covers_template_override_and_inline_contract() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "alpha");
    write(&tp, "HOT/b.md", "bravo");
    simple(&tp, "ATT-K", K, &format!("{}{STRUCTURE}", fr("f", "HOT/a.md", 1000)));
    simple(&tp, "ATT-O", "{}", &format!("{}{STRUCTURE}", fr("f", "HOT/b.md", 1000)));
    let s = service(&tp);
    let plain = s.assemble(&kreq()).unwrap();
    let mut r = kreq();
    r.template_override = Some("ATT-O".into());
    let forced = s.assemble(&r).unwrap();
    assert_eq!(forced.template_id, "ATT-O");
    assert_ne!(plain.context_hash, forced.context_hash);
}

// ---------------------------------------------------------------------------------------------
// 2. Halting unsatisfied after every rerun, with fragments

fn unsatisfied_template(tp: &TempPlane, on_empty: &str) {
    write(tp, "HOT/a.md", "alpha alpha alpha");
    let halt = "  - stage: enough\n    type: halting\n    config: {min_fragments: 2, min_tokens: 1, satisfaction_threshold: 0.0}\n";
    let y = tpl(
        "ATT-K",
        K,
        &format!("{}{STRUCTURE}{halt}", fr("f", "HOT/a.md", 1000)),
        (10_000, 10, 10_000),
        ("fail", on_empty),
    );
    install(tp, "ATT-K", &y);
}

#[test]
fn unsatisfied_halting_with_fragments_applies_proceed_empty() {
    let tp = TempPlane::new();
    unsatisfied_template(&tp, "proceed_empty");
    let c = service(&tp).assemble(&kreq()).unwrap();
    assert_eq!(
        c.halting.reason,
        HaltReason::Fallback { trigger: "on_empty".into(), action: "proceed_empty".into() },
        "{:?}",
        c.halting
    );
    assert!(c.fragments.is_empty(), "the insufficient fragments are withheld: {:?}", c.fragments);
    assert!(c.context_text.is_empty());
    assert_eq!(c.budget_used.tokens, 0);
    assert!(c.halting.detail.contains("unsatisfied"), "{}", c.halting.detail);
    assert!(c.halting.detail.contains("1 fragments (min 2)"), "{}", c.halting.detail);
    assert!(c.warnings.iter().any(|w| w.contains("withheld 1 fragment")), "{:?}", c.warnings);
    // The decision travels to the router inside PROMPT_SENT's trace summary.
    let routed = RoutedContext::from(&c);
    assert_eq!(routed.trace_summary["halting"]["reason"]["kind"], "fallback");
    assert_eq!(routed.trace_summary["halting"]["reason"]["action"], "proceed_empty");
    assert!(routed.trace_summary["halting"]["detail"].as_str().unwrap().contains("unsatisfied"));
    assert!(
        routed.trace_summary["warning_messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("withheld")),
        "{}",
        routed.trace_summary
    );
}

#[test]
fn unsatisfied_halting_with_fragments_applies_fail() {
    let tp = TempPlane::new();
    unsatisfied_template(&tp, "fail");
    let e = service(&tp).assemble(&kreq()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("ATT-K") && msg.contains("halting") && msg.contains("1 fragments (min 2)"), "{msg}");
}

#[test]
fn unsatisfied_halting_with_fragments_applies_use_default() {
    let tp = TempPlane::new();
    unsatisfied_template(&tp, "use_default");
    let s = service(&tp);
    let c = s.assemble(&kreq()).unwrap();
    assert_eq!(c.template_id, s.config().default_template.template_id);
    assert_eq!(c.halting.reason, HaltReason::Fallback { trigger: "on_empty".into(), action: "use_default".into() });
    let stages: Vec<&str> = c.pipeline_trace.iter().map(|t| t.stage.as_str()).collect();
    assert_eq!(stages, ["f", "organise", "enough", "structure"]);
    assert!(c.warnings.iter().any(|w| w.contains("use_default")), "{:?}", c.warnings);
}

#[test]
fn satisfied_later_halting_stage_wins_over_an_earlier_unsatisfied_one() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "alpha");
    write(&tp, "HOT/b.md", "bravo");
    let h1 = "  - stage: h1\n    type: halting\n    config: {min_fragments: 2, min_tokens: 1, satisfaction_threshold: 0.0}\n";
    let h2 = "  - stage: h2\n    type: halting\n    config: {min_fragments: 2, min_tokens: 1, satisfaction_threshold: 0.0}\n";
    let p = format!("{}{h1}{}{STRUCTURE}{h2}", fr("f", "HOT/a.md", 100), fr("g", "HOT/b.md", 100));
    install(&tp, "ATT-K", &tpl("ATT-K", K, &p, (10_000, 10, 10_000), ("fail", "fail")));
    let c = service(&tp).assemble(&kreq()).unwrap();
    assert_eq!(c.halting.reason, HaltReason::Satisfied);
    assert_eq!(c.fragments.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// 3. Overlapping content of one source

fn frag(source: FragmentSource, id: &str, stage: &str, content: &str, score: Option<f64>) -> ContextFragment {
    ContextFragment {
        source,
        source_id: id.into(),
        stage: stage.into(),
        content: content.into(),
        token_estimate: content.len() as u64,
        relevance_score: score,
        timestamp: None,
    }
}

#[test]
fn structuring_merges_overlapping_content_of_one_source() {
    // An empty hierarchy keeps collection order.
    let cfg = StructuringConfig { strategy: StructuringStrategy::Hierarchical, max_tokens: 10_000, hierarchy: vec![] };
    let full = "alpha beta gamma delta";
    let input = vec![
        // A search hit of the whole file, then a truncated file_read of the same file.
        frag(FragmentSource::Search, "HOT/x.md", "find", full, Some(0.4)),
        frag(FragmentSource::File, "HOT/x.md", "read", "alpha beta", None),
        // Another file containing the same text is another source: kept.
        frag(FragmentSource::File, "HOT/y.md", "read", "alpha beta gamma delta and more", None),
        // The same ledger entry through a ledger_query and a search.
        frag(FragmentSource::Ledger, "HO1/prompts#3", "recent", "{\"seq\":3}", None),
        frag(FragmentSource::Search, "HO1/prompts#3", "find", "{\"seq\":3}", Some(0.9)),
        // Same source id, content not contained: not an overlap.
        frag(FragmentSource::File, "HOT/z.md", "read", "one version", None),
        frag(FragmentSource::Search, "HOT/z.md", "find", "another text", Some(0.1)),
    ];
    let out = cfg.structure(input.clone());
    let kept: Vec<(FragmentSource, &str, &str, &str)> =
        out.fragments.iter().map(|f| (f.source, f.source_id.as_str(), f.stage.as_str(), f.content.as_str())).collect();
    assert_eq!(
        kept,
        [
            (FragmentSource::File, "HOT/x.md", "read", full),
            (FragmentSource::File, "HOT/y.md", "read", "alpha beta gamma delta and more"),
            (FragmentSource::Ledger, "HO1/prompts#3", "recent", "{\"seq\":3}"),
            (FragmentSource::File, "HOT/z.md", "read", "one version"),
            (FragmentSource::Search, "HOT/z.md", "find", "another text"),
        ]
    );
    // The survivor is the targeted read (so required_context coverage holds) with the larger
    // content and its token estimate; an unscored fragment counts as relevance 1.0.
    let x = &out.fragments[0];
    assert_eq!((x.token_estimate, x.relevance_score), (full.len() as u64, None));
    assert_eq!(out.merged.len(), 2, "{:?}", out.merged);
    assert!(out.merged.iter().any(|m| m.contains("search HOT/x.md (stage find)") && m.contains("file HOT/x.md")));
    // Deterministic: the same input gives the same output.
    assert_eq!(cfg.structure(input).fragments, out.fragments);
}

#[test]
fn truncated_file_read_and_search_hit_of_the_same_file_become_one_fragment() {
    let tp = TempPlane::new();
    let text = format!("routing circuit breaker notes {}", "filler words ".repeat(20));
    write(&tp, "HO2/docs/r.md", &text);
    let search = "  - stage: find\n    type: horizontal_search\n    config: {query: \"routing circuit breaker\", sources: [files], tiers: [ho2], max_results: 5, relevance_threshold: 0.0}\n";
    simple(&tp, "ATT-K", K, &format!("{}{search}{STRUCTURE}", fr("read", "HO2/docs/r.md", 40)));
    let c = service(&tp).assemble(&kreq()).unwrap();
    assert_eq!(c.fragments.len(), 1, "{:?}", c.fragments);
    assert_eq!((c.fragments[0].source, c.fragments[0].stage.as_str()), (FragmentSource::File, "read"));
    assert_eq!(c.fragments[0].content, text, "the larger content of the two is kept");
    let organise = c.pipeline_trace.iter().find(|s| s.stage == "organise").unwrap();
    assert!(organise.detail.contains("1 overlapping"), "{}", organise.detail);
    assert!(organise.detail.contains("HO2/docs/r.md"), "{}", organise.detail);
}

// ---------------------------------------------------------------------------------------------
// 6. A ledger store that fails during a ledger_query stage

/// A store whose reads fail (writes go to an inner memory store).
struct FailingStore(MemoryStore);

impl FailingStore {
    fn fail(&self) -> LedgerError {
        LedgerError::Corrupt { ledger: self.0.name().to_string(), seq: 7, message: "disk read error injected".into() }
    }
}

impl LedgerStore for FailingStore {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn transact(&self, f: &mut TxnFn<'_>) -> Result<Vec<LedgerEntry>, LedgerError> {
        self.0.transact(f)
    }
    fn head(&self) -> Result<Option<ChainHead>, LedgerError> {
        self.0.head()
    }
    fn get(&self, _seq: u64) -> Result<Option<LedgerEntry>, LedgerError> {
        Err(self.fail())
    }
    fn query(&self, _q: &LedgerQuery) -> Result<Vec<LedgerEntry>, LedgerError> {
        Err(self.fail())
    }
    fn scan_raw(&self, _f: &mut dyn FnMut(RawRecord<'_>) -> ControlFlow<()>) -> Result<(), LedgerError> {
        Err(self.fail())
    }
}

#[test]
fn failing_ledger_store_in_ledger_query_warns_and_the_pipeline_continues() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "alpha");
    let store = FailingStore(MemoryStore::new("HO1/prompts"));
    store
        .append(
            NewEntry::new("PROMPT_RECEIVED")
                .provenance(Provenance { tenant_id: Some("tenant-a".into()), ..Provenance::default() }),
        )
        .unwrap();
    let lq = "  - stage: recent\n    type: ledger_query\n    config: {event_type: PROMPT_RECEIVED, max_entries: 5}\n";
    let search = "  - stage: find\n    type: horizontal_search\n    config: {query: \"PROMPT_RECEIVED\", sources: [ledger], max_results: 5, relevance_threshold: 0.0}\n";
    simple(&tp, "ATT-K", K, &format!("{lq}{search}{}{STRUCTURE}", fr("f", "HOT/a.md", 100)));
    let s = AttentionService::builder(&tp.plane)
        .clock(clock())
        .ledger_store("HO1/prompts", Arc::new(store))
        .build()
        .unwrap();
    let c = s.assemble(&kreq()).unwrap();
    let status = |name: &str| c.pipeline_trace.iter().find(|t| t.stage == name).unwrap().status;
    assert_eq!(status("recent"), StageStatus::Error);
    assert_eq!(status("find"), StageStatus::Error);
    assert_eq!(status("f"), StageStatus::Ok, "later stages still run");
    assert_eq!(c.halting.reason, HaltReason::Completed);
    assert!(
        c.warnings.iter().any(|w| w.contains("stage recent")
            && w.contains("HO1/prompts query failed")
            && w.contains("disk read error injected")),
        "{:?}",
        c.warnings
    );
    assert!(c.warnings.iter().any(|w| w.contains("stage find") && w.contains("disk read error")), "{:?}", c.warnings);
    assert_eq!(c.fragments.len(), 1);
    assert_eq!(c.fragments[0].source, FragmentSource::File);
    assert!(c.warnings.iter().all(|w| !w.contains("Corrupt {")), "no debug formatting: {:?}", c.warnings);
}
