//! The PostgreSQL ledger backend: the shared conformance suite, and the checks specific to it
//! (query plans at 1 M rows, append-only triggers and grants, schema migration, retries after
//! the server dropped the connection, several writers on one chain).
//!
//! Needs `CP_TEST_POSTGRES_URL`; without it every test prints `skipped: no PostgreSQL` (and
//! fails under `CP_REQUIRE_SERVICES=1`). Each test uses a schema of its own, dropped at the end.

use std::ops::ControlFlow;
use std::sync::Arc;

use cp_kernel::testkit::pg::{PgSchema, test_options};
use cp_kernel::{LedgerError, LedgerQuery, LedgerStore, NewEntry, Order, PgStore, PgTarget, Provenance, verify_store};

use crate::ledger_conformance::{self as conf, check_chain, fill, full_entry, prov, seqs};

macro_rules! pg_conformance {
    ($($t:ident),* $(,)?) => {
        mod conformance {
            $(
                #[test]
                fn $t() {
                    let Some(fx) = cp_kernel::testkit::pg::PgSchema::new() else { return };
                    super::conf::$t(&|_| std::sync::Arc::new(fx.open("HOT/test")));
                }
            )*
        }
    };
}

pg_conformance!(
    round_trip,
    prepared_equals_plain,
    reopen,
    two_handles_interleave,
    batch_atomic,
    query_each_provenance_field,
    event_types_or_and_order,
    time_range,
    txn_view_sees_chain,
    scan_raw_hashes_and_links,
);

#[test]
fn ledgers_in_one_schema_are_separate_chains_and_listed() {
    let Some(fx) = PgSchema::new() else { return };
    assert!(PgStore::list(&fx.target(), test_options()).unwrap().is_empty());
    let a = fx.open("HOT/governance");
    let b = fx.open("HO2/prompts");
    fill(&a, 3);
    fill(&b, 2);
    assert_eq!((check_chain(&a), check_chain(&b)), (3, 2));
    assert_eq!(b.get(2).unwrap(), None);
    assert_eq!(PgStore::list(&fx.target(), test_options()).unwrap(), vec!["HO2/prompts", "HOT/governance"]);
    assert!(verify_store(&a).unwrap().ok);
}

#[test]
fn triggers_refuse_update_delete_and_truncate() {
    let Some(fx) = PgSchema::new() else { return };
    let s = fx.open("HOT/test");
    fill(&s, 3);
    let mut c = fx.client();
    for sql in [
        "UPDATE entries SET event_type = 'X' WHERE seq = 1",
        "DELETE FROM entries WHERE seq = 2",
        "TRUNCATE entries",
        "DELETE FROM ledgers",
    ] {
        let e = c.batch_execute(sql).unwrap_err();
        assert!(format!("{e:?}").contains("append-only"), "{sql}: {e:?}");
    }
    assert_eq!(check_chain(&s), 3);
}

#[test]
fn a_role_with_only_select_and_insert_cannot_update_even_without_the_trigger() {
    let Some(fx) = PgSchema::new() else { return };
    let s = fx.open("HOT/test");
    fill(&s, 2);
    let role = format!("{}_kernel", fx.schema);
    let mut c = fx.client();
    c.batch_execute(&format!(
        "CREATE ROLE {role} NOLOGIN; GRANT USAGE ON SCHEMA {sc} TO {role}; \
         GRANT SELECT, INSERT ON entries, ledgers TO {role}; \
         ALTER TABLE entries DISABLE TRIGGER entries_no_update_delete;",
        sc = fx.schema
    ))
    .unwrap();
    let r = c.batch_execute(&format!("SET ROLE {role}; UPDATE entries SET event_type = 'X' WHERE seq = 1"));
    let insert = c.batch_execute("SELECT count(*) FROM entries");
    c.batch_execute("RESET ROLE").unwrap();
    c.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}")).unwrap();
    let e = r.unwrap_err();
    assert!(format!("{e:?}").contains("permission denied"), "{e:?}");
    insert.unwrap();
    assert_eq!(check_chain(&s), 2);
}

