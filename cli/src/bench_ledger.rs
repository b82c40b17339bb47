//! `cpctl bench ledger`: quick ledger storage measurements against same-run baselines (the
//! criterion suite `kernel/benches/ledger_store.rs` measures the same things more carefully).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Subcommand;
use rusqlite::{Connection, TransactionBehavior};
use serde::Serialize;

use cp_kernel::{
    Durability, JsonlStore, LedgerQuery, LedgerStore, MemoryStore, NewEntry, Order, Provenance, SqliteStore,
    bench::ledger, bench::ledger::VerifyThroughput, bench::ledger::ledger_entry, fsx,
};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchLedgerCmd {
    /// Measure ledger appends and queries (SQLite and JSONL) against raw rusqlite, and
    /// `ledger verify` throughput against raw SHA-256 over the same stored bytes.
    #[command(after_help = "Example:\n  cpctl bench ledger --entries 1000000 --json")]
    Ledger {
        /// Entries in the ledger built for the batched-append and query measurements.
        #[arg(long, default_value_t = 100_000)]
        entries: u64,
        /// Single-entry durable appends timed per backend and for the raw baseline.
        #[arg(long, default_value_t = 200)]
        appends: u64,
        /// Entries per transaction in the batched measurement.
        #[arg(long, default_value_t = 1000)]
        batch: u64,
        /// Queries timed for the latency percentiles.
        #[arg(long, default_value_t = 2000)]
        queries: u64,
        /// Interleaved rounds of the verify-vs-raw-SHA-256 comparison (best round kept per side).
        #[arg(long, default_value_t = 5)]
        verify_rounds: u32,
        /// Scratch directory (default: a new directory under the system temp dir, removed after).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Backend measured: `sqlite` (with JSONL; default) or `postgres` (a scratch schema on
        /// the server in CP_LEDGER_URL, dropped after).
        #[arg(long, default_value = "sqlite", value_parser = ["sqlite", "postgres"])]
        backend: String,
    },
}

#[derive(Debug, Serialize)]
struct Report {
    entries: u64,
    appends: u64,
    batch: u64,
    durable_append_store_per_s: f64,
    durable_append_raw_rusqlite_per_s: f64,
    durable_append_ratio: f64,
    durable_append_target_ratio: f64,
    batched_append_store_entries_per_s: f64,
    batched_append_raw_rusqlite_entries_per_s: f64,
    batched_append_ratio: f64,
    batched_append_target_entries_per_s: f64,
    /// Sealing alone (ids, timestamps, canonical JSON, SHA-256) through the in-memory store.
    batched_append_memory_entries_per_s: f64,
    query_session_p50_us: f64,
    query_session_p99_us: f64,
    query_session_target_p99_us: f64,
    jsonl_durable_append_per_s: f64,
    jsonl_batched_append_entries_per_s: f64,
    /// `ledger verify` over the SQLite ledger built above vs raw SHA-256 of its stored bodies.
    verify_sqlite: VerifyThroughput,
    /// The same comparison over an in-memory ledger of prompt-shaped entries
    /// (`cp_kernel::bench::ledger::sample_store`, at most 20 000 entries): the verifier without a backend.
    verify_memory: VerifyThroughput,
    verify_target_ratio: f64,
}

fn row_size() -> anyhow::Result<usize> {
    let e = MemoryStore::new("x").append(ledger_entry(1, 1))?;
    Ok(e.canonical_body().len() + e.id.len() + e.timestamp.len() + e.previous_hash.len() + e.entry_hash.len() + 60)
}

fn raw_conn(path: &Path) -> anyhow::Result<Connection> {
    let c = Connection::open(path)?;
    let _: String = c.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    c.pragma_update(None, "synchronous", "FULL")?;
    c.execute_batch("CREATE TABLE IF NOT EXISTS t (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)")?;
    Ok(c)
}

