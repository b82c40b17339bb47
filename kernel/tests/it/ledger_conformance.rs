//! One conformance suite run against every ledger backend (memory, JSONL, SQLite, and PostgreSQL
//! when `CP_TEST_POSTGRES_URL` is set — see `ledger_postgres.rs`), plus the backend-specific
//! checks (SQLite query plans and triggers, JSONL line format and torn tails).

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use cp_kernel::{
    Durability, GENESIS_PREVIOUS_HASH, JsonlStore, LedgerEntry, LedgerError, LedgerQuery, LedgerStore, MemoryStore,
    NewEntry, Order, Provenance, SqliteStore,
};
use serde_json::json;

pub(crate) type Opener<'a> = &'a dyn Fn(&Path) -> Arc<dyn LedgerStore>;

pub(crate) fn open_sqlite(dir: &Path) -> Arc<dyn LedgerStore> {
    Arc::new(
        SqliteStore::open(&dir.join("l.db"), "HOT/test", Durability::Full, std::time::Duration::from_secs(5)).unwrap(),
    )
}

pub(crate) fn open_jsonl(dir: &Path) -> Arc<dyn LedgerStore> {
    Arc::new(JsonlStore::open(&dir.join("l.jsonl"), "HOT/test", Durability::Full).unwrap())
}

fn open_memory(_dir: &Path) -> Arc<dyn LedgerStore> {
    Arc::new(MemoryStore::new("HOT/test"))
}

pub(crate) use cp_kernel::testkit::{assert_torn_then_repair, check_chain};

pub(crate) fn prov(f: &str, v: &str) -> Provenance {
    let mut p = Provenance::default();
    let s = Some(v.to_string());
    match f {
        "tenant_id" => p.tenant_id = s,
        "agent_id" => p.agent_id = s,
        "agent_class" => p.agent_class = s,
        "framework_id" => p.framework_id = s,
        "package_id" => p.package_id = s,
        "work_order_id" => p.work_order_id = s,
        "session_id" => p.session_id = s,
        "trace_id" => p.trace_id = s,
        "span_id" => p.span_id = s,
        "parent_event_id" => p.parent_event_id = s,
        "tier" => p.tier = s,
        other => panic!("unknown field {other}"),
    }
    p
}

pub(crate) fn full_entry(i: usize) -> NewEntry {
    let mut p = Provenance::default();
    for f in Provenance::FIELDS {
        let v = format!("{f}-{}", i % 3);
        let one = prov(f, &v);
        merge(&mut p, one);
    }
    NewEntry::new(["A", "B", "C"][i % 3])
        .decision("ALLOW")
        .reason(format!("reason é {i}"))
        .submission(format!("sub-{i}"))
        .meta("i", i as u64)
        .meta("nested", json!({"x": [1, 2.5, "ü"], "z": null}))
        .provenance(p)
}

fn merge(p: &mut Provenance, o: Provenance) {
    macro_rules! m { ($($f:ident),*) => { $( if o.$f.is_some() { p.$f = o.$f; } )* } }
    m!(
        tenant_id,
        agent_id,
        agent_class,
        framework_id,
        package_id,
        work_order_id,
        session_id,
        trace_id,
        span_id,
        parent_event_id,
        tier
    );
}

pub(crate) fn fill(s: &dyn LedgerStore, n: usize) -> Vec<LedgerEntry> {
    s.append_batch((0..n).map(full_entry).collect()).unwrap()
}

pub(crate) fn all(s: &dyn LedgerStore) -> Vec<LedgerEntry> {
    s.query(&LedgerQuery::default()).unwrap()
}

pub(crate) fn seqs(v: &[LedgerEntry]) -> Vec<u64> {
    v.iter().map(|e| e.seq).collect()
}

