//! `cpctl ops adjust|rebuild|generate`: compensating cost entries, the aggregates rebuilt from
//! the stores, and the synthetic load of the operations service.

use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::{Value, json};

use cp_kernel::SystemClock;
use cp_ops::{Filter, Ops, OpsConfig, Overview};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Subcommand)]
pub(crate) enum OpsCmd {
    /// Append a compensating cost entry (COST_ADJUSTED) for a stored event; never an edit.
    #[command(
        after_help = "Example:\n  cpctl ops adjust --tenant acme --event-id ev-17 --amount-usd -0.25 --reason \"refund\""
    )]
    Adjust(AdjustArgs),
    /// Rebuild the metrics aggregates from the event store, the cost facts and the prompt
    /// entries, and print each tenant's overview (the numbers the service shows).
    #[command(after_help = "Example:\n  cpctl ops rebuild --tenant acme --json")]
    Rebuild(RebuildArgs),
    /// Send synthetic agent events to a running service.
    #[command(
        after_help = "Example:\n  cpctl ops generate --events 1000 --failure-rate 0.05 --url http://127.0.0.1:8787"
    )]
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct AdjustArgs {
    /// Tenant of the event.
    #[arg(long)]
    tenant: String,
    /// The event's id.
    #[arg(long)]
    event_id: String,
    /// Signed amount in USD (negative = refund).
    #[arg(long, allow_hyphen_values = true)]
    amount_usd: f64,
    /// Why.
    #[arg(long)]
    reason: String,
}