fn per_s(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn batched(store: &dyn LedgerStore, n: u64, batch: u64, sessions: u64) -> anyhow::Result<Duration> {
    let mut i = 0;
    let mut spent = Duration::ZERO;
    while i < n {
        let k = batch.max(1).min(n - i);
        let v: Vec<NewEntry> = (i..i + k).map(|j| ledger_entry(j, sessions)).collect();
        let t = Instant::now();
        store.append_batch(v)?;
        spent += t.elapsed();
        i += k;
    }
    Ok(spent)
}

fn measure(dir: &Path, entries: u64, appends: u64, batch: u64, queries: u64, rounds: u32) -> anyhow::Result<Report> {
    let sessions = (entries / 10).max(1);
    let row = vec![b'x'; row_size()?];
    let timeout = Duration::from_secs(5);

    // Durable single appends, interleaved in rounds so both see the same disk conditions.
    let store = SqliteStore::open(&dir.join("single.db"), "HOT/bench", Durability::Full, timeout)?;
    let mut raw = raw_conn(&dir.join("raw-single.db"))?;
    let (mut t_store, mut t_raw) = (Duration::ZERO, Duration::ZERO);
    for i in 0..appends {
        let t = Instant::now();
        store.append(ledger_entry(i, 1000))?;
        t_store += t.elapsed();
        let t = Instant::now();
        let tx = raw.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("INSERT INTO t (body) VALUES (?1)", [&row])?;
        tx.commit()?;
        t_raw += t.elapsed();
    }

    // Batched appends building the query ledger.
    let big = SqliteStore::open(&dir.join("big.db"), "HOT/bench", Durability::Full, timeout)?;
    let t_batched = batched(&big, entries, batch, sessions)?;
    let mut raw_b = raw_conn(&dir.join("raw-batch.db"))?;
    let t = Instant::now();
    let mut i = 0;
    while i < entries {
        let k = batch.max(1).min(entries - i);
        let tx = raw_b.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut st = tx.prepare_cached("INSERT INTO t (body) VALUES (?1)")?;
            for _ in 0..k {
                st.execute([&row])?;
            }
        }
        tx.commit()?;
        i += k;
    }
    let t_raw_batched = t.elapsed();

    let t_memory = batched(&MemoryStore::new("HOT/bench"), entries, batch, sessions)?;

    // Query by session_id.
    let mut lat = Vec::with_capacity(queries as usize);
    for k in 0..queries.max(1) {
        let q = LedgerQuery {
            provenance: Provenance {
                session_id: Some(format!("s-{}", k.wrapping_mul(7919) % sessions)),
                ..Provenance::default()
            },
            order: Order::Desc,
            ..LedgerQuery::default()
        };
        let t = Instant::now();
        big.query(&q)?;
        lat.push(t.elapsed());
    }
    lat.sort();
    let pct = |p: usize| lat[(lat.len() * p / 100).min(lat.len() - 1)].as_secs_f64() * 1e6;

    // Verify vs raw SHA-256 over the same stored bytes.
    let verify_sqlite = ledger::measure(&big, rounds)?;
    let sample = ledger::sample_store(usize::try_from(entries.min(20_000))?)?;
    let verify_memory = ledger::measure(&sample, rounds)?;
    drop(sample);

    // JSONL.
    let j = JsonlStore::open(&dir.join("single.jsonl"), "HOT/bench", Durability::Full)?;
    let t = Instant::now();
    for i in 0..appends {
        j.append(ledger_entry(i, 1000))?;
    }
    let t_jsonl = t.elapsed();
    let jb = JsonlStore::open(&dir.join("big.jsonl"), "HOT/bench", Durability::Full)?;
    let t_jsonl_b = batched(&jb, entries, batch, sessions)?;

    let store_s = per_s(appends, t_store);
    let raw_s = per_s(appends, t_raw);
    let b_s = per_s(entries, t_batched);
    let rb_s = per_s(entries, t_raw_batched);
    Ok(Report {
        entries,
        appends,
        batch,
        durable_append_store_per_s: store_s,
        durable_append_raw_rusqlite_per_s: raw_s,
        durable_append_ratio: store_s / raw_s,
        durable_append_target_ratio: 0.8,
        batched_append_store_entries_per_s: b_s,
        batched_append_raw_rusqlite_entries_per_s: rb_s,
        batched_append_ratio: b_s / rb_s,
        batched_append_target_entries_per_s: 200_000.0,
        batched_append_memory_entries_per_s: per_s(entries, t_memory),
        query_session_p50_us: pct(50),
        query_session_p99_us: pct(99),
        query_session_target_p99_us: 1000.0,
        jsonl_durable_append_per_s: per_s(appends, t_jsonl),
        jsonl_batched_append_entries_per_s: per_s(entries, t_jsonl_b),
        verify_sqlite,
        verify_memory,
        verify_target_ratio: 0.5,
    })
}