pub(crate) fn round_trip(open: Opener) {
    let d = tempfile::tempdir().unwrap();
    let s = open(d.path());
    assert!(s.head().unwrap().is_none());
    assert_eq!(s.len().unwrap(), 0);
    let e0 = s.append(full_entry(0)).unwrap();
    let e1 = s.append(NewEntry::new("ONLY_TYPE")).unwrap();
    assert_eq!((e0.seq, e1.seq), (0, 1));
    assert_eq!(e0.previous_hash, GENESIS_PREVIOUS_HASH);
    assert_eq!(e1.previous_hash, e0.entry_hash);
    assert_eq!(s.get(0).unwrap().as_ref(), Some(&e0));
    assert_eq!(s.get(1).unwrap().as_ref(), Some(&e1));
    assert_eq!(s.get(2).unwrap(), None);
    assert_eq!(s.head().unwrap().unwrap().entry_hash, e1.entry_hash);
    assert_eq!(s.len().unwrap(), 2);
    assert_eq!(all(&*s), vec![e0.clone(), e1]);
    assert_eq!(e0.metadata["nested"]["x"][2], json!("ü"));
    assert_eq!(e0.reason.as_deref(), Some("reason é 0"));
    uuid::Uuid::parse_str(&e0.id).unwrap();
    assert_eq!(check_chain(&*s), 2);
}

/// Prepared entries (metadata rendered ahead of the lock) are stored as the same entries as
/// plain ones: same bodies, hashes that verify, an invalid one refusing the whole batch.
pub(crate) fn prepared_equals_plain(open: Opener) {
    let d = tempfile::tempdir().unwrap();
    let s = open(d.path());
    let plain = s.append_batch((0..5).map(full_entry).collect()).unwrap();
    let prepared = s.append_prepared((0..5).map(|i| full_entry(i).prepare()).collect()).unwrap();
    assert_eq!(seqs(&prepared), (5..10).collect::<Vec<_>>());
    assert_eq!(prepared[0].previous_hash, plain[4].entry_hash);
    for (a, b) in plain.iter().zip(&prepared) {
        assert_eq!((&a.metadata, &a.reason, &a.provenance()), (&b.metadata, &b.reason, &b.provenance()));
    }
    assert_eq!(all(&*s)[5..], prepared[..], "what is read back is what was returned");
    let r = s.append_prepared(vec![NewEntry::new("OK").prepare(), NewEntry::new("").prepare()]);
    assert!(matches!(r, Err(LedgerError::InvalidEntry(_))), "{r:?}");
    assert_eq!(check_chain(&*s), 10);
}

pub(crate) fn reopen(open: Opener) {
    let d = tempfile::tempdir().unwrap();
    let before = {
        let s = open(d.path());
        fill(&*s, 5)
    };
    let s = open(d.path());
    assert_eq!(all(&*s), before);
    let e = s.append(NewEntry::new("AFTER")).unwrap();
    assert_eq!(e.seq, 5);
    assert_eq!(e.previous_hash, before[4].entry_hash);
    assert_eq!(check_chain(&*s), 6);
}

pub(crate) fn two_handles_interleave(open: Opener) {
    let d = tempfile::tempdir().unwrap();
    let a = open(d.path());
    let b = open(d.path());
    for i in 0..10 {
        let s = if i % 2 == 0 { &a } else { &b };
        assert_eq!(s.append(full_entry(i)).unwrap().seq, i as u64);
    }
    assert_eq!(all(&*a), all(&*b));
    assert_eq!(a.head().unwrap(), b.head().unwrap());
    assert_eq!(check_chain(&*a), 10);
}

pub(crate) fn batch_atomic(open: Opener) {
    let d = tempfile::tempdir().unwrap();
    let s = open(d.path());
    fill(&*s, 2);
    let head = s.head().unwrap();
    let r = s.transact(&mut |_| Err(LedgerError::Aborted("no".into())));
    assert!(matches!(r, Err(LedgerError::Aborted(_))));
    let r = s.append_batch(vec![NewEntry::new("OK"), NewEntry::new("")]);
    assert!(matches!(r, Err(LedgerError::InvalidEntry(_))), "{r:?}");
    assert_eq!(s.head().unwrap(), head);
    assert_eq!(s.len().unwrap(), 2);
    let b = s.append_batch((0..50).map(full_entry).collect()).unwrap();
    assert_eq!(seqs(&b), (2..52).collect::<Vec<_>>());
    assert_eq!(check_chain(&*s), 52);
}

