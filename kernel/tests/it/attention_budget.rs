//! Attention service: budgets, fallbacks, cache, token estimate, tenant isolation, recency,
//! determinism.

use std::sync::Arc;

use cp_kernel::{
    AttentionError, BudgetLimit, CacheStatus, HaltReason, ManualClock, StageStatus, Tier, estimate_tokens,
    testkit::TempPlane,
};
use proptest::prelude::*;

use crate::attention::{STRUCTURE, append, clock, install, kreq, service, service_with, simple, tpl, write};

const K: &str = "{agent_class: [KERNEL.syntactic]}";

fn fr(name: &str, paths: &str) -> String {
    format!("  - stage: {name}\n    type: file_read\n    config: {{paths: [{paths}], max_size_bytes: 100000}}\n")
}

fn lq(name: &str) -> String {
    format!("  - stage: {name}\n    type: ledger_query\n    config: {{event_type: PROMPT_RECEIVED, max_entries: 10}}\n")
}

fn budget_tpl(tp: &TempPlane, pipeline: &str, budget: (u64, u64, u64), fallback: (&str, &str)) {
    install(tp, "ATT-K", &tpl("ATT-K", K, pipeline, budget, fallback));
}

#[test]
fn budget_max_tokens_stops_pipeline() {
    let tp = TempPlane::new();
    write(&tp, "HOT/big.md", &"b".repeat(4000)); // 1000 tokens
    write(&tp, "HOT/after.md", "after");
    budget_tpl(
        &tp,
        &format!("{}{}{STRUCTURE}", fr("big", "HOT/big.md"), fr("after", "HOT/after.md")),
        (100, 10, 10_000),
        ("return_partial", "fail"),
    );
    let c = service(&tp).assemble(&kreq()).unwrap();
    assert_eq!(c.halting.reason, HaltReason::Budget { limit: BudgetLimit::Tokens });
    assert_eq!(c.budget_used.tokens, 100, "the huge file stops at the remaining token budget");
    assert_eq!(c.fragments[0].content.len(), 400);
    assert_eq!(c.pipeline_trace.len(), 1, "nothing runs after the limit");
    assert_eq!(c.pipeline_trace[0].status, StageStatus::Truncated);
}

#[test]
fn budget_max_queries_stops_pipeline() {
    let tp = TempPlane::new();
    append(&tp, "HO1/prompts", &[("PROMPT_RECEIVED", "tenant-a", "S-1", "WO-1", "x")]);
    budget_tpl(
        &tp,
        &format!("{}{}{}{STRUCTURE}", lq("q1"), lq("q2"), lq("q3")),
        (10_000, 2, 10_000),
        ("return_partial", "fail"),
    );
    let c = service(&tp).assemble(&kreq()).unwrap();
    assert_eq!(c.halting.reason, HaltReason::Budget { limit: BudgetLimit::Queries });
    assert_eq!(c.budget_used.queries, 2);
    let st: Vec<(&str, StageStatus)> = c.pipeline_trace.iter().map(|s| (s.stage.as_str(), s.status)).collect();
    assert_eq!(st, [("q1", StageStatus::Ok), ("q2", StageStatus::Ok), ("q3", StageStatus::Skipped)]);
}

#[test]
fn budget_timeout_stops_pipeline() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "alpha");
    let p = format!("{}{}{}{STRUCTURE}", fr("a", "HOT/a.md"), fr("b", "HOT/a.md"), fr("c", "HOT/a.md"));
    budget_tpl(&tp, &p, (10_000, 10, 50), ("return_partial", "fail"));
    // Every clock reading advances 10 ms: the 50 ms budget runs out part-way.
    let c =
        service_with(&tp, Arc::new(ManualClock::at(jiff::Timestamp::now()).stepping(10))).assemble(&kreq()).unwrap();
    assert_eq!(c.halting.reason, HaltReason::Budget { limit: BudgetLimit::Time });
    assert!(c.pipeline_trace.len() < 4, "{:?}", c.pipeline_trace);
    assert!(c.budget_used.elapsed_ms >= 50);
}

