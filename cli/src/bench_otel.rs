//! `cpctl bench otel`: projection rate against a raw ledger scan of the same ledger, push
//! throughput against a raw HTTP POST of the same bodies to the same loopback receiver, follow
//! latency (append → delivered), and the process's peak RSS. Ratios are measured in one run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Subcommand;
use serde::Serialize;
use serde_json::json;

use cp_kernel::{LedgerSet, ManualClock, NewEntry, Plane, PlaneConfig, Provenance, event};
use cp_otel::{
    Endpoint, Follower, OtelConfig, Projector, Pusher, Selection, Signal, batches, for_each_page, projection_options,
    traces_data,
};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Subcommand)]
pub(crate) enum BenchOtelCmd {
    /// Measure span projection against a raw ledger scan, OTLP push against a raw POST, follow
    /// latency and peak memory.
    #[command(after_help = "Example:\n  cpctl bench otel --entries 1000000 --json")]
    Otel {
        /// Ledger entries (PROMPT_SENT + PROMPT_RECEIVED pairs, three retrieval candidates each).
        #[arg(long, default_value_t = 100_000)]
        entries: u64,
        /// Appends timed for the follow latency.
        #[arg(long, default_value_t = 30)]
        follow_samples: u64,
        /// Scratch directory (default: under the system temp dir, removed after).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Serialize)]
struct Report {
    entries: u64,
    build_s: f64,
    scan_entries_per_s: f64,
    projection_entries_per_s: f64,
    projection_spans_per_s: f64,
    projection_ratio: f64,
    projection_target_ratio: f64,
    push_bytes: u64,
    push_bytes_per_s: f64,
    raw_post_bytes_per_s: f64,
    push_ratio: f64,
    follow_poll_ms: u64,
    follow_p50_ms: f64,
    follow_p99_ms: f64,
    follow_target_p99_ms: f64,
    max_rss_kib_after_build: u64,
    /// Peak after the scans and projections (before the push measurement holds its bodies).
    max_rss_kib_after_projection: u64,
    max_rss_kib_end: u64,
}

/// Peak resident set (VmHWM) of this process, KiB (0 where /proc is absent).
fn max_rss_kib() -> u64 {
    cp_kernel::fsx::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn prov() -> Provenance {
    Provenance {
        tenant_id: Some("bench".into()),
        session_id: Some("s".into()),
        agent_id: Some("a".into()),
        ..Provenance::default()
    }
}

fn pair(i: u64) -> Vec<NewEntry> {
    let cands: Vec<_> = (0..3)
        .map(|r| json!({"source": "search", "source_id": format!("HO2/docs/{i}-{r}.md"), "stage": "find", "relevance": 0.5,
                         "rank_before": r, "rank_after": if r == 2 { -1 } else { r }, "tokens": 40, "content_sha256": "ab".repeat(32)}))
        .collect();
    let sent = NewEntry::new(event::PROMPT_SENT)
        .submission(format!("R-{i}"))
        .provenance(prov())
        .meta("provider", "mock")
        .meta("model", "mock-1")
        .meta("max_tokens", 256)
        .meta("attention", json!({"budget_used": {"elapsed_ms": 3}, "stages": [{"stage": "find", "type": "horizontal_search", "status": "ok", "duration_ms": 3}]}))
        .meta("retrieval", serde_json::Value::Array(cands));
    vec![sent]
}

fn answer(i: u64, sent_id: &str) -> NewEntry {
    let mut p = prov();
    p.parent_event_id = Some(sent_id.to_string());
    NewEntry::new(event::PROMPT_RECEIVED)
        .submission(format!("R-{i}"))
        .provenance(p)
        .meta("provider", "mock")
        .meta("model", "mock-1")
        .meta("input_tokens", 100 + i % 50)
        .meta("output_tokens", 20)
        .meta("cost_micros", 30)
        .meta("currency", "USD")
        .meta("latency_ms", 80)
}

fn build(plane: &Plane, entries: u64) -> anyhow::Result<()> {
    let store = LedgerSet::new(plane).open("HO1/prompts")?;
    let pairs = entries / 2;
    let chunk = 500u64;
    let mut i = 0;
    while i < pairs {
        let n = chunk.min(pairs - i);
        let sent: Vec<NewEntry> = (i..i + n).flat_map(pair).collect();
        let stored = store.append_batch(sent)?;
        let answers: Vec<NewEntry> = stored.iter().zip(i..).map(|(e, k)| answer(k, &e.id)).collect();
        store.append_batch(answers)?;
        i += n;
    }
    Ok(())
}

/// A loopback receiver answering 200 to everything; returns its URL and the bytes it read.
fn receiver() -> anyhow::Result<(String, Arc<AtomicU64>)> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", l.local_addr()?);
    let bytes = Arc::new(AtomicU64::new(0));
    let b = bytes.clone();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let b = b.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(match s.try_clone() {
                    Ok(c) => c,
                    Err(_) => return,
                });
                let mut w = s;
                loop {
                    let mut len = 0usize;
                    let mut first = true;
                    loop {
                        let mut l = String::new();
                        if r.read_line(&mut l).unwrap_or(0) == 0 {
                            return;
                        }
                        if l.trim().is_empty() && !first {
                            break;
                        }
                        first = false;
                        if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).is_err() {
                        return;
                    }
                    b.fetch_add(len as u64, Ordering::Relaxed);
                    if w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok((url, bytes))
}

fn sel() -> Selection {
    Selection { tenant: "bench".into(), ..Selection::default() }
}

fn scan(plane: &Plane, page: usize) -> anyhow::Result<(u64, f64)> {
    let t = Instant::now();
    let mut n = 0u64;
    for_each_page(plane, &sel(), page, &mut |p| {
        n += p.len() as u64;
        Ok(())
    })?;
    Ok((n, t.elapsed().as_secs_f64()))
}

fn project_all(plane: &Plane, cfg: &OtelConfig) -> anyhow::Result<(u64, u64, f64)> {
    let t = Instant::now();
    let mut p = Projector::new(projection_options(cfg, "bench"));
    let mut n = 0u64;
    let mut spans = 0u64;
    for_each_page(plane, &sel(), cfg.read_page_entries, &mut |page| {
        n += page.len() as u64;
        for e in page {
            p.push(e);
        }
        for b in batches(p.take_ready(), cfg.push.max_spans_per_batch) {
            let t = traces_data("bench", b);
            spans += t.resource_spans[0].scope_spans[0].spans.len() as u64;
            std::hint::black_box(cp_otel::traces_json(&t));
        }
        Ok(())
    })?;
    Ok((n, spans, t.elapsed().as_secs_f64()))
}

/// Push bodies through the pusher, then POST the same bodies raw with ureq; bytes/s of each.
fn push_vs_raw(url: &str, cfg: &OtelConfig, plane: &Plane) -> anyhow::Result<(u64, f64, f64)> {
    let mut push_cfg = cfg.push.clone();
    push_cfg.gzip = false;
    let pusher = Pusher::new(Endpoint::from_values(Some(url), None, None)?, push_cfg, Arc::new(ManualClock::new(0)));
    let mut bodies = Vec::new();
    let mut p = Projector::new(projection_options(cfg, "bench"));
    let limit = 200_000u64;
    let mut read = 0u64;
    for_each_page(plane, &sel(), cfg.read_page_entries, &mut |page| {
        if read >= limit {
            return Ok(());
        }
        read += page.len() as u64;
        for e in page {
            p.push(e);
        }
        for b in batches(p.take_ready(), cfg.push.max_spans_per_batch) {
            bodies.push(pusher.traces_body(&traces_data("bench", b)));
        }
        Ok(())
    })?;
    let total: u64 = bodies.iter().map(|b| b.len() as u64).sum();
    let t = Instant::now();
    for b in &bodies {
        pusher.send(Signal::Traces, b).map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let push_s = t.elapsed().as_secs_f64();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let t = Instant::now();
    for b in &bodies {
        agent.post(format!("{url}/v1/traces")).header("Content-Type", "application/x-protobuf").send(&b[..])?;
    }
    let raw_s = t.elapsed().as_secs_f64();
    Ok((total, total as f64 / push_s, total as f64 / raw_s))
}

fn follow_latency(plane: &Plane, cfg: &OtelConfig, url: &str, samples: u64, dir: &Path) -> anyhow::Result<(f64, f64)> {
    let pusher =
        Pusher::new(Endpoint::from_values(Some(url), None, None)?, cfg.push.clone(), Arc::new(ManualClock::new(0)));
    let mut f = Follower::open(plane, sel(), cfg.clone(), &pusher, "bench", dir)?;
    f.poll()?; // catch up with the built ledger
    let store = LedgerSet::new(plane).open("HO1/prompts")?;
    let poll = cfg.follow.poll_ms;
    let mut lat = Vec::new();
    for i in 0..samples {
        // The append lands at a varying point of the poll interval.
        let offset = (i * 7919) % poll.max(1);
        std::thread::sleep(Duration::from_millis(offset));
        let t = Instant::now();
        let sent = store.append(pair(u64::MAX - i).remove(0))?;
        store.append(answer(i, &sent.id))?;
        let before = f.report().delivered.spans;
        std::thread::sleep(Duration::from_millis(poll - offset));
        loop {
            f.poll()?;
            if f.report().delivered.spans > before {
                break;
            }
            std::thread::sleep(Duration::from_millis(poll));
        }
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(f64::total_cmp);
    let pct = |q: f64| lat.get(((lat.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0);
    Ok((pct(0.5), pct(0.99)))
}

pub(crate) fn run(s: &Settings, c: BenchOtelCmd) -> CmdResult {
    let BenchOtelCmd::Otel { entries, follow_samples, dir } = c;
    let (root, cleanup) = match dir {
        Some(d) => (d, false),
        None => (std::env::temp_dir().join(format!("cp-bench-otel-{}", std::process::id())), true),
    };
    let result = bench(&root, entries, follow_samples);
    if cleanup {
        let _ = cp_kernel::fsx::remove_dir_all(&root);
    }
    let r = result?;
    render(s, &r, |r| {
        format!(
            "otel bench over {} entries (built in {:.1} s)\nraw scan {:.0} entries/s; projection {:.0} entries/s ({:.0} spans/s), ratio {:.2} (target >= {})\npush {:.1} MB/s vs raw POST {:.1} MB/s of the same {} bytes, ratio {:.2}\nfollow (poll {} ms): append -> delivered p50 {:.0} ms, p99 {:.0} ms (target <= {})\nmax RSS {} KiB after the build, {} KiB after projecting, {} KiB at the end",
            r.entries,
            r.build_s,
            r.scan_entries_per_s,
            r.projection_entries_per_s,
            r.projection_spans_per_s,
            r.projection_ratio,
            r.projection_target_ratio,
            r.push_bytes_per_s / 1e6,
            r.raw_post_bytes_per_s / 1e6,
            r.push_bytes,
            r.push_ratio,
            r.follow_poll_ms,
            r.follow_p50_ms,
            r.follow_p99_ms,
            r.follow_target_p99_ms,
            r.max_rss_kib_after_build,
            r.max_rss_kib_after_projection,
            r.max_rss_kib_end
        )
    })?;
    Ok(Outcome::Ok)
}

fn bench(root: &Path, entries: u64, samples: u64) -> anyhow::Result<Report> {
    cp_kernel::fsx::create_dir_all(root)?;
    let plane = Plane::init(&root.join("plane"), PlaneConfig::default())?;
    let cfg = OtelConfig::for_plane(&plane)?;
    let t = Instant::now();
    build(&plane, entries)?;
    let build_s = t.elapsed().as_secs_f64();
    let rss_build = max_rss_kib();
    // Interleaved, best of two per side.
    let (mut scan_best, mut proj_best) = (f64::MAX, f64::MAX);
    let (mut n, mut spans) = (0, 0);
    for _ in 0..2 {
        let (sn, st) = scan(&plane, cfg.read_page_entries)?;
        let (pn, ps, pt) = project_all(&plane, &cfg)?;
        n = sn.max(pn);
        spans = ps;
        scan_best = scan_best.min(st);
        proj_best = proj_best.min(pt);
    }
    let rss_projection = max_rss_kib();
    let (url, _) = receiver()?;
    let (push_bytes, push_bps, raw_bps) = push_vs_raw(&url, &cfg, &plane)?;
    let (p50, p99) = follow_latency(&plane, &cfg, &url, samples, &root.join("follow"))?;
    Ok(Report {
        entries: n,
        build_s,
        scan_entries_per_s: n as f64 / scan_best,
        projection_entries_per_s: n as f64 / proj_best,
        projection_spans_per_s: spans as f64 / proj_best,
        projection_ratio: scan_best / proj_best,
        projection_target_ratio: 0.5,
        push_bytes,
        push_bytes_per_s: push_bps,
        raw_post_bytes_per_s: raw_bps,
        push_ratio: push_bps / raw_bps,
        follow_poll_ms: cfg.follow.poll_ms,
        follow_p50_ms: p50,
        follow_p99_ms: p99,
        follow_target_p99_ms: 1000.0,
        max_rss_kib_after_build: rss_build,
        max_rss_kib_after_projection: rss_projection,
        max_rss_kib_end: max_rss_kib(),
    })
}
