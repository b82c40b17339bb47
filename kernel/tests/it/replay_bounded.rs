//! The bounded ledger view replay reads through: for any ledger, bound, filter, order and limit
//! it answers exactly what the whole ledger answers restricted to the entries up to the bound;
//! and a replay whose recorded head no longer matches the ledger reports it loudly.

use std::ops::ControlFlow;
use std::sync::Arc;

use cp_kernel::{
    BoundedStore, DriftCause, LedgerQuery, LedgerSet, LedgerStore, MemoryStore, NewEntry, Order, Provenance,
    ReplaySelector, ReplayStatus, Rerunnable, replay_prompts, testkit::TempPlane,
};
use proptest::prelude::*;
use serde_json::json;

fn store(n: u64) -> Arc<dyn LedgerStore> {
    let s = MemoryStore::new("HO1/x");
    for i in 0..n {
        s.append(NewEntry::new(if i % 3 == 0 { "A" } else { "B" })).unwrap();
    }
    Arc::new(s)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn bounded_queries_equal_the_full_answer_cut_at_the_bound(
        n in 0..30u64, bound in proptest::option::of(0..35u64), limit in proptest::option::of(1..8usize),
        desc in any::<bool>(), only_a in any::<bool>(),
    ) {
        let inner = store(n);
        let b = BoundedStore::new(inner.clone(), bound);
        let q = LedgerQuery {
            event_types: if only_a { vec!["A".into()] } else { vec![] },
            order: if desc { Order::Desc } else { Order::Asc },
            limit,
            ..LedgerQuery::default()
        };
        let mut want: Vec<u64> = inner
            .query(&LedgerQuery { limit: None, ..q.clone() })
            .unwrap()
            .into_iter()
            .map(|e| e.seq)
            .filter(|s| bound.is_some_and(|b| *s <= b))
            .collect();
        want.truncate(limit.unwrap_or(usize::MAX));
        let got: Vec<u64> = b.query(&q).unwrap().into_iter().map(|e| e.seq).collect();
        prop_assert_eq!(got, want);
        let visible_head = bound.map(|b| b.min(n.saturating_sub(1))).filter(|_| n > 0);
        prop_assert_eq!(b.head().unwrap().map(|h| h.seq), visible_head);
        let mut scanned = 0u64;
        b.scan_raw(&mut |_| { scanned += 1; ControlFlow::Continue(()) }).unwrap();
        prop_assert_eq!(scanned, visible_head.map_or(0, |h| h + 1));
        if let Some(b_) = bound { prop_assert!(b.get(b_ + 1).unwrap().is_none()); }
    }
}

#[test]
fn the_bounded_view_is_read_only() {
    let b = BoundedStore::new(store(3), Some(1));
    let err = b.append(NewEntry::new("A")).unwrap_err().to_string();
    assert!(err.contains("read-only replay view"), "{err}");
}

#[test]
fn a_rewritten_ledger_below_a_recorded_head_is_reported_loudly() {
    let tp = TempPlane::new();
    let ledger = LedgerSet::new(&tp.plane).open("HO1/prompts").unwrap();
    let first = ledger.append(NewEntry::new("X")).unwrap();
    let p = Provenance { tenant_id: Some("t".into()), session_id: Some("s".into()), ..Provenance::default() };
    // A PROMPT_SENT whose record says entry 0 had another hash: as if the ledger was rewritten.
    let record = json!({
        "attention_request": {"agent_id": "a", "agent_class": "KERNEL.semantic", "tier": "ho1", "tenant_id": "t"},
        "template_id": "ATT-DEFAULT-000", "template_version": "1.0.0", "contract": null,
        "ledger_heads": {"HO1/prompts": {"seq": 0, "entry_hash": "0".repeat(64)}},
        "reads": [], "context_hash": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    });
    ledger
        .append(
            NewEntry::new("PROMPT_SENT")
                .provenance(p)
                .meta("request_id", "r1")
                .meta("context_hash", "x")
                .meta("replay", record),
        )
        .unwrap();
    drop(ledger);
    let r = replay_prompts(&tp.plane, "HO1/prompts", "t", &ReplaySelector::Session("s".into()), &Rerunnable::new())
        .unwrap();
    assert_eq!(r.prompts.len(), 1);
    let p = &r.prompts[0];
    assert_eq!(p.status, ReplayStatus::Drift);
    assert_eq!(
        p.causes[0],
        DriftCause::LedgerDiverged {
            ledger: "HO1/prompts".into(),
            seq: 0,
            recorded: "0".repeat(64),
            now: Some(first.entry_hash)
        }
    );
    // Another tenant sees none of it.
    let r = replay_prompts(&tp.plane, "HO1/prompts", "u", &ReplaySelector::Session("s".into()), &Rerunnable::new())
        .unwrap();
    assert!(r.prompts.is_empty());
}