pub(crate) fn query_each_provenance_field(open: Opener) {
    let d = tempfile::tempdir().unwrap();
    let s = open(d.path());
    // 12 entries: entry i has every field set to `<field>-<i%3>` except that odd entries
    // leave the field at index i%11 unset.
    let mut new = Vec::new();
    for i in 0..12usize {
        let mut e = full_entry(i);
        if i % 2 == 1 {
            let skip = Provenance::FIELDS[i % 11];
            let mut p = Provenance::default();
            for f in Provenance::FIELDS.iter().filter(|f| **f != skip) {
                merge(&mut p, prov(f, &format!("{f}-{}", i % 3)));
            }
            e.provenance = p;
        }
        new.push(e);
    }
    s.append_batch(new).unwrap();
    for (k, f) in Provenance::FIELDS.iter().enumerate() {
        for r in 0..3 {
            let q = LedgerQuery { provenance: prov(f, &format!("{f}-{r}")), ..Default::default() };
            let want: Vec<u64> =
                (0..12u64).filter(|&i| i % 3 == r && !(i % 2 == 1 && (i as usize) % 11 == k)).collect();
            assert_eq!(seqs(&s.query(&q).unwrap()), want, "field {f} = {f}-{r}");
        }
        let q = LedgerQuery { provenance: prov(f, "absent"), ..Default::default() };
        assert!(s.query(&q).unwrap().is_empty());
    }
    // Two fields AND.
    let mut p = prov("tenant_id", "tenant_id-1");
    merge(&mut p, prov("session_id", "session_id-1"));
    merge(&mut p, prov("tier", "tier-1"));
    let got = s.query(&LedgerQuery { provenance: p, ..Default::default() }).unwrap();
    assert_eq!(seqs(&got), vec![1, 4, 7, 10]);
}

pub(crate) fn event_types_or_and_order(open: Opener) {
    let d = tempfile::tempdir().unwrap();
    let s = open(d.path());
    fill(&*s, 10); // types A B C A B C A B C A
    let q = LedgerQuery { event_types: vec!["A".into(), "C".into()], ..Default::default() };
    assert_eq!(seqs(&s.query(&q).unwrap()), vec![0, 2, 3, 5, 6, 8, 9]);
    let q = LedgerQuery { order: Order::Desc, ..q };
    assert_eq!(seqs(&s.query(&q).unwrap()), vec![9, 8, 6, 5, 3, 2, 0]);
    let q = LedgerQuery { limit: Some(3), ..q };
    assert_eq!(seqs(&s.query(&q).unwrap()), vec![9, 8, 6]);
    let q = LedgerQuery { order: Order::Asc, ..q };
    assert_eq!(seqs(&s.query(&q).unwrap()), vec![0, 2, 3]);
    // Most recent N.
    let q = LedgerQuery { order: Order::Desc, limit: Some(4), ..Default::default() };
    assert_eq!(seqs(&s.query(&q).unwrap()), vec![9, 8, 7, 6]);
    let q = LedgerQuery { limit: Some(0), ..Default::default() };
    assert!(s.query(&q).unwrap().is_empty());
    let q = LedgerQuery { event_types: vec!["NONE".into()], ..Default::default() };
    assert!(s.query(&q).unwrap().is_empty());
    // after_seq, alone and with a filter.
    let q = LedgerQuery { after_seq: Some(6), ..Default::default() };
    assert_eq!(seqs(&s.query(&q).unwrap()), vec![7, 8, 9]);
    let q = LedgerQuery { after_seq: Some(3), event_types: vec!["A".into()], order: Order::Desc, ..Default::default() };
    assert_eq!(seqs(&s.query(&q).unwrap()), vec![9, 6]);
}

pub(crate) fn time_range(open: Opener) {
    let d = tempfile::tempdir().unwrap();
    let s = open(d.path());
    let mut es = Vec::new();
    for i in 0..8 {
        es.push(s.append(full_entry(i)).unwrap());
    }
    let since = es[2].timestamp.clone();
    let until = es[6].timestamp.clone();
    let want: Vec<u64> = es.iter().filter(|e| e.timestamp >= since && e.timestamp < until).map(|e| e.seq).collect();
    assert!(want.contains(&2) && !want.contains(&7) && !want.contains(&0), "{want:?}");
    let q = LedgerQuery { since: Some(since.clone()), until: Some(until.clone()), ..Default::default() };
    assert_eq!(seqs(&s.query(&q).unwrap()), want);
    let q = LedgerQuery { since: Some(since.clone()), event_types: vec!["B".into()], ..Default::default() };
    let want_b: Vec<u64> = es.iter().filter(|e| e.timestamp >= since && e.event_type == "B").map(|e| e.seq).collect();
    assert_eq!(seqs(&s.query(&q).unwrap()), want_b);
    let q = LedgerQuery { until: Some("2000-01-01T00:00:00Z".into()), ..Default::default() };
    assert!(s.query(&q).unwrap().is_empty());
}

