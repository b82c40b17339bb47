//! Index columns are checked against the hashed entry (issue 9 §3): a column edited behind the
//! store's back (triggers dropped) fails verification naming the seq and the column, and queries
//! never return an entry that the hashed body does not match.

use std::sync::Arc;

use cp_kernel::{
    DefectKind, Durability, INDEX_COLUMNS, JsonlStore, LedgerQuery, LedgerStore, MemoryStore, NewEntry, Provenance,
    SqliteStore, verify_store,
};

fn full_provenance(i: usize) -> Provenance {
    let v = |f: &str| Some(format!("{f}-{i}"));
    Provenance {
        tenant_id: Some(if i.is_multiple_of(2) { "acme".into() } else { "other".into() }),
        agent_id: v("agent"),
        agent_class: Some("ADMIN".into()),
        framework_id: v("fw"),
        package_id: v("pkg"),
        work_order_id: v("wo"),
        session_id: v("sess"),
        trace_id: v("trace"),
        span_id: v("span"),
        parent_event_id: v("parent"),
        tier: Some("hot".into()),
    }
}

fn fill(s: &dyn LedgerStore, n: usize) {
    s.append_batch((0..n).map(|i| NewEntry::new("NOTE").reason("r\"\u{1}é").provenance(full_provenance(i))).collect())
        .unwrap();
}

fn sqlite(dir: &std::path::Path) -> Arc<dyn LedgerStore> {
    Arc::new(
        SqliteStore::open(&dir.join("l.db"), "HOT/test", Durability::Full, std::time::Duration::from_secs(5)).unwrap(),
    )
}

#[test]
fn untampered_ledgers_with_every_column_set_verify_on_every_backend() {
    let d = tempfile::tempdir().unwrap();
    let stores: Vec<Arc<dyn LedgerStore>> = vec![
        Arc::new(MemoryStore::new("HOT/test")),
        Arc::new(JsonlStore::open(&d.path().join("l.jsonl"), "HOT/test", Durability::Full).unwrap()),
        sqlite(d.path()),
    ];
    for s in stores {
        fill(&*s, 5);
        let r = verify_store(&*s).unwrap();
        assert!(r.ok, "{:?}", r.first_bad);
        assert_eq!(r.verified, 5);
    }
}

/// A value of the right type for `column` that differs from what row `seq` holds.
fn other_value(column: &str) -> &'static str {
    match column {
        "previous_hash" => "1111111111111111111111111111111111111111111111111111111111111111",
        _ => "victim",
    }
}

#[test]
fn every_sqlite_column_edited_behind_the_store_fails_verify_naming_it() {
    for column in INDEX_COLUMNS {
        let d = tempfile::tempdir().unwrap();
        let s = sqlite(d.path());
        fill(&*s, 4);
        let db = rusqlite::Connection::open(d.path().join("l.db")).unwrap();
        db.execute_batch("DROP TRIGGER entries_no_update").unwrap();
        db.execute(&format!("UPDATE entries SET {column} = ?1 WHERE seq = 2"), [other_value(column)]).unwrap();
        drop(db);
        let r = verify_store(&*s).unwrap();
        let bad = r.first_bad.unwrap_or_else(|| panic!("editing {column} went unnoticed"));
        assert_eq!((bad.seq, bad.kind), (2, DefectKind::ColumnMismatch), "{column}: {bad:?}");
        assert_eq!(bad.column.as_deref(), Some(column), "{bad:?}");
        assert!(bad.message.contains(column), "{}", bad.message);
        assert_eq!(r.verified, 2);
    }
}

#[test]
fn a_nulled_or_retyped_sqlite_column_is_a_mismatch_too() {
    for (sql, column) in [
        ("UPDATE entries SET tenant_id = NULL WHERE seq = 0", "tenant_id"),
        ("UPDATE entries SET session_id = 7 WHERE seq = 0", "session_id"),
        ("UPDATE entries SET event_type = CAST('NOTE' AS BLOB) WHERE seq = 0", "event_type"),
    ] {
        let d = tempfile::tempdir().unwrap();
        let s = sqlite(d.path());
        fill(&*s, 2);
        let db = rusqlite::Connection::open(d.path().join("l.db")).unwrap();
        db.execute_batch("DROP TRIGGER entries_no_update").unwrap();
        db.execute_batch(sql).unwrap();
        drop(db);
        let bad = verify_store(&*s).unwrap().first_bad.expect("a defect");
        assert_eq!((bad.seq, bad.kind, bad.column.as_deref()), (0, DefectKind::ColumnMismatch, Some(column)), "{sql}");
    }
}

#[test]
fn a_tenant_column_moved_to_another_tenant_never_adds_the_entry_to_its_queries() {
    let d = tempfile::tempdir().unwrap();
    let s = sqlite(d.path());
    fill(&*s, 4);
    let by = |t: &str| LedgerQuery {
        provenance: Provenance { tenant_id: Some(t.into()), ..Default::default() },
        ..Default::default()
    };
    assert_eq!(s.query(&by("victim")).unwrap().len(), 0);
    let db = rusqlite::Connection::open(d.path().join("l.db")).unwrap();
    db.execute_batch(
        "DROP TRIGGER entries_no_update; UPDATE entries SET tenant_id = 'victim', event_type = 'X' WHERE seq = 2",
    )
    .unwrap();
    drop(db);
    assert!(s.query(&by("victim")).unwrap().is_empty(), "an entry of acme was answered as victim's");
    let xs = LedgerQuery { event_types: vec!["X".into()], ..Default::default() };
    assert!(s.query(&xs).unwrap().is_empty());
    let bad = verify_store(&*s).unwrap().first_bad.unwrap();
    assert_eq!((bad.seq, bad.column.as_deref()), (2, Some("event_type")));
}