#[test]
fn the_kernel_runs_as_a_role_with_only_select_and_insert() {
    let Some(fx) = PgSchema::new() else { return };
    fill(&fx.open("HOT/test"), 2);
    let role = format!("{}_k", fx.schema);
    let mut c = fx.client();
    c.batch_execute(&format!(
        "CREATE ROLE {role} LOGIN; GRANT USAGE ON SCHEMA {sc} TO {role}; \
         GRANT SELECT, INSERT ON entries, ledgers TO {role}; GRANT SELECT ON cp_schema_version TO {role};",
        sc = fx.schema
    ))
    .unwrap();
    let result = (|| {
        let s = PgStore::open(&fx.target().with_user(&role), "HOT/test", test_options())?;
        s.append(NewEntry::new("AS_KERNEL"))?;
        Ok::<_, LedgerError>(check_chain(&s))
    })();
    c.batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role}")).unwrap();
    assert_eq!(result.unwrap(), 3);
}

#[test]
fn a_changed_row_is_reported_by_verification() {
    let Some(fx) = PgSchema::new() else { return };
    let (col, body) = (fx.open("HOT/col"), fx.open("HOT/body"));
    fill(&col, 4);
    fill(&body, 4);
    fx.client()
        .batch_execute(
            "ALTER TABLE entries DISABLE TRIGGER entries_no_update_delete; \
             UPDATE entries SET tenant_id = 'victim' WHERE ledger = 'HOT/col' AND seq = 2; \
             UPDATE entries SET body = convert_to(replace(convert_from(body, 'UTF8'), 'reason', 'REASON'), 'UTF8') \
             WHERE ledger = 'HOT/body' AND seq = 3;",
        )
        .unwrap();
    let r = verify_store(&col).unwrap();
    let d = r.first_bad.expect("column change found");
    assert_eq!((d.seq, d.kind), (2, cp_kernel::DefectKind::ColumnMismatch), "{}", d.message);
    let r = verify_store(&body).unwrap();
    assert_eq!(r.first_bad.expect("body change found").seq, 3);
}

#[test]
fn a_schema_from_a_newer_kernel_is_refused() {
    let Some(fx) = PgSchema::new() else { return };
    drop(fx.open("HOT/test"));
    fx.client().batch_execute("INSERT INTO cp_schema_version (version) VALUES (999)").unwrap();
    let e = PgStore::open(&fx.target(), "HOT/test", test_options()).unwrap_err();
    assert!(e.to_string().contains("newer than this kernel"), "{e}");
}

