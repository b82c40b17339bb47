//! Unit tests of the attention internals (integration tests are in `tests/it/attention*.rs`).

use super::bm25::{Bm25Index, Bm25Params};
use super::stages::ledger_query::{Recency, parse_recency};
use super::tokens::prefix_within;

const P: Bm25Params = Bm25Params { k1: 1.2, b: 0.75 };

#[test]
fn bm25_ranks_and_normalises() {
    let mut ix = Bm25Index::new(2);
    ix.add("apple banana");
    ix.add("apple apple apple cherry");
    ix.add("durian");
    let hits = ix.search("apple", P, 10, 0.0, |_| true);
    assert_eq!(hits.iter().map(|h| h.doc).collect::<Vec<_>>(), [1, 0]);
    assert!(hits.iter().all(|h| h.score > 0.0 && h.score <= 1.0));
    // Two matched query terms score higher than one.
    let hits = ix.search("apple banana", P, 10, 0.0, |_| true);
    assert_eq!(hits[0].doc, 0);
    // Threshold, limit and filter apply.
    assert!(ix.search("apple", P, 10, 0.99, |_| true).is_empty());
    assert_eq!(ix.search("apple", P, 1, 0.0, |_| true).len(), 1);
    assert_eq!(ix.search("apple", P, 10, 0.0, |d| d == 0).iter().map(|h| h.doc).collect::<Vec<_>>(), [0]);
    assert!(ix.search("zebra", P, 10, 0.0, |_| true).is_empty());
}

#[test]
fn bm25_terms_respect_min_chars_and_case() {
    let ix = Bm25Index::new(3);
    let t: Vec<String> = ix.terms("A bc DEF, ghij-kl").collect();
    assert_eq!(t, ["def", "ghij"]);
}

#[test]
fn bm25_ties_break_by_document_number() {
    let mut ix = Bm25Index::new(1);
    ix.add("same words");
    ix.add("same words");
    let hits = ix.search("same", P, 10, 0.0, |_| true);
    assert_eq!(hits.iter().map(|h| h.doc).collect::<Vec<_>>(), [0, 1]);
    assert_eq!(hits[0].score, hits[1].score);
}

#[test]
fn recency_forms_parse() {
    assert_eq!(parse_recency("session"), Some(Recency::Session));
    assert_eq!(parse_recency("work_order"), Some(Recency::WorkOrder));
    assert_eq!(parse_recency("last:7"), Some(Recency::Last(7)));
    assert_eq!(parse_recency("24h"), Some(Recency::Within(jiff::SignedDuration::from_hours(24))));
    assert_eq!(parse_recency("30m"), Some(Recency::Within(jiff::SignedDuration::from_mins(30))));
    assert_eq!(parse_recency("2d"), Some(Recency::Within(jiff::SignedDuration::from_hours(48))));
    for bad in ["last:0", "last:x", "h", "24x", "", "yesterday"] {
        assert_eq!(parse_recency(bad), None, "{bad}");
    }
}

#[test]
fn prefix_within_cuts_on_char_boundaries() {
    assert_eq!(prefix_within("abcdefgh", 1, 4.0), "abcd");
    assert_eq!(prefix_within("ééééé", 1, 2.0), "éé");
    assert_eq!(prefix_within("abc", 10, 4.0), "abc");
    assert_eq!(prefix_within("abc", 0, 4.0), "");
}

#[test]
fn cache_serves_fresh_then_keeps_stale_and_evicts_oldest() {
    use super::cache::ContextCache;
    use super::context::*;
    let ctx = |h: &str| AssembledContext {
        context_text: String::new(),
        context_hash: h.into(),
        fragments: vec![],
        template_id: "ATT-X".into(),
        template_version: "1".into(),
        pipeline_trace: vec![],
        budget_used: BudgetUsed::default(),
        halting: HaltingRecord { reason: HaltReason::Completed, detail: String::new(), reruns: 0 },
        warnings: vec![],
        cache: CacheStatus::Miss,
        retrieval: vec![],
    };
    let c = ContextCache::new(100, 2);
    c.put("a".into(), 0, ctx("A"));
    assert_eq!(c.fresh("a", 99).map(|x| x.context_hash), Some("A".into()));
    assert!(c.fresh("a", 100).is_none());
    assert_eq!(c.any("a").map(|x| x.context_hash), Some("A".into()));
    c.put("b".into(), 0, ctx("B"));
    c.put("c".into(), 0, ctx("C"));
    assert!(c.any("a").is_none(), "oldest evicted");
    assert!(c.any("b").is_some() && c.any("c").is_some());
    let off = ContextCache::new(100, 0);
    off.put("a".into(), 0, ctx("A"));
    assert!(off.any("a").is_none());
}

#[test]
fn locate_finds_nested_pointers_in_yaml_and_json() {
    use super::locate::locate;
    let y = "a: 1\npipeline:\n  - stage: x\n    config:\n      max: 3\n  - {stage: y, config: {paths: [p, q]}}\n";
    assert_eq!(locate(y, "/pipeline/0/config/max"), Some((5, 12)));
    assert_eq!(locate(y, "/pipeline/1/config/paths/1").map(|p| p.0), Some(6));
    // A missing tail points at the deepest existing node.
    assert_eq!(locate(y, "/pipeline/0/config/nope"), Some((5, 7)).map(|_| locate(y, "/pipeline/0/config").unwrap()));
    let j = "{\n  \"budget\": {\n    \"max\": -1\n  }\n}\n";
    assert_eq!(locate(j, "/budget/max").map(|p| p.0), Some(3));
    assert_eq!(locate("not: [valid", "/x"), None);
}
