//! `cpctl bench ops`: sustained ingest of the operations service (a `cpctl serve` child, 8
//! concurrent HTTP clients posting NDJSON batches) against a same-run baseline — raw batched
//! SQLite inserts of the same rows — and the overview latency over a large event store.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Subcommand;
use serde::Serialize;
use serde_json::Value;

use cp_kernel::{Plane, PlaneConfig, SystemClock};
use cp_ops::{Event, Filter, Ops, OpsConfig};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchOpsCmd {
    /// Ingest events/s over HTTP vs raw batched SQLite inserts (ratio), and overview p50/p99.
    #[command(
        after_help = "Example:\n  cpctl bench ops --json\n  cpctl bench ops --events 40000 --overview-events 1000000"
    )]
    Ops {
        /// Events ingested over HTTP (and inserted by the baseline).
        #[arg(long, default_value_t = 20_000)]
        events: u64,
        /// Concurrent HTTP clients.
        #[arg(long, default_value_t = 8)]
        clients: u64,
        /// Events per request (and per baseline transaction).
        #[arg(long, default_value_t = 100)]
        batch: u64,
        /// Events stored before measuring the overview.
        #[arg(long, default_value_t = 1_000_000)]
        overview_events: u64,
        /// Measured overview queries.
        #[arg(long, default_value_t = 200)]
        queries: usize,
    },
}

#[derive(Debug, Serialize)]
struct Report {
    events: u64,
    clients: u64,
    batch: u64,
    ingest_events_per_s: f64,
    baseline_sqlite_events_per_s: f64,
    ingest_ratio: f64,
    ingest_ratio_target: f64,
    overview_events: u64,
    overview_load_s: f64,
    overview_p50_ms: f64,
    overview_p99_ms: f64,
    overview_p99_target_ms: f64,
    /// The same overview filtered by one workflow and one agent, alternately.
    overview_filtered_p50_ms: f64,
    overview_filtered_p99_ms: f64,
    /// The dashboard's 24-hour time series, unfiltered.
    timeseries_p50_ms: f64,
    timeseries_p99_ms: f64,
    durability: String,
}

fn router_configs(plane: &Plane) -> anyhow::Result<()> {
    let dir = plane.root().join("HOT/config");
    cp_kernel::fsx::create_dir_all(&dir)?;
    for (name, text) in [
        ("router_config.yaml", cp_kernel::SHIPPED_ROUTER_CONFIG),
        ("budget_config.yaml", cp_kernel::SHIPPED_BUDGET_CONFIG),
        ("price_book.yaml", cp_kernel::SHIPPED_PRICE_BOOK),
    ] {
        cp_kernel::fsx::write(dir.join(name), text.as_bytes())?;
    }
    Ok(())
}

fn fresh_plane(root: &Path) -> anyhow::Result<Plane> {
    let plane = Plane::init(root, PlaneConfig::default())?;
    router_configs(&plane)?;
    Ok(plane)
}

pub(crate) fn run(s: &Settings, c: BenchOpsCmd) -> CmdResult {
    let BenchOpsCmd::Ops { events, clients, batch, overview_events, queries } = c;
    let tmp = std::env::temp_dir().join(format!("cp-bench-ops-{}", std::process::id()));
    let result = bench(&tmp, events, clients.max(1), batch.max(1), overview_events, queries.max(1));
    let _ = cp_kernel::fsx::remove_dir_all(&tmp);
    let r = result?;
    render(s, &r, |r| {
        format!(
            "ingest: {:.0} events/s over HTTP ({} clients, {} per request) vs {:.0} events/s raw batched SQLite = {:.2}x (target >= {})\n\
             overview over {} events (loaded in {:.1} s): p50 {:.2} ms, p99 {:.2} ms (target <= {} ms); filtered p50 {:.2} ms, p99 {:.2} ms; \
             time series p50 {:.2} ms, p99 {:.2} ms; ledger durability {}",
            r.ingest_events_per_s,
            r.clients,
            r.batch,
            r.baseline_sqlite_events_per_s,
            r.ingest_ratio,
            r.ingest_ratio_target,
            r.overview_events,
            r.overview_load_s,
            r.overview_p50_ms,
            r.overview_p99_ms,
            r.overview_p99_target_ms,
            r.overview_filtered_p50_ms,
            r.overview_filtered_p99_ms,
            r.timeseries_p50_ms,
            r.timeseries_p99_ms,
            r.durability
        )
    })?;
    Ok(Outcome::Ok)
}

fn bench(
    tmp: &Path,
    events: u64,
    clients: u64,
    batch: u64,
    overview_events: u64,
    queries: usize,
) -> anyhow::Result<Report> {
    let plane = fresh_plane(&tmp.join("ingest"))?;
    let durability = format!("{:?}", cp_kernel::LedgerSet::new(&plane).durability()).to_lowercase();
    let now = jiff::Timestamp::now().as_millisecond();
    let all = crate::ops::synthetic(events, 0.05, 7, Some("bench"), now);
    let ingest = http_ingest(plane.root(), &all, clients, batch)?;
    let sync = if durability == "full" { "FULL" } else { "NORMAL" };
    let baseline = sqlite_baseline(&tmp.join("baseline.db"), &all, batch, sync)?;
    let q = overview(&tmp.join("overview"), overview_events, queries, now)?;
    Ok(Report {
        events,
        clients,
        batch,
        ingest_events_per_s: ingest,
        baseline_sqlite_events_per_s: baseline,
        ingest_ratio: ingest / baseline,
        ingest_ratio_target: 0.3,
        overview_events,
        overview_load_s: q.load_s,
        overview_p50_ms: q.overview.0,
        overview_p99_ms: q.overview.1,
        overview_p99_target_ms: 50.0,
        overview_filtered_p50_ms: q.filtered.0,
        overview_filtered_p99_ms: q.filtered.1,
        timeseries_p50_ms: q.timeseries.0,
        timeseries_p99_ms: q.timeseries.1,
        durability,
    })
}