#[test]
fn migration_is_idempotent_and_concurrent_opens_agree() {
    let Some(fx) = PgSchema::new() else { return };
    let t = fx.target();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let t = t.clone();
            std::thread::spawn(move || {
                let s = PgStore::open(&t, "HOT/test", test_options()).unwrap();
                s.append(NewEntry::new("OPENED").meta("i", i)).unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let n: i64 = fx.client().query_one("SELECT count(*) FROM cp_schema_version", &[]).unwrap().get(0);
    assert_eq!(n, i64::from(cp_kernel::PG_SCHEMA_VERSION));
    assert_eq!(check_chain(&fx.open("HOT/test")), 4);
}

#[test]
fn bad_connection_strings_and_schema_names_are_refused() {
    for s in ["", "1abc", "A", "a-b", "a\"b", &"a".repeat(64)] {
        assert!(matches!(PgTarget::new("host=127.0.0.1", s), Err(LedgerError::Backend(_))), "{s:?}");
    }
    let e = PgTarget::new("postgres://u:secret@h:notaport/db", "s").unwrap_err();
    assert!(!e.to_string().contains("secret"), "{e}");
    let t = PgTarget::new("postgres://u:secret@h:5432/db", "s").unwrap();
    assert!(!format!("{t:?} {}", t.describe()).contains("secret"));
}

#[test]
fn writers_on_many_connections_keep_one_dense_chain() {
    let Some(fx) = PgSchema::new() else { return };
    let t = fx.target();
    let handles: Vec<_> = (0..4)
        .map(|w| {
            let t = t.clone();
            std::thread::spawn(move || {
                let s = PgStore::open(&t, "HOT/test", test_options()).unwrap();
                for i in 0..25 {
                    if i % 5 == 0 {
                        s.append_batch((0..3).map(full_entry).collect()).unwrap();
                    } else if i % 7 == 3 {
                        // A locked check-and-append racing the optimistic appends of the others.
                        s.transact(&mut |v| {
                            let seen = v.query(&LedgerQuery::default())?.len() as u64;
                            assert_eq!(
                                Some(seen),
                                v.head().map(|h| h.seq + 1),
                                "the closure sees the chain up to its head"
                            );
                            Ok(vec![NewEntry::new("T").meta("seen", seen)])
                        })
                        .unwrap();
                    } else {
                        s.append(NewEntry::new("W").meta("w", w).meta("i", i)).unwrap();
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(check_chain(&fx.open("HOT/test")), 4 * (20 + 5 * 3));
}

/// Hosts appending as fast as they can never starve one another: a writer whose optimistic
/// append loses the race for the next `seq` queues on the ledger's append lock, and optimistic
/// appends yield to a queued writer, so every append goes through however long the race runs.
#[test]
fn racing_writers_never_starve_one_another() {
    let Some(fx) = PgSchema::new() else { return };
    let t = fx.target();
    const WRITERS: usize = 4;
    const EACH: usize = 400;
    let start = Arc::new(std::sync::Barrier::new(WRITERS));
    let handles: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (t, start) = (t.clone(), start.clone());
            std::thread::spawn(move || {
                let s = PgStore::open(&t, "HOT/race", test_options()).unwrap();
                s.append(NewEntry::new("WARM").meta("w", w)).unwrap();
                start.wait();
                for i in 0..EACH {
                    s.append(NewEntry::new("W").meta("w", w).meta("i", i)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let s = fx.open("HOT/race");
    assert_eq!(check_chain(&s), (WRITERS * (EACH + 1)) as u64);
    for w in 0..WRITERS {
        let mine = s.query(&LedgerQuery::default()).unwrap();
        let mine: Vec<i64> = mine
            .iter()
            .filter(|e| e.event_type == "W" && e.metadata.get("w").and_then(|v| v.as_i64()) == Some(w as i64))
            .map(|e| e.metadata["i"].as_i64().unwrap())
            .collect();
        assert_eq!(mine, (0..EACH as i64).collect::<Vec<_>>(), "writer {w}: each append once, in order");
    }
}

#[test]
fn appends_survive_the_server_dropping_every_connection() {
    let Some(fx) = PgSchema::new() else { return };
    let s = fx.open("HOT/test");
    let mut admin = fx.client();
    let mut acked = Vec::new();
    for i in 0..30u64 {
        if i % 3 == 0 {
            // As a server restart does: every connection of the kernel is closed under it.
            admin
                .execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = $1 AND pid <> pg_backend_pid()",
                    &[&format!("cp-kernel ledger {}", fx.schema)],
                )
                .unwrap();
        }
        acked.push(s.append(NewEntry::new("N").meta("i", i)).unwrap());
    }
    let stored = s.query(&LedgerQuery::default()).unwrap();
    assert_eq!(stored, acked);
    assert_eq!(check_chain(&s), 30);
}

#[test]
fn an_unreachable_server_fails_after_the_retries_with_nothing_written() {
    if cp_kernel::testkit::pg::url().is_none() {
        return;
    }
    let t = PgTarget::new("host=127.0.0.1 port=1 user=postgres dbname=test", "cp_t_unreachable").unwrap();
    let opts = cp_kernel::PgOptions { wait: std::time::Duration::from_millis(20), retries: 2, ..test_options() };
    let e = PgStore::open(&t, "HOT/test", opts).unwrap_err();
    assert!(matches!(e, LedgerError::PostgresUnavailable { attempts: 3, .. }), "{e:?}");
    assert!(e.to_string().starts_with("LEDGER_UNAVAILABLE"), "{e}");
}

#[test]
fn indexed_filters_never_scan_the_table_at_one_million_rows() {
    let Some(fx) = PgSchema::new() else { return };
    let s = fx.open("HOT/big");
    fill(&s, 3);
    // One million rows written server-side (bodies are not entries: this checks plans only);
    // the always-present columns are dense, the others set on one row in ten.
    fx.client()
        .batch_execute(
            "INSERT INTO entries (ledger, seq, id, timestamp, schema_version, event_type, tenant_id, agent_id, \
             agent_class, framework_id, package_id, work_order_id, session_id, trace_id, span_id, parent_event_id, \
             tier, previous_hash, entry_hash, body) \
             SELECT 'HOT/big', i, 'id' || i, to_char(timestamp '2026-01-01' + i * interval '1 second', \
             'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '1', 'E' || (i % 40), 't' || (i % 50), \
             CASE WHEN i % 10 = 3 THEN 'a' || (i % 1000) END, 'c', \
             CASE WHEN i % 10 = 0 THEN 'f' || (i % 7) END, CASE WHEN i % 10 = 1 THEN 'p' || (i % 97) END, \
             CASE WHEN i % 10 = 4 THEN 'wo' || (i % 5000) END, 's' || (i % 20000), \
             CASE WHEN i % 10 = 5 THEN 'tr' || i END, 'sp' || i, \
             CASE WHEN i % 10 = 6 THEN 'pe' || i END, 'HOT', '', '', '\\x7b7d'::bytea \
             FROM generate_series(3, 1000002) AS i; ANALYZE entries;",
        )
        .unwrap();
    let mut queries = vec![
        LedgerQuery { event_types: vec!["E7".into()], order: Order::Desc, limit: Some(20), ..Default::default() },
        LedgerQuery { event_types: vec!["E7".into(), "E8".into()], limit: Some(20), ..Default::default() },
        LedgerQuery {
            since: Some("2026-01-02T00:00:00Z".into()),
            until: Some("2026-01-02T00:10:00Z".into()),
            ..Default::default()
        },
        LedgerQuery { after_seq: Some(999_990), ..Default::default() },
        LedgerQuery { order: Order::Desc, limit: Some(3), ..Default::default() },
        LedgerQuery {
            since: Some("2026-01-12T12:00:00Z".into()),
            provenance: prov("span_id", "x"),
            limit: Some(100),
            ..Default::default()
        },
    ];
    let values = [
        ("tenant_id", "t3"),
        ("session_id", "s17"),
        ("work_order_id", "wo4"),
        ("agent_id", "a3"),
        ("package_id", "p11"),
        ("framework_id", "f3"),
        ("parent_event_id", "pe5006"),
        ("trace_id", "tr75"),
    ];
    for (f, v) in values {
        queries.push(LedgerQuery { provenance: prov(f, v), order: Order::Desc, limit: Some(5), ..Default::default() });
        queries.push(LedgerQuery { provenance: prov(f, "absent"), ..Default::default() });
    }
    for q in &queries {
        let plan = s.explain_query(q).unwrap().join("\n");
        assert!(!plan.contains("Seq Scan"), "sequential scan for {q:?}:\n{plan}");
        assert!(plan.contains("Index"), "{plan}");
    }
    // An unindexed filter does scan (so the check above can fail).
    let q = LedgerQuery { provenance: prov("span_id", "x"), ..Default::default() };
    assert!(s.explain_query(&q).unwrap().join("\n").contains("Seq Scan"));
    // Answers are still right next to the million rows.
    let q = LedgerQuery { provenance: prov("session_id", "session_id-1"), ..Default::default() };
    assert_eq!(seqs(&s.query(&q).unwrap()), vec![1]);
}

#[test]
fn verification_streams_every_record_in_order() {
    let Some(fx) = PgSchema::new() else { return };
    let s = fx.open("HOT/test");
    for _ in 0..3 {
        s.append_batch((0..3000).map(full_entry).collect()).unwrap();
    }
    assert_eq!(s.len().unwrap(), 9000);
    let mut n = 0u64;
    s.scan_raw(&mut |r| {
        assert_eq!(r.position, n);
        n += 1;
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(n, 9000);
    let r = verify_store(&s).unwrap();
    assert!(r.ok && r.entries == 9000, "{}", r.summary());
}

fn random_entry_store(fx: &PgSchema) -> Arc<dyn LedgerStore> {
    Arc::new(fx.open("HOT/test"))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(6))]
    #[test]
    fn postgres_agrees_with_the_memory_reference(
        entries in proptest::collection::vec((0u8..4, 0u8..5, proptest::option::of(0u8..3)), 0..30),
        batch in 1usize..7,
        ets in proptest::collection::vec(0u8..5, 0..3),
        sess in proptest::option::of(0u8..6),
        tenant in proptest::option::of(0u8..4),
        after in proptest::option::of(0u64..35),
        desc in proptest::bool::ANY,
        limit in proptest::option::of(0usize..10),
    ) {
        let Some(fx) = PgSchema::new() else { return Ok(()) };
        let stores = [Arc::new(cp_kernel::MemoryStore::new("HOT/test")) as Arc<dyn LedgerStore>, random_entry_store(&fx)];
        for s in &stores {
            for chunk in entries.chunks(batch) {
                s.append_batch(chunk.iter().map(|&(e, s, t)| conf::random_entry(e, s, t)).collect()).unwrap();
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
        proptest::prop_assert_eq!(seqs(&stores[1].query(&q).unwrap()), seqs(&stores[0].query(&q).unwrap()));
        proptest::prop_assert_eq!(check_chain(&*stores[1]), entries.len() as u64);
    }
}

// ---- A plane on PostgreSQL ----

#[test]
fn planes_configured_for_postgres_share_one_ledger() {
    let Some(fx) = PgSchema::new() else { return };
    let a = fx.temp_plane();
    let b = fx.temp_plane();
    let (sa, sb) = (cp_kernel::LedgerSet::new(&a.plane), cp_kernel::LedgerSet::new(&b.plane));
    assert_eq!(sa.backend(), cp_kernel::LedgerBackend::Postgres);
    let ea = sa.open("HOT/governance").unwrap().append(NewEntry::new("FROM_A")).unwrap();
    let eb = sb.open("HOT/governance").unwrap().append(NewEntry::new("FROM_B")).unwrap();
    assert_eq!(eb.previous_hash, ea.entry_hash);
    assert!(sb.list().unwrap().iter().any(|n| n.to_string() == "HOT/governance"));
    assert!(matches!(sb.open_existing("HO2/never"), Err(LedgerError::NotFound(_))));
    for r in cp_kernel::verify_plane(&sa).unwrap() {
        assert!(r.ok, "{}", r.summary());
    }
    // No ledger file was written into either plane.
    let files = cp_kernel::testkit::dir_set(a.plane.root(), &[]);
    assert!(!files.iter().any(|f| f.contains("/ledger/")), "{files:?}");
}

#[test]
fn a_connection_string_file_inside_a_governed_root_is_refused() {
    let Some(fx) = PgSchema::new() else { return };
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("plane");
    std::fs::create_dir_all(root.join("HOT/config")).unwrap();
    let mut cfg = fx.plane_config(&root.join("HOT/config/ledger.url"));
    cfg.postgres.as_mut().unwrap().url_file = Some("HOT/config/ledger.url".into());
    let plane = cp_kernel::Plane::init(&root, cfg.clone()).unwrap();
    let e = cp_kernel::LedgerSet::new(&plane).open("HOT/governance").map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("governed root HOT/config"), "{e}");
    assert!(!e.contains(&fx.url), "{e}");
    cfg.postgres = None;
    let plane = cp_kernel::Plane::init(&d.path().join("other"), cfg).unwrap();
    let e = cp_kernel::LedgerSet::new(&plane).open("HOT/governance").map(|_| ()).unwrap_err().to_string();
    assert!(e.contains("no postgres section"), "{e}");
}
