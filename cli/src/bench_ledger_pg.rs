//! `cpctl bench ledger --backend postgres`: the PostgreSQL ledger backend against same-run
//! baselines on the same server — raw single-row `INSERT` commits, raw batched `INSERT` of the
//! same rows into a table with the same indexes, raw SHA-256 for verify — and query-by-session
//! latency. Works in a scratch schema (`cp_bench_…`), dropped at the end.

use std::time::{Duration, Instant};

use postgres::{Client, NoTls};
use serde::Serialize;

use cp_kernel::{
    Durability, LedgerEntry, LedgerQuery, LedgerStore, MemoryStore, NewEntry, Order, PgOptions, PgStore, PgTarget,
    Provenance, bench::ledger, bench::ledger::VerifyThroughput, bench::ledger::ledger_entry,
};

/// What the PostgreSQL run measured.
#[derive(Debug, Serialize)]
pub(crate) struct PgReport {
    backend: &'static str,
    entries: u64,
    appends: u64,
    batch: u64,
    durable_append_store_per_s: f64,
    durable_append_raw_insert_per_s: f64,
    durable_append_ratio: f64,
    batched_append_store_entries_per_s: f64,
    batched_append_raw_insert_entries_per_s: f64,
    batched_append_ratio: f64,
    append_target_ratio: f64,
    query_session_p50_us: f64,
    query_session_p99_us: f64,
    query_session_target_p99_us: f64,
    verify: VerifyThroughput,
}

/// The raw baseline's statement: the same 20 columns, one array per column.
const RAW_MANY: &str = "INSERT INTO raw_batch (ledger, seq, id, timestamp, schema_version, event_type, tenant_id, \
    agent_id, agent_class, framework_id, package_id, work_order_id, session_id, trace_id, span_id, parent_event_id, \
    tier, previous_hash, entry_hash, body) SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], \
    $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], \
    $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::bytea[])";

const RAW_ONE: &str = "INSERT INTO raw_single (ledger, seq, id, timestamp, schema_version, event_type, tenant_id, \
    agent_id, agent_class, framework_id, package_id, work_order_id, session_id, trace_id, span_id, parent_event_id, \
    tier, previous_hash, entry_hash, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
    $16, $17, $18, $19, $20)";

fn per_s(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// Sealed rows shaped like the store's (sealed in memory, untimed).
fn sealed_rows(from: u64, n: u64, sessions: u64) -> anyhow::Result<Vec<(LedgerEntry, Vec<u8>)>> {
    let m = MemoryStore::new("HOT/raw");
    let v: Vec<NewEntry> = (from..from + n).map(|j| ledger_entry(j, sessions)).collect();
    Ok(m.append_batch(v)?
        .into_iter()
        .map(|e| {
            let b = e.canonical_body();
            (e, b)
        })
        .collect())
}

fn raw_one(c: &mut Client, st: &postgres::Statement, seq: i64, e: &LedgerEntry, body: &[u8]) -> anyhow::Result<()> {
    c.execute(
        st,
        &[
            &"HOT/raw",
            &seq,
            &e.id,
            &e.timestamp,
            &e.schema_version,
            &e.event_type,
            &e.tenant_id,
            &e.agent_id,
            &e.agent_class,
            &e.framework_id,
            &e.package_id,
            &e.work_order_id,
            &e.session_id,
            &e.trace_id,
            &e.span_id,
            &e.parent_event_id,
            &e.tier,
            &e.previous_hash,
            &e.entry_hash,
            &body,
        ],
    )?;
    Ok(())
}

fn raw_many(c: &mut Client, st: &postgres::Statement, rows: &[(LedgerEntry, Vec<u8>)]) -> anyhow::Result<()> {
    let col = |f: fn(&LedgerEntry) -> Option<&str>| rows.iter().map(|(e, _)| f(e)).collect::<Vec<_>>();
    let seqs: Vec<i64> = rows.iter().map(|(e, _)| e.seq as i64).collect();
    let bodies: Vec<&[u8]> = rows.iter().map(|(_, b)| b.as_slice()).collect();
    let mut tx = c.transaction()?;
    tx.execute(
        st,
        &[
            &"HOT/raw",
            &seqs,
            &col(|e| Some(&e.id)),
            &col(|e| Some(&e.timestamp)),
            &col(|e| Some(&e.schema_version)),
            &col(|e| Some(&e.event_type)),
            &col(|e| e.tenant_id.as_deref()),
            &col(|e| e.agent_id.as_deref()),
            &col(|e| e.agent_class.as_deref()),
            &col(|e| e.framework_id.as_deref()),
            &col(|e| e.package_id.as_deref()),
            &col(|e| e.work_order_id.as_deref()),
            &col(|e| e.session_id.as_deref()),
            &col(|e| e.trace_id.as_deref()),
            &col(|e| e.span_id.as_deref()),
            &col(|e| e.parent_event_id.as_deref()),
            &col(|e| e.tier.as_deref()),
            &col(|e| Some(&e.previous_hash)),
            &col(|e| Some(&e.entry_hash)),
            &bodies,
        ],
    )?;
    tx.commit()?;
    Ok(())
}

/// Runs the measurements in a scratch schema of `url`'s database, then drops it.
pub(crate) fn measure(
    url: &str,
    entries: u64,
    appends: u64,
    batch: u64,
    queries: u64,
    rounds: u32,
) -> anyhow::Result<PgReport> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.subsec_nanos();
    let schema = format!("cp_bench_{}_{nanos}", std::process::id());
    let r = measure_in(url, &schema, entries, appends, batch, queries, rounds);
    let mut c = Client::connect(url, NoTls)?;
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))?;
    r
}