pub(crate) fn txn_view_sees_chain(open: Opener) {
    let d = tempfile::tempdir().unwrap();
    let s = open(d.path());
    let mut seen_empty = None;
    s.transact(&mut |v| {
        seen_empty = Some(v.head().is_none());
        Ok(vec![NewEntry::new("RESERVE").meta("n", 5)])
    })
    .unwrap();
    assert_eq!(seen_empty, Some(true));
    s.append(NewEntry::new("RESERVE").meta("n", 7)).unwrap();
    let head = s.head().unwrap();
    let out = s
        .transact(&mut |v| {
            assert_eq!(v.head(), head);
            let prior = v.query(&LedgerQuery { event_types: vec!["RESERVE".into()], ..Default::default() })?;
            let total: u64 = prior.iter().map(|e| e.metadata["n"].as_u64().unwrap()).sum();
            Ok(vec![NewEntry::new("TOTAL").meta("total", total)])
        })
        .unwrap();
    assert_eq!(out[0].metadata["total"], json!(12));
    assert_eq!(out[0].seq, 2);
    // An empty transaction appends nothing.
    assert!(s.transact(&mut |_| Ok(vec![])).unwrap().is_empty());
    assert_eq!(s.len().unwrap(), 3);
}

pub(crate) fn scan_raw_hashes_and_links(open: Opener) {
    let d = tempfile::tempdir().unwrap();
    let s = open(d.path());
    let es = fill(&*s, 30);
    assert_eq!(check_chain(&*s), 30);
    // Bodies are exactly the canonical bytes of the entries without entry_hash.
    let mut i = 0;
    s.scan_raw(&mut |r| {
        assert_eq!(r.body, es[i].canonical_body().as_slice());
        i += 1;
        ControlFlow::Continue(())
    })
    .unwrap();
    // Early stop.
    let mut n = 0;
    s.scan_raw(&mut |_| {
        n += 1;
        if n == 3 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    })
    .unwrap();
    assert_eq!(n, 3);
}

macro_rules! conformance {
    ($m:ident, $open:expr, persistent: $p:expr) => {
        mod $m {
            use super::*;
            #[test]
            fn round_trip() {
                super::round_trip(&$open)
            }
            #[test]
            fn prepared_equals_plain() {
                super::prepared_equals_plain(&$open)
            }
            #[test]
            fn reopen_persists() {
                if $p {
                    super::reopen(&$open)
                }
            }
            #[test]
            fn two_handles_interleave() {
                if $p {
                    super::two_handles_interleave(&$open)
                }
            }
            #[test]
            fn batch_is_atomic() {
                super::batch_atomic(&$open)
            }
            #[test]
            fn query_by_each_provenance_field() {
                super::query_each_provenance_field(&$open)
            }
            #[test]
            fn event_types_or_order_limit_recent() {
                super::event_types_or_and_order(&$open)
            }
            #[test]
            fn time_range() {
                super::time_range(&$open)
            }
            #[test]
            fn txn_view_sees_head_and_prior_entries() {
                super::txn_view_sees_chain(&$open)
            }
            #[test]
            fn scan_raw_bodies_hash_and_link() {
                super::scan_raw_hashes_and_links(&$open)
            }
        }
    };
}

conformance!(memory, open_memory, persistent: false);
conformance!(jsonl, open_jsonl, persistent: true);
conformance!(sqlite, open_sqlite, persistent: true);

// ---- SQLite specifics ----

#[test]
fn sqlite_indexed_filters_use_indexes() {
    let d = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&d.path().join("l.db"), "HOT/t", Durability::Normal, std::time::Duration::from_secs(5))
        .unwrap();
    s.append_batch((0..200).map(full_entry).collect()).unwrap();
    let mut queries = vec![
        LedgerQuery { event_types: vec!["A".into()], ..Default::default() },
        LedgerQuery { event_types: vec!["A".into(), "B".into()], order: Order::Desc, ..Default::default() },
        LedgerQuery { since: Some("2000-01-01T00:00:00Z".into()), ..Default::default() },
        LedgerQuery { after_seq: Some(10), ..Default::default() },
        LedgerQuery {
            until: Some("2100-01-01T00:00:00Z".into()),
            order: Order::Desc,
            limit: Some(3),
            ..Default::default()
        },
        LedgerQuery {
            since: Some("2000-01-01T00:00:00Z".into()),
            provenance: prov("span_id", "x"),
            ..Default::default()
        },
    ];
    for f in SqliteStore::INDEXED_FIELDS {
        queries.push(LedgerQuery {
            provenance: prov(f, "x"),
            order: Order::Desc,
            limit: Some(5),
            ..Default::default()
        });
    }
    for q in queries {
        let plan = s.explain_query(&q).unwrap().join("\n");
        assert!(!plan.contains("SCAN entries"), "full scan for {q:?}:\n{plan}");
        assert!(plan.contains("SEARCH entries"), "{plan}");
    }
    // An unindexed filter does scan (so the check above can fail).
    let q = LedgerQuery { provenance: prov("span_id", "x"), ..Default::default() };
    assert!(s.explain_query(&q).unwrap().join("\n").contains("SCAN entries"));
}