#[test]
fn fallback_return_partial() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "alpha");
    append(&tp, "HO1/prompts", &[("PROMPT_RECEIVED", "tenant-a", "S-1", "WO-1", "x")]);
    budget_tpl(
        &tp,
        &format!("{}{}{}{STRUCTURE}", fr("a", "HOT/a.md"), lq("q1"), lq("q2")),
        (10_000, 1, 10_000),
        ("return_partial", "fail"),
    );
    let c = service(&tp).assemble(&kreq()).unwrap();
    assert_eq!(c.fragments.len(), 2, "file + first query");
    assert!(c.warnings.iter().any(|w| w.contains("return_partial")));
    assert_eq!(c.context_hash, cp_kernel::sha256_hex(c.context_text.as_bytes()));
}

#[test]
fn fallback_fail() {
    let tp = TempPlane::new();
    budget_tpl(&tp, &format!("{}{}{STRUCTURE}", lq("q1"), lq("q2")), (10_000, 1, 10_000), ("fail", "proceed_empty"));
    match service(&tp).assemble(&kreq()) {
        Err(AttentionError::BudgetExceeded { limit, .. }) => assert_eq!(limit, BudgetLimit::Queries),
        other => panic!("expected budget error, got {other:?}"),
    }
}

#[test]
fn fallback_use_cached() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "alpha");
    budget_tpl(
        &tp,
        &format!("{}{}{STRUCTURE}", fr("a", "HOT/a.md"), fr("b", "HOT/a.md")),
        (10_000, 10, 100),
        ("use_cached", "fail"),
    );
    let clk = Arc::new(ManualClock::at(jiff::Timestamp::now()));
    let s = service_with(&tp, clk.clone());
    // No cached context yet and the budget is blown: an error naming the missing cache.
    clk.set_step(60);
    assert!(matches!(s.assemble(&kreq()), Err(AttentionError::NoCachedContext { .. })));
    clk.set_step(0);
    let first = s.assemble(&kreq()).unwrap();
    assert_eq!(first.cache, CacheStatus::Miss);
    // Past the TTL, with a slow clock, the cached context is returned (stale).
    clk.advance(s.config().cache.ttl_ms + 1);
    write(&tp, "HOT/a.md", "changed");
    clk.set_step(60);
    let c = s.assemble(&kreq()).unwrap();
    assert_eq!(c.cache, CacheStatus::Stale);
    assert_eq!(c.context_hash, first.context_hash);
    assert_eq!(c.halting.reason, HaltReason::Fallback { trigger: "on_timeout".into(), action: "use_cached".into() });
    assert!(c.warnings.iter().any(|w| w.contains("stale")));
}

#[test]
fn fallback_on_empty_proceed() {
    let tp = TempPlane::new();
    budget_tpl(&tp, &format!("{}{STRUCTURE}", lq("q")), (10_000, 10, 10_000), ("fail", "proceed_empty"));
    let c = service(&tp).assemble(&kreq()).unwrap();
    assert!(c.fragments.is_empty() && c.context_text.is_empty());
    assert_eq!(c.halting.reason, HaltReason::Fallback { trigger: "on_empty".into(), action: "proceed_empty".into() });
}

#[test]
fn fallback_on_empty_fail() {
    let tp = TempPlane::new();
    budget_tpl(&tp, &format!("{}{STRUCTURE}", lq("q")), (10_000, 10, 10_000), ("return_partial", "fail"));
    assert!(matches!(service(&tp).assemble(&kreq()), Err(AttentionError::EmptyContext { .. })));
}

#[test]
fn cache_hit_returns_cached() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "alpha");
    simple(&tp, "ATT-K", K, &format!("{}{STRUCTURE}", fr("a", "HOT/a.md")));
    let s = service(&tp);
    let first = s.assemble(&kreq()).unwrap();
    write(&tp, "HOT/a.md", "changed on disk");
    let second = s.assemble(&kreq()).unwrap();
    assert_eq!(second.cache, CacheStatus::Hit);
    assert_eq!(second.context_hash, first.context_hash);
}