#[allow(clippy::too_many_arguments)]
fn measure_in(
    url: &str,
    schema: &str,
    entries: u64,
    appends: u64,
    batch: u64,
    queries: u64,
    rounds: u32,
) -> anyhow::Result<PgReport> {
    let sessions = (entries / 10).max(1);
    let target = PgTarget::new(url, schema)?;
    let opts = PgOptions { durability: Durability::Full, wait: Duration::from_secs(5), retries: 5 };
    let single = PgStore::open(&target, "HOT/single", opts)?;
    let mut raw = Client::connect(url, NoTls)?;
    raw.batch_execute(&format!(
        "SET search_path TO \"{schema}\"; SET synchronous_commit TO on; \
         CREATE TABLE raw_single (LIKE entries INCLUDING ALL); CREATE TABLE raw_batch (LIKE entries INCLUDING ALL);"
    ))?;
    let one = raw.prepare(RAW_ONE)?;
    let many = raw.prepare(RAW_MANY)?;

    // Durable single appends, interleaved so both see the same server conditions.
    let rows = sealed_rows(0, appends, 1000)?;
    let (mut t_store, mut t_raw) = (Duration::ZERO, Duration::ZERO);
    for (i, (e, body)) in rows.iter().enumerate() {
        let t = Instant::now();
        single.append(ledger_entry(i as u64, 1000))?;
        t_store += t.elapsed();
        let t = Instant::now();
        raw_one(&mut raw, &one, i as i64, e, body)?;
        t_raw += t.elapsed();
    }

    // Batched appends building the query ledger, and the same rows raw.
    let big = PgStore::open(&target, "HOT/big", opts)?;
    let (mut t_batched, mut t_raw_batched) = (Duration::ZERO, Duration::ZERO);
    let mut i = 0;
    while i < entries {
        let k = batch.max(1).min(entries - i);
        let v: Vec<NewEntry> = (i..i + k).map(|j| ledger_entry(j, sessions)).collect();
        let t = Instant::now();
        big.append_batch(v)?;
        t_batched += t.elapsed();
        let mut rows = sealed_rows(i, k, sessions)?;
        for (n, (e, _)) in rows.iter_mut().enumerate() {
            e.seq = i + n as u64;
        }
        let t = Instant::now();
        raw_many(&mut raw, &many, &rows)?;
        t_raw_batched += t.elapsed();
        i += k;
    }
    raw.batch_execute("ANALYZE entries")?;

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
    let verify = ledger::measure(&big, rounds)?;

    let (s1, r1) = (per_s(appends, t_store), per_s(appends, t_raw));
    let (sb, rb) = (per_s(entries, t_batched), per_s(entries, t_raw_batched));
    Ok(PgReport {
        backend: "postgres",
        entries,
        appends,
        batch,
        durable_append_store_per_s: s1,
        durable_append_raw_insert_per_s: r1,
        durable_append_ratio: s1 / r1,
        batched_append_store_entries_per_s: sb,
        batched_append_raw_insert_entries_per_s: rb,
        batched_append_ratio: sb / rb,
        append_target_ratio: 0.7,
        query_session_p50_us: pct(50),
        query_session_p99_us: pct(99),
        query_session_target_p99_us: 2000.0,
        verify,
    })
}

/// One paragraph of text for the report.
pub(crate) fn text(r: &PgReport) -> String {
    format!(
        "postgres durable append (1/txn): store {:.0}/s, raw INSERT {:.0}/s, ratio {:.2} (target >= {:.1})\n\
         postgres batched append ({} per txn): store {:.0} entries/s, raw INSERT {:.0}/s, ratio {:.2}\n\
         postgres query by session_id on {} entries: p50 {:.0} us, p99 {:.0} us (target <= {:.0} us)\n\
         postgres verify ({} entries): {:.0} MB/s vs raw SHA-256 {:.0} MB/s, ratio {:.2}",
        r.durable_append_store_per_s,
        r.durable_append_raw_insert_per_s,
        r.durable_append_ratio,
        r.append_target_ratio,
        r.batch,
        r.batched_append_store_entries_per_s,
        r.batched_append_raw_insert_entries_per_s,
        r.batched_append_ratio,
        r.entries,
        r.query_session_p50_us,
        r.query_session_p99_us,
        r.query_session_target_p99_us,
        r.verify.entries,
        r.verify.verify_mb_s,
        r.verify.sha256_mb_s,
        r.verify.ratio,
    )
}