#[test]
fn sqlite_triggers_refuse_update_and_delete() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("l.db");
    let s = open_sqlite(d.path());
    fill(&*s, 3);
    let c = rusqlite::Connection::open(&p).unwrap();
    let e = c.execute("UPDATE entries SET event_type = 'X' WHERE seq = 1", []).unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = c.execute("DELETE FROM entries WHERE seq = 2", []).unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    assert_eq!(check_chain(&*s), 3);
}

#[test]
fn sqlite_undecodable_row_is_a_defect_not_a_panic() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("l.db");
    let s = open_sqlite(d.path());
    fill(&*s, 2);
    let c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch("DROP TRIGGER entries_no_update; UPDATE entries SET body = 42 WHERE seq = 1;").unwrap();
    let mut defects = Vec::new();
    s.scan_raw(&mut |r| {
        defects.push((r.position, r.defect.is_some()));
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(defects, vec![(0, false), (1, true)]);
    assert!(matches!(s.get(1), Err(LedgerError::Corrupt { seq: 1, .. })));
}

// ---- JSONL specifics ----

#[test]
fn jsonl_lines_are_canonical_whole_entries() {
    let d = tempfile::tempdir().unwrap();
    let s = open_jsonl(d.path());
    let es = fill(&*s, 5);
    let text = std::fs::read_to_string(d.path().join("l.jsonl")).unwrap();
    assert!(text.ends_with('\n'));
    for (line, e) in text.lines().zip(&es) {
        let back: LedgerEntry = serde_json::from_str(line).unwrap();
        assert_eq!(&back, e);
        let v = serde_json::to_value(e).unwrap();
        assert_eq!(line.as_bytes(), cp_kernel::canonical::to_vec(&v).as_slice());
    }
    assert_eq!(text.lines().count(), 5);
}

#[test]
fn jsonl_junk_line_is_reported_at_its_position() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("l.jsonl");
    let s = open_jsonl(d.path());
    fill(&*s, 3);
    let mut text = std::fs::read_to_string(&p).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    text = format!("{}\nnot json at all\n{}\n{}\n", lines[0], lines[1], lines[2]);
    std::fs::write(&p, text).unwrap();
    let s = open_jsonl(d.path());
    let mut got = Vec::new();
    s.scan_raw(&mut |r| {
        got.push((r.position, r.defect.map(|(f, m)| (f, m.to_string()))));
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(got.len(), 4);
    assert!(got[1].1.is_some() && got[0].1.is_none() && got[2].1.is_none() && got[3].1.is_none(), "{got:?}");
    assert_eq!(got[1].1.as_ref().map(|d| d.0), Some(cp_kernel::RecordFault::Junk), "{got:?}");
    // Queries still answer from the good lines.
    assert_eq!(seqs(&all(&*s)), vec![0, 1, 2]);
}

/// A JSONL ledger `l.jsonl` in `dir` with `n` entries and then `tail` without a newline, as a
/// crash mid-append leaves it; returns its path.
fn with_torn_tail(dir: &std::path::Path, n: usize, tail: &[u8]) -> std::path::PathBuf {
    use std::io::Write;
    let p = dir.join("l.jsonl");
    fill(&*open_jsonl(dir), n);
    let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
    f.write_all(tail).unwrap();
    p
}

#[test]
fn jsonl_line_without_newline_is_a_torn_record() {
    let d = tempfile::tempdir().unwrap();
    with_torn_tail(d.path(), 2, b"{\"agent_class\":\"half");
    let mut faults = Vec::new();
    open_jsonl(d.path())
        .scan_raw(&mut |r| {
            faults.push(r.defect.map(|(f, _)| f));
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(faults, vec![None, None, Some(cp_kernel::RecordFault::Torn)]);
}

#[test]
fn jsonl_torn_tail_refuses_appends_and_repair_removes_only_it() {
    let d = tempfile::tempdir().unwrap();
    let p = with_torn_tail(d.path(), 4, b"{\"agent_class\":\"half-writ");
    assert_torn_then_repair(&p);
    // A second repair finds nothing to do.
    let s = JsonlStore::open(&p, "HOT/test", Durability::Full).unwrap();
    assert!(!s.repair_torn_tail().unwrap().repaired);
    assert_eq!(s.append(NewEntry::new("NEXT")).unwrap().seq, 5);
}

#[test]
fn jsonl_store_sees_appends_of_another_handle_after_repair() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("l.jsonl");
    let a = JsonlStore::open(&p, "HOT/test", Durability::Normal).unwrap();
    let b = JsonlStore::open(&p, "HOT/test", Durability::Normal).unwrap();
    a.append_batch((0..3).map(full_entry).collect()).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&p)
        .unwrap()
        .set_len(std::fs::metadata(&p).unwrap().len() - 10)
        .unwrap();
    assert!(b.append(NewEntry::new("X")).is_err());
    assert!(b.repair_torn_tail().unwrap().repaired);
    assert_eq!(a.append(NewEntry::new("Y")).unwrap().seq, 3);
    assert_eq!(check_chain(&a), 4);
    assert_eq!(seqs(&all(&b)), vec![0, 1, 2, 3]);
}

// ---- Backends agree with the in-memory reference on random ledgers and queries ----

pub(crate) fn random_entry(et: u8, sess: u8, tenant: Option<u8>) -> NewEntry {
    let mut p = Provenance { session_id: Some(format!("s{sess}")), ..Provenance::default() };
    p.tenant_id = tenant.map(|t| format!("t{t}"));
    NewEntry::new(format!("E{et}")).meta("x", u64::from(sess)).provenance(p)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]
    #[test]
    fn backends_agree_with_memory_reference(
        entries in proptest::collection::vec((0u8..4, 0u8..5, proptest::option::of(0u8..3)), 0..40),
        batch in 1usize..7,
        ets in proptest::collection::vec(0u8..5, 0..3),
        sess in proptest::option::of(0u8..6),
        tenant in proptest::option::of(0u8..4),
        after in proptest::option::of(0u64..45),
        desc in proptest::bool::ANY,
        limit in proptest::option::of(0usize..10),
    ) {
        let d = tempfile::tempdir().unwrap();
        let stores = [open_memory(d.path()), open_jsonl(d.path()), open_sqlite(d.path())];
        for s in &stores {
            for chunk in entries.chunks(batch) {
                s.append_batch(chunk.iter().map(|&(e, s, t)| random_entry(e, s, t)).collect()).unwrap();
            }
        }
        let q = LedgerQuery {
            event_types: ets.iter().map(|e| format!("E{e}")).collect(),
            provenance: Provenance {
                session_id: sess.map(|s| format!("s{s}")),
                tenant_id: tenant.map(|t| format!("t{t}")),
                ..Provenance::default()
            },
            after_seq: after,
            order: if desc { Order::Desc } else { Order::Asc },
            limit,
            ..LedgerQuery::default()
        };
        let want = seqs(&stores[0].query(&q).unwrap());
        // The reference itself, recomputed independently of any store.
        let mut indep: Vec<u64> = entries
            .iter()
            .enumerate()
            .filter(|(i, (e, s, t))| {
                (ets.is_empty() || ets.contains(e))
                    && sess.is_none_or(|x| x == *s)
                    && tenant.is_none_or(|x| Some(x) == *t)
                    && after.is_none_or(|a| (*i as u64) > a)
            })
            .map(|(i, _)| i as u64)
            .collect();
        if desc {
            indep.reverse();
        }
        indep.truncate(limit.unwrap_or(usize::MAX));
        proptest::prop_assert_eq!(&want, &indep);
        for s in &stores[1..] {
            proptest::prop_assert_eq!(&seqs(&s.query(&q).unwrap()), &want);
            proptest::prop_assert_eq!(check_chain(&**s), entries.len() as u64);
        }
    }
}