/// Events/s of `clients` threads posting NDJSON batches to a `cpctl serve --dev` child.
fn http_ingest(root: &Path, all: &[Value], clients: u64, batch: u64) -> anyhow::Result<f64> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg("--root")
        .arg(root)
        .args(["serve", "--dev", "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("no stdout")?).read_line(&mut line)?;
    let url = line.trim().strip_prefix("listening on ").context("the server did not start")?.to_string();
    let bodies: Vec<String> =
        all.chunks(batch as usize).map(|c| c.iter().map(Value::to_string).collect::<Vec<_>>().join("\n")).collect();
    let bodies = Arc::new(bodies);
    let t0 = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (bodies, url) = (bodies.clone(), format!("{url}/v1/events"));
            std::thread::spawn(move || -> anyhow::Result<()> {
                let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(true).build().into();
                for body in bodies.iter().skip(c as usize).step_by(clients as usize) {
                    agent.post(&url).header("Content-Type", "application/x-ndjson").send(body.as_str())?;
                }
                Ok(())
            })
        })
        .collect();
    let mut failed = None;
    for h in handles {
        if let Err(e) = h.join().map_err(|_| anyhow::anyhow!("client panicked")).and_then(|r| r) {
            failed = Some(e);
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    if let Some(e) = failed {
        return Err(e);
    }
    Ok(all.len() as f64 / secs)
}

/// Events/s of raw batched inserts of the same rows into one SQLite table (WAL, the ledger's
/// `synchronous` level, the same transaction size), the floor any store with a hash chain and
/// validation is compared to.
fn sqlite_baseline(db: &Path, all: &[Value], batch: u64, sync: &str) -> anyhow::Result<f64> {
    if let Some(d) = db.parent() {
        cp_kernel::fsx::create_dir_all(d)?;
    }
    let mut conn = rusqlite::Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", sync)?;
    conn.execute_batch(
        "CREATE TABLE agent_events (id TEXT PRIMARY KEY, timestamp TEXT, agent_id TEXT, workflow_id TEXT, status TEXT, latency_ms INTEGER, cost_usd REAL, body TEXT)",
    )?;
    let t0 = Instant::now();
    for chunk in all.chunks(batch as usize) {
        let tx = conn.transaction()?;
        {
            let mut st = tx.prepare_cached("INSERT INTO agent_events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")?;
            for e in chunk {
                st.execute(rusqlite::params![
                    e["id"].as_str(),
                    e["timestamp"].as_str(),
                    e["agent_id"].as_str(),
                    e["workflow_id"].as_str(),
                    e["status"].as_str(),
                    e["latency_ms"].as_i64(),
                    e["cost_usd"].as_f64(),
                    e.to_string()
                ])?;
            }
        }
        tx.commit()?;
    }
    Ok(all.len() as f64 / t0.elapsed().as_secs_f64())
}

/// Query latencies over the stored events: (p50 ms, p99 ms) of each kind.
struct Queries {
    load_s: f64,
    overview: (f64, f64),
    filtered: (f64, f64),
    timeseries: (f64, f64),
}

/// Stores `n` events through the service core (batches of 1,000), then times `queries` of
/// each kind: unfiltered overviews, filtered ones, and 24-hour time series.
fn overview(root: &Path, n: u64, queries: usize, now: i64) -> anyhow::Result<Queries> {
    let plane = fresh_plane(root)?;
    let cfg = OpsConfig::for_plane(&plane)?;
    let limits = cfg.limits.clone();
    let ops = Ops::open(plane, cfg, Arc::new(SystemClock::new()))?;
    let t0 = Instant::now();
    let mut done = 0;
    while done < n {
        let k = (n - done).min(1_000);
        let evs: Vec<Event> = crate::ops::synthetic(k, 0.05, done + 1_000_000, None, now)
            .into_iter()
            .map(|v| cp_ops::validate("", v, &limits).map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message)))
            .collect::<Result<_, _>>()?;
        ops.ingest("bench", evs)?;
        done += k;
    }
    let load_s = t0.elapsed().as_secs_f64();
    let wf = Filter { workflow_id: Some("workflow-1".into()), agent_id: None };
    let agent = Filter { workflow_id: None, agent_id: Some("agent-2".into()) };
    let overview = percentiles(queries, |_| ops.overview("bench", 24, &Filter::default()).map(|o| o.runs))?;
    let filtered =
        percentiles(queries, |i| ops.overview("bench", 24, if i % 2 == 0 { &wf } else { &agent }).map(|o| o.runs))?;
    let timeseries = percentiles(queries, |_| ops.timeseries("bench", 24, &Filter::default()).map(|t| t.len() as u64))?;
    Ok(Queries { load_s, overview, filtered, timeseries })
}

/// (p50, p99) in ms of `n` calls of `q`.
fn percentiles<E: std::fmt::Display>(n: usize, q: impl Fn(usize) -> Result<u64, E>) -> anyhow::Result<(f64, f64)> {
    let mut ms = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        std::hint::black_box(q(i).map_err(|e| anyhow::anyhow!("{e}"))?);
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| ms[((ms.len() as f64 * p).ceil() as usize).clamp(1, ms.len()) - 1];
    Ok((pct(0.50), pct(0.99)))
}