#[test]
fn cache_miss_runs_pipeline() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "alpha");
    simple(&tp, "ATT-K", K, &format!("{}{STRUCTURE}", fr("a", "HOT/a.md")));
    let s = service(&tp);
    s.assemble(&kreq()).unwrap();
    write(&tp, "HOT/a.md", "changed on disk");
    let mut r = kreq();
    r.work_order_id = Some("WO-2".into());
    let c = s.assemble(&r).unwrap();
    assert_eq!(c.cache, CacheStatus::Miss);
    assert!(c.context_text.contains("changed on disk"));
}

#[test]
fn cache_ttl_expires() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "alpha");
    simple(&tp, "ATT-K", K, &format!("{}{STRUCTURE}", fr("a", "HOT/a.md")));
    let clk = clock();
    let s = service_with(&tp, clk.clone());
    s.assemble(&kreq()).unwrap();
    write(&tp, "HOT/a.md", "changed on disk");
    clk.advance(s.config().cache.ttl_ms - 1);
    assert_eq!(s.assemble(&kreq()).unwrap().cache, CacheStatus::Hit);
    clk.advance(1);
    let c = s.assemble(&kreq()).unwrap();
    assert_eq!(c.cache, CacheStatus::Miss);
    assert!(c.context_text.contains("changed on disk"));
}

#[test]
fn estimate_tokens_basic() {
    assert_eq!(estimate_tokens("", 4.0), 0);
    assert_eq!(estimate_tokens("abcd", 4.0), 1);
    assert_eq!(estimate_tokens("abcde", 4.0), 2);
    assert_eq!(estimate_tokens(&"x".repeat(400), 4.0), 100);
    assert_eq!(estimate_tokens("ééééé", 4.0), 2, "characters, not bytes");
}

#[test]
fn estimate_tokens_configurable() {
    assert_eq!(estimate_tokens(&"x".repeat(30), 3.0), 10);
    assert_eq!(estimate_tokens(&"x".repeat(30), 10.0), 3);
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", &"x".repeat(30));
    simple(&tp, "ATT-K", K, &format!("{}{STRUCTURE}", fr("a", "HOT/a.md")));
    let schemas = cp_kernel::SchemaSet::embedded().unwrap();
    let mut cfg = cp_kernel::AttentionConfig::shipped(&schemas).unwrap();
    cfg.chars_per_token = 3.0;
    let s = cp_kernel::AttentionService::builder(&tp.plane).config(cfg).build().unwrap();
    assert_eq!(s.assemble(&kreq()).unwrap().budget_used.tokens, 10);
    // The plane's own attention_config.yaml is honoured.
    let text = cp_kernel::DEFAULT_ATTENTION_CONFIG_YAML.replace("chars_per_token: 4", "chars_per_token: 6");
    write(&tp, "HOT/config/attention_config.yaml", &text);
    assert_eq!(service(&tp).assemble(&kreq()).unwrap().budget_used.tokens, 5);
}

#[test]
fn tenant_never_sees_other_tenants_entries() {
    let tp = TempPlane::new();
    append(
        &tp,
        "HO1/prompts",
        &[
            ("PROMPT_RECEIVED", "tenant-a", "S-1", "WO-1", "mine routing"),
            ("PROMPT_RECEIVED", "tenant-b", "S-1", "WO-1", "theirs routing"),
        ],
    );
    let search = "  - stage: find\n    type: horizontal_search\n    config: {query: routing, sources: [ledger], max_results: 10, relevance_threshold: 0.0}\n";
    simple(&tp, "ATT-K", K, &format!("{}{search}{STRUCTURE}", lq("q")));
    let c = service(&tp).assemble(&kreq()).unwrap();
    assert!(!c.fragments.is_empty());
    assert!(c.fragments.iter().all(|f| f.content.contains("mine")), "{:?}", c.fragments);
    assert!(!c.context_text.contains("theirs"));
}

