//! Ledger storage benchmarks, each against a baseline measured in the same run:
//! * `durable_append_full`: one entry per transaction, `full` durability, through the
//!   [`LedgerStore`] trait vs raw rusqlite single-row inserts (same pragmas, same-sized row);
//! * `batched_append`: 1,000 entries per transaction (target ≥ 200,000 entries/s) vs raw
//!   rusqlite batched inserts of same-sized rows;
//! * `query_session`: query by `session_id` (10 entries per session) on a ledger of
//!   `LEDGER_BENCH_ENTRIES` entries (default 1,000,000); the p99 over 2,000 queries is printed
//!   (target ≤ 1 ms);
//! * `jsonl_append`: the JSONL backend, one entry per transaction (`full`) and batched.
//!
//! Run: `cargo bench -p cp-kernel --features bench --bench ledger_store -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::print_stdout, clippy::print_stderr, missing_docs)]

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rusqlite::Connection;

use cp_kernel::{
    Durability, JsonlStore, LedgerQuery, LedgerStore, Order, Provenance, SqliteStore, bench::ledger::ledger_entry,
};

fn sqlite(dir: &Path, d: Durability) -> SqliteStore {
    SqliteStore::open(&dir.join("l.db"), "HOT/bench", d, Duration::from_secs(5)).unwrap()
}

/// Bytes of one stored row of `entry`: body plus the other columns.
fn row_size() -> usize {
    let s = cp_kernel::MemoryStore::new("x");
    let e = s.append(ledger_entry(1, 1)).unwrap();
    let body = e.canonical_body().len();
    body + e.id.len() + e.timestamp.len() + e.previous_hash.len() + e.entry_hash.len() + 60
}

fn raw_conn(dir: &Path, sync: &str) -> Connection {
    let c = Connection::open(dir.join("raw.db")).unwrap();
    let _: String = c.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).unwrap();
    c.pragma_update(None, "synchronous", sync).unwrap();
    c.execute_batch("CREATE TABLE IF NOT EXISTS t (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)").unwrap();
    c
}

fn durable_append(c: &mut Criterion) {
    let mut g = c.benchmark_group("durable_append_full");
    g.throughput(Throughput::Elements(1));
    let d = tempfile::tempdir().unwrap();
    let s = sqlite(d.path(), Durability::Full);
    let mut i = 0;
    g.bench_function("store", |b| {
        b.iter(|| {
            i += 1;
            s.append(ledger_entry(i, 1000)).unwrap()
        })
    });
    let d2 = tempfile::tempdir().unwrap();
    let mut raw = raw_conn(d2.path(), "FULL");
    let row = vec![b'x'; row_size()];
    g.bench_function("raw_rusqlite", |b| {
        b.iter(|| {
            let tx = raw.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
            tx.execute("INSERT INTO t (body) VALUES (?1)", [&row]).unwrap();
            tx.commit().unwrap();
        })
    });
    g.finish();
}

fn batched_append(c: &mut Criterion) {
    const BATCH: u64 = 1000;
    let mut g = c.benchmark_group("batched_append");
    g.throughput(Throughput::Elements(BATCH));
    let d = tempfile::tempdir().unwrap();
    let s = sqlite(d.path(), Durability::Full);
    g.bench_function("store", |b| {
        b.iter_batched(
            || (0..BATCH).map(|i| ledger_entry(i, 1000)).collect::<Vec<_>>(),
            |v| s.append_batch(v).unwrap(),
            BatchSize::SmallInput,
        )
    });
    let d2 = tempfile::tempdir().unwrap();
    let mut raw = raw_conn(d2.path(), "FULL");
    let row = vec![b'x'; row_size()];
    g.bench_function("raw_rusqlite", |b| {
        b.iter(|| {
            let tx = raw.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
            {
                let mut st = tx.prepare_cached("INSERT INTO t (body) VALUES (?1)").unwrap();
                for _ in 0..BATCH {
                    st.execute([&row]).unwrap();
                }
            }
            tx.commit().unwrap();
        })
    });
    g.finish();
}

fn query_session(c: &mut Criterion) {
    let n: u64 = std::env::var("LEDGER_BENCH_ENTRIES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let sessions = (n / 10).max(1);
    let d = tempfile::tempdir().unwrap();
    let s = sqlite(d.path(), Durability::Normal);
    let t = Instant::now();
    let mut i = 0;
    while i < n {
        let k = 10_000.min(n - i);
        s.append_batch((i..i + k).map(|j| ledger_entry(j, sessions)).collect()).unwrap();
        i += k;
    }
    eprintln!("built a {n}-entry ledger in {:.1} s", t.elapsed().as_secs_f64());
    let q = |k: u64| LedgerQuery {
        provenance: Provenance { session_id: Some(format!("s-{}", k % sessions)), ..Provenance::default() },
        order: Order::Desc,
        ..LedgerQuery::default()
    };
    let mut lat: Vec<Duration> = (0..2000u64)
        .map(|k| {
            let q = q(k.wrapping_mul(7919));
            let t = Instant::now();
            let r = s.query(&q).unwrap();
            let e = t.elapsed();
            assert_eq!(r.len() as u64, n.min(10));
            e
        })
        .collect();
    lat.sort();
    eprintln!(
        "query by session_id on {n} entries: p50 {:?} p99 {:?} (2000 queries, 10 entries each)",
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100]
    );
    let mut g = c.benchmark_group("query_session");
    let mut k = 0u64;
    g.bench_function("store", |b| {
        b.iter(|| {
            k += 7919;
            s.query(&q(k)).unwrap()
        })
    });
    g.finish();
}

fn jsonl_append(c: &mut Criterion) {
    let mut g = c.benchmark_group("jsonl_append");
    let d = tempfile::tempdir().unwrap();
    let s = JsonlStore::open(&d.path().join("l.jsonl"), "HOT/bench", Durability::Full).unwrap();
    let mut i = 0;
    g.throughput(Throughput::Elements(1));
    g.bench_function("full_1_per_txn", |b| {
        b.iter(|| {
            i += 1;
            s.append(ledger_entry(i, 1000)).unwrap()
        })
    });
    g.throughput(Throughput::Elements(1000));
    g.bench_function("batch_1000", |b| {
        b.iter_batched(
            || (0..1000).map(|i| ledger_entry(i, 1000)).collect::<Vec<_>>(),
            |v| s.append_batch(v).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, durable_append, batched_append, query_session, jsonl_append);
criterion_main!(benches);