#[derive(Debug, Args)]
pub(crate) struct RebuildArgs {
    /// Only this tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// Window of the overview (hours; else views.window_hours).
    #[arg(long)]
    window_hours: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// Number of events.
    #[arg(long, default_value_t = 1000)]
    events: u64,
    /// Fraction of runs that fail (0..=1).
    #[arg(long, default_value_t = 0.05)]
    failure_rate: f64,
    /// Base URL of the service.
    #[arg(long, default_value = "http://127.0.0.1:8787")]
    url: String,
    /// Bearer token (else $CP_OPS_TOKEN; none with `serve --dev`).
    #[arg(long, env = "CP_OPS_TOKEN")]
    token: Option<String>,
    /// Tenant named in the events (must be the token's).
    #[arg(long)]
    tenant: Option<String>,
    /// Events per request.
    #[arg(long, default_value_t = 100)]
    batch: u64,
    /// Seed of the generator (same seed, same events).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

pub(crate) fn run(s: &Settings, c: OpsCmd) -> CmdResult {
    match c {
        OpsCmd::Adjust(a) => adjust(s, a),
        OpsCmd::Rebuild(a) => rebuild(s, a),
        OpsCmd::Generate(a) => generate(s, a),
    }
}

fn adjust(s: &Settings, a: AdjustArgs) -> CmdResult {
    let plane = s.plane()?;
    let ops = Ops::open(plane, OpsConfig::for_plane(&s.plane()?)?, Arc::new(SystemClock::new()))?;
    let r = ops.adjust(&a.tenant, &a.event_id, a.amount_usd, &a.reason, &crate::serve::operator())?;
    render(s, &r, |r| format!("COST_ADJUSTED {} for event {}: {:+} USD", r.entry_id, r.event_id, r.amount_usd))?;
    Ok(Outcome::Ok)
}

#[derive(Serialize)]
struct Rebuilt {
    tenant: String,
    events: u64,
    overview: Overview,
}

fn rebuild(s: &Settings, a: RebuildArgs) -> CmdResult {
    let plane = s.plane()?;
    let cfg = OpsConfig::for_plane(&plane)?;
    let w = a.window_hours.unwrap_or(cfg.views.window_hours);
    let ops = Ops::open(plane, cfg, Arc::new(SystemClock::new()))?;
    let counts = ops.counts();
    let tenants: Vec<String> = match a.tenant {
        Some(t) => vec![t],
        None => counts.keys().cloned().collect(),
    };
    let mut out = Vec::new();
    for t in tenants {
        let overview = ops.overview(&t, w, &Filter::default())?;
        out.push(Rebuilt { events: counts.get(&t).copied().unwrap_or(0), tenant: t, overview });
    }
    render(s, &out, |v| {
        v.iter()
            .map(|r| {
                format!(
                    "{}: {} event(s); last {} h: {} run(s), {} ok, {} failed, {} running, spend {} USD",
                    r.tenant,
                    r.events,
                    r.overview.window_hours,
                    r.overview.runs,
                    r.overview.successes,
                    r.overview.failures,
                    r.overview.running,
                    r.overview.spend_usd
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    Ok(Outcome::Ok)
}

/// A small deterministic generator (splitmix64), so that a seed reproduces a load.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The synthetic events: one terminal event per run, spread over the last hour.
pub(crate) fn synthetic(n: u64, failure_rate: f64, seed: u64, tenant: Option<&str>, now_ms: i64) -> Vec<Value> {
    let mut r = Rng(seed);
    (0..n)
        .map(|i| {
            let fail = r.unit() < failure_rate;
            let ts = jiff::Timestamp::from_millisecond(now_ms - (r.next() % 3_600_000) as i64).unwrap_or_default();
            let mut e = json!({
                "id": format!("gen-{seed}-{i}"),
                "timestamp": format!("{ts:.3}"),
                "agent_id": format!("agent-{}", r.next() % 5),
                "workflow_id": format!("workflow-{}", r.next() % 3),
                "run_id": format!("run-{seed}-{i}"),
                "status": if fail { "failure" } else { "success" },
                "latency_ms": 50 + r.next() % 2000,
                "cost_usd": (r.next() % 5000) as f64 / 100_000.0,
                "trace_id": format!("{:032x}", r.next() as u128 * 31 + i as u128),
            });
            if fail {
                e["error_type"] = json!(["timeout", "rate_limited", "tool_error"][(r.next() % 3) as usize]);
            }
            if let Some(t) = tenant {
                e["tenant_id"] = json!(t);
            }
            e
        })
        .collect()
}

#[derive(Serialize)]
struct Generated {
    sent: u64,
    accepted: u64,
    duplicates: u64,
    failures: u64,
    spend_usd: f64,
    requests: u64,
}

fn generate(s: &Settings, a: GenerateArgs) -> CmdResult {
    if !(0.0..=1.0).contains(&a.failure_rate) {
        anyhow::bail!("--failure-rate {}: expected a number from 0 to 1", a.failure_rate);
    }
    let now = jiff::Timestamp::now().as_millisecond();
    let events = synthetic(a.events, a.failure_rate, a.seed, a.tenant.as_deref(), now);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let url = format!("{}/v1/events", a.url.trim_end_matches('/'));
    let mut g = Generated { sent: 0, accepted: 0, duplicates: 0, failures: 0, spend_usd: 0.0, requests: 0 };
    for chunk in events.chunks(a.batch.max(1) as usize) {
        let body = chunk.iter().map(Value::to_string).collect::<Vec<_>>().join("\n");
        let mut req = agent.post(&url).header("Content-Type", "application/x-ndjson");
        if let Some(t) = &a.token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let mut resp = req.send(body.as_str()).with_context(|| format!("POST {url}"))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        if !(200..300).contains(&status) {
            anyhow::bail!("POST {url}: HTTP {status}: {text}");
        }
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        g.accepted += v["accepted"].as_u64().unwrap_or(0);
        g.duplicates += v["duplicates"].as_u64().unwrap_or(0);
        g.requests += 1;
        g.sent += chunk.len() as u64;
        g.failures += chunk.iter().filter(|e| e["status"] == "failure").count() as u64;
        g.spend_usd += chunk.iter().filter_map(|e| e["cost_usd"].as_f64()).sum::<f64>();
    }
    g.spend_usd = cp_ops::round_usd(g.spend_usd);
    render(s, &g, |g| {
        format!(
            "sent {} event(s) in {} request(s): {} accepted, {} duplicate(s); {} failure(s), {} USD",
            g.sent, g.requests, g.accepted, g.duplicates, g.failures, g.spend_usd
        )
    })?;
    Ok(Outcome::Ok)
}