#[test]
fn ledger_query_honours_tier_and_recency() {
    let tp = TempPlane::new();
    append(
        &tp,
        "HO1/prompts",
        &[
            ("PROMPT_RECEIVED", "tenant-a", "S-1", "WO-1", "s1 old"),
            ("PROMPT_RECEIVED", "tenant-a", "S-2", "WO-2", "s2"),
            ("PROMPT_RECEIVED", "tenant-a", "S-1", "WO-1", "s1 new"),
        ],
    );
    append(&tp, "HO2/prompts", &[("PROMPT_RECEIVED", "tenant-a", "S-1", "WO-1", "ho2 entry")]);
    let q = |recency: &str, tier: &str| {
        format!(
            "  - stage: q\n    type: ledger_query\n    config: {{event_type: PROMPT_RECEIVED, max_entries: 10, recency: \"{recency}\", tier: {tier}}}\n"
        )
    };
    let run = |recency: &str, tier: &str, clk: Arc<ManualClock>| -> Vec<String> {
        simple(&tp, "ATT-K", K, &format!("{}{STRUCTURE}", q(recency, tier)));
        let c = service_with(&tp, clk).assemble(&kreq()).unwrap();
        c.fragments
            .iter()
            .map(|f| {
                serde_json::from_str::<serde_json::Value>(&f.content).unwrap()["reason"].as_str().unwrap().to_string()
            })
            .collect()
    };
    let now = jiff::Timestamp::now();
    let at = |t: jiff::Timestamp| Arc::new(ManualClock::at(t));
    assert_eq!(run("session", "ho1", at(now)), ["s1 new", "s1 old"]);
    assert_eq!(run("work_order", "ho1", at(now)), ["s1 new", "s1 old"]);
    assert_eq!(run("last:2", "ho1", at(now)), ["s1 new", "s2"]);
    assert_eq!(run("session", "ho2", at(now)), ["ho2 entry"]);
    assert_eq!(run("1h", "ho1", at(now)).len(), 3);
    let later = now.checked_add(jiff::SignedDuration::from_hours(2)).unwrap();
    assert!(run("1h", "ho1", at(later)).is_empty(), "entries older than the duration are excluded");
    let _ = Tier::Ho1;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]
    #[test]
    fn same_plane_and_request_give_same_context_hash(
        files in proptest::collection::vec("[a-z ]{0,40}", 1..5),
        reasons in proptest::collection::vec("[a-z ]{1,20}", 0..5),
        strategy in prop_oneof![Just("chronological"), Just("relevance"), Just("hierarchical")],
        max_tokens in 1u64..60,
    ) {
        let tp = TempPlane::new();
        let mut paths = Vec::new();
        for (i, f) in files.iter().enumerate() {
            let p = format!("HO2/docs/f{i}.md");
            write(&tp, &p, f);
            paths.push(p);
        }
        let entries: Vec<(&str, &str, &str, &str, &str)> =
            reasons.iter().map(|r| ("PROMPT_RECEIVED", "tenant-a", "S-1", "WO-1", r.as_str())).collect();
        if !entries.is_empty() {
            append(&tp, "HO1/prompts", &entries);
        }
        let search = "  - stage: find\n    type: horizontal_search\n    config: {query: \"a e i o\", sources: [files, ledger], tiers: [ho1, ho2], max_results: 5, relevance_threshold: 0.0}\n";
        let st = format!("  - stage: organise\n    type: structuring\n    config: {{strategy: {strategy}, max_tokens: {max_tokens}}}\n");
        simple(&tp, "ATT-K", K, &format!("{}{}{search}{st}", fr("f", &paths.join(", ")), lq("q")));
        let a = service(&tp).assemble(&kreq()).unwrap();
        let b = service(&tp).assemble(&kreq()).unwrap();
        prop_assert_eq!(&a.context_hash, &b.context_hash);
        prop_assert_eq!(&a.fragments, &b.fragments);
        prop_assert!(a.budget_used.tokens <= max_tokens);
    }
}

#[test]
fn concurrent_assemblies_agree() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "alpha");
    append(&tp, "HO1/prompts", &[("PROMPT_RECEIVED", "tenant-a", "S-1", "WO-1", "x")]);
    simple(&tp, "ATT-K", K, &format!("{}{}{STRUCTURE}", fr("a", "HOT/a.md"), lq("q")));
    let s = Arc::new(service(&tp));
    let hashes: Vec<String> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..4)
            .map(|i| {
                let s = s.clone();
                sc.spawn(move || {
                    let mut r = kreq();
                    r.agent_id = format!("agent-{i}");
                    s.assemble(&r).unwrap().context_hash
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{hashes:?}");
}