pub(crate) fn run(s: &Settings, c: BenchLedgerCmd) -> CmdResult {
    let BenchLedgerCmd::Ledger { entries, appends, batch, queries, verify_rounds, dir, backend } = c;
    if backend == "postgres" {
        let url = match std::env::var(cp_kernel::LEDGER_URL_ENV) {
            Ok(u) if !u.trim().is_empty() => u,
            _ => {
                anyhow::bail!("--backend postgres measures the server in {}, which is unset", cp_kernel::LEDGER_URL_ENV)
            }
        };
        let r = crate::bench_ledger_pg::measure(&url, entries, appends, batch, queries, verify_rounds)?;
        render(s, &r, crate::bench_ledger_pg::text)?;
        return Ok(Outcome::Ok);
    }
    let (dir, temp) = match dir {
        Some(d) => (d, false),
        None => {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.subsec_nanos();
            (std::env::temp_dir().join(format!("cpctl-bench-ledger-{}-{nanos}", std::process::id())), true)
        }
    };
    fsx::create_dir_all(&dir)?;
    let r = measure(&dir, entries, appends, batch, queries, verify_rounds);
    if temp {
        let _ = fsx::remove_dir_all(&dir);
    }
    let r = r?;
    render(s, &r, |r| {
        format!(
            "durable append (full, 1/txn): store {:.0}/s, raw rusqlite {:.0}/s, ratio {:.2} (target >= {:.1})\n\
             batched append ({} per txn): store {:.0} entries/s (target >= {:.0}), raw rusqlite {:.0}/s, ratio {:.2}, sealing alone {:.0}/s\n\
             query by session_id on {} entries: p50 {:.0} us, p99 {:.0} us (target <= {:.0} us)\n\
             jsonl: durable append {:.0}/s, batched {:.0} entries/s\n\
             verify (sqlite, {} entries): {:.0} MB/s vs raw SHA-256 {:.0} MB/s, ratio {:.2} (target >= {:.1})\n\
             verify (memory, {} entries): {:.0} MB/s vs raw SHA-256 {:.0} MB/s, ratio {:.2}",
            r.durable_append_store_per_s,
            r.durable_append_raw_rusqlite_per_s,
            r.durable_append_ratio,
            r.durable_append_target_ratio,
            r.batch,
            r.batched_append_store_entries_per_s,
            r.batched_append_target_entries_per_s,
            r.batched_append_raw_rusqlite_entries_per_s,
            r.batched_append_ratio,
            r.batched_append_memory_entries_per_s,
            r.entries,
            r.query_session_p50_us,
            r.query_session_p99_us,
            r.query_session_target_p99_us,
            r.jsonl_durable_append_per_s,
            r.jsonl_batched_append_entries_per_s,
            r.verify_sqlite.entries,
            r.verify_sqlite.verify_mb_s,
            r.verify_sqlite.sha256_mb_s,
            r.verify_sqlite.ratio,
            r.verify_target_ratio,
            r.verify_memory.entries,
            r.verify_memory.verify_mb_s,
            r.verify_memory.sha256_mb_s,
            r.verify_memory.ratio,
        )
    })?;
    Ok(Outcome::Ok)
}
