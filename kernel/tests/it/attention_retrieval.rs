//! The retrieval record: every candidate a producing stage ranked, its final rank (-1 when
//! dropped), bounded per stage by `attention_config.retrieval`, and logged in `PROMPT_SENT`.

use cp_kernel::{
    DEFAULT_ATTENTION_CONFIG_YAML, FragmentSource, RetrievalCandidate, RoutedContext, event, sha256_hex,
    testkit::TempPlane,
};

use crate::attention::{kreq, service, simple, write};
use crate::router_support::{Fx, request};

const K: &str = "{agent_class: [KERNEL.syntactic]}";

fn pipeline(max_tokens: u64) -> String {
    format!(
        "  - stage: read\n    type: file_read\n    config: {{paths: [HOT/keep.md], max_size_bytes: 100000}}\n\
         \x20 - stage: find\n    type: horizontal_search\n    config: {{query: \"routing breaker\", sources: [files], tiers: [ho2], max_results: 5, relevance_threshold: 0.0}}\n\
         \x20 - stage: organise\n    type: structuring\n    config: {{strategy: relevance, max_tokens: {max_tokens}}}\n"
    )
}

fn plane() -> TempPlane {
    let tp = TempPlane::new();
    write(&tp, "HOT/keep.md", &"k".repeat(40));
    write(&tp, "HO2/docs/a.md", &format!("routing breaker {}", "z".repeat(40)));
    write(&tp, "HO2/docs/b.md", &format!("routing {}", "y".repeat(40)));
    tp
}

fn find<'a>(r: &'a [RetrievalCandidate], id: &str) -> &'a RetrievalCandidate {
    r.iter().find(|c| c.source_id == id).unwrap_or_else(|| panic!("{id} not recorded in {r:?}"))
}

#[test]
fn candidates_carry_stage_rank_final_rank_tokens_and_hash() {
    let tp = plane();
    // Room for the file and one search hit: the weaker hit is dropped by structuring.
    simple(&tp, "ATT-K", K, &pipeline(30));
    let c = service(&tp).assemble(&kreq()).unwrap();
    let r = &c.retrieval;
    assert_eq!(r.len(), 3, "{r:?}");
    let keep = find(r, "HOT/keep.md");
    assert_eq!((keep.stage.as_str(), keep.source, keep.rank_before), ("read", FragmentSource::File, 0));
    assert_eq!(keep.content_sha256, sha256_hex("k".repeat(40).as_bytes()));
    assert_eq!(keep.tokens, 10);
    assert_eq!(keep.relevance, None);
    let (a, b) = (find(r, "HO2/docs/a.md"), find(r, "HO2/docs/b.md"));
    assert_eq!((a.stage.as_str(), a.rank_before, b.rank_before), ("find", 0, 1), "search order: best first");
    assert!(a.relevance.unwrap() > b.relevance.unwrap());
    assert_eq!(b.rank_after, -1, "dropped by structuring");
    // The final ranks are the positions in the context.
    for cand in [keep, a] {
        let i = usize::try_from(cand.rank_after).unwrap();
        assert_eq!(c.fragments[i].source_id, cand.source_id);
    }
}

#[test]
fn candidates_are_deterministic_and_bounded_by_config() {
    let tp = plane();
    simple(&tp, "ATT-K", K, &pipeline(100_000));
    let first = service(&tp).assemble(&kreq()).unwrap().retrieval;
    let again = service(&tp).assemble(&kreq()).unwrap().retrieval;
    assert_eq!(first, again);
    assert_eq!(first.iter().filter(|c| c.stage == "find").count(), 2);
    assert!(first.iter().all(|c| c.rank_after >= 0), "nothing dropped: {first:?}");
    let cfg = DEFAULT_ATTENTION_CONFIG_YAML.replace("max_candidates_per_stage: 20", "max_candidates_per_stage: 1");
    assert_ne!(cfg, DEFAULT_ATTENTION_CONFIG_YAML, "the shipped config names the bound");
    write(&tp, "HOT/config/attention_config.yaml", &cfg);
    let bounded = service(&tp).assemble(&kreq()).unwrap().retrieval;
    let found: Vec<&str> = bounded.iter().filter(|c| c.stage == "find").map(|c| c.source_id.as_str()).collect();
    assert_eq!(found, ["HO2/docs/a.md"], "top-1 of the search stage");
}

#[test]
fn prompt_sent_logs_the_retrieval_record() {
    let tp = plane();
    simple(&tp, "ATT-K", K, &pipeline(30));
    let assembled = service(&tp).assemble(&kreq()).unwrap();
    let fx = Fx::new();
    let tok = fx.token("t1", &["agent"]);
    let mut req = request("t1", &tok);
    req.context = RoutedContext::from(&assembled);
    fx.router.route(req).unwrap();
    let sent = fx.entries().into_iter().find(|e| e.event_type == event::PROMPT_SENT).unwrap();
    let logged: Vec<RetrievalCandidate> = serde_json::from_value(sent.metadata["retrieval"].clone()).unwrap();
    assert_eq!(logged, assembled.retrieval);
    assert!(logged.iter().any(|c| c.rank_after == -1));
}
