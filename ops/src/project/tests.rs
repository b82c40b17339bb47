use std::sync::Arc;

use cp_kernel::{LedgerQuery, LedgerStore, MemoryStore, event};
use proptest::prelude::*;

use super::{FACT_TYPES, Projector, StoredEntry, write_facts};
use crate::event::{Event, Status};

/// Event-store entry `seq`, holding `1 + seq % 3` events of `cost` each.
fn ev(seq: u64, cost: f64) -> StoredEntry {
    let e = Event {
        timestamp: "2026-12-04T10:00:00.000Z".into(),
        ts_ms: 1_796_378_400_000,
        agent_id: "a".into(),
        workflow_id: "w".into(),
        status: Status::Success,
        latency_ms: 1,
        cost_usd: cost,
        fields: Default::default(),
        tokens: Default::default(),
    };
    StoredEntry { seq, events: (0..=seq % 3).map(|i| (format!("e{seq}.{i}"), e.clone())).collect() }
}

/// The `event_seq` of every stored facts entry, in ledger order.
fn fact_seqs(store: &dyn LedgerStore) -> Vec<u64> {
    let q = LedgerQuery { event_types: FACT_TYPES.iter().map(|t| t.to_string()).collect(), ..LedgerQuery::default() };
    store.query(&q).unwrap().iter().map(|e| e.metadata["event_seq"].as_u64().unwrap()).collect()
}

proptest! {
    /// Writers handing in the events after the last fact they know of — several at once,
    /// overlapping, repeated — store each event's fact exactly once, in event order, and none
    /// is missing up to the last event handed in.
    #[test]
    fn every_event_gets_one_fact_in_order(calls in prop::collection::vec((0u64..30, 0u64..30), 1..10)) {
        let store = Arc::new(MemoryStore::new("HO1/ops-costs-t-x"));
        let all: Vec<StoredEntry> = (0..90).map(|s| ev(s, 0.25)).collect();
        let writers: Vec<_> = calls
            .iter()
            .map(|&(known, more)| {
                let store = store.clone();
                let all = all.clone();
                std::thread::spawn(move || {
                    // This writer knows of the facts up to `known` at most (maybe fewer are
                    // stored yet) and hands in everything after what is stored, plus `more`;
                    // then, remembering what it learnt, the next `more` entries.
                    let stored = fact_seqs(store.as_ref()).last().map_or(0, |s| s + 1);
                    let from = stored.min(known) as usize;
                    let (mid, to) = (from + more as usize + 1, from + 2 * more as usize + 2);
                    let mut learnt = None;
                    write_facts("x", store.as_ref(), &all[from..mid], &mut learnt).unwrap();
                    write_facts("x", store.as_ref(), &all[mid..to], &mut learnt).unwrap();
                    (to - 1) as u64
                })
            })
            .collect();
        let highest = writers.into_iter().map(|w| w.join().unwrap()).max().unwrap();
        let seqs = fact_seqs(store.as_ref());
        prop_assert_eq!(seqs, (0..=highest).collect::<Vec<_>>());
    }
}

#[test]
fn the_projector_writes_what_it_was_sent_and_flush_waits_for_it() {
    let store = Arc::new(MemoryStore::new("HO1/ops-costs-t-x"));
    let p = Projector::spawn("x", store.clone()).unwrap();
    for chunk in (0..30).map(|s| ev(s, 1.5)).collect::<Vec<_>>().chunks(7) {
        p.send(chunk.to_vec());
    }
    p.flush();
    assert_eq!(fact_seqs(store.as_ref()), (0..30).collect::<Vec<_>>());
    let facts = store.query(&LedgerQuery::default()).unwrap();
    assert_eq!(facts[5].event_type, event::COST_FACTS);
    assert_eq!(facts[5].metadata["event_seq"], 5);
    let listed = facts[5].metadata["facts"].as_array().unwrap();
    let ids: Vec<&str> = listed.iter().map(|f| f["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["e5.0", "e5.1", "e5.2"]);
    assert_eq!(listed[1]["amount_usd"], 1.5);
    assert_eq!(listed[1]["budget_scope"], "tenant");
    assert_eq!(facts[5].tenant_id.as_deref(), Some("x"));
    // What is queued when the projector is dropped is written before the drop returns.
    p.send((30..35).map(|s| ev(s, 1.0)).collect());
    drop(p);
    assert_eq!(fact_seqs(store.as_ref()).len(), 35);
}
