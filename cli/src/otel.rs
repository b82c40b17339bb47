//! `cpctl otel export|push`: the plane's ledgers as OpenTelemetry spans and GenAI metrics.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

use cp_kernel::Clock;
use cp_otel::{Endpoint, Follower, OtelConfig, Pusher, Selection, env_vars, export_json_lines, push_selection};

use crate::common::{CmdResult, Outcome, Settings, render};
use crate::read_access::ReadAccessArgs;

/// What to select: one tenant (the token's, or the one named in operator mode), and a session
/// or a time window.
#[derive(Debug, Args)]
pub(crate) struct SelectArgs {
    /// Tenant whose entries are exported (default: the token's; required with --operator); no
    /// other tenant's entry is ever included.
    #[arg(long)]
    pub(crate) tenant: Option<String>,
    #[command(flatten)]
    pub(crate) access: ReadAccessArgs,
    /// Only this session.
    #[arg(long, conflicts_with_all = ["since", "until"])]
    pub(crate) session: Option<String>,
    /// Only entries at or after this RFC 3339 time.
    #[arg(long)]
    pub(crate) since: Option<String>,
    /// Only entries before this RFC 3339 time.
    #[arg(long)]
    pub(crate) until: Option<String>,
}

impl SelectArgs {
    /// The selection, its tenant granted to the caller on `surface` (a denial is logged, exit 2).
    pub(crate) fn selection(&self, plane: &cp_kernel::Plane, surface: &str) -> anyhow::Result<Selection> {
        let g = self.access.grant(plane, self.tenant.as_deref(), surface)?;
        Ok(Selection {
            tenant: g.tenant,
            session: self.session.clone(),
            since: self.since.clone(),
            until: self.until.clone(),
        })
    }
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    select: SelectArgs,
    /// Write OTLP/JSON lines here (the collector file-exporter format).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub(crate) enum OtelCmd {
    /// Write spans and metrics as OTLP/JSON lines (collector file-exporter format).
    Export(ExportArgs),
    /// Send spans and metrics to an OTLP/HTTP receiver (protobuf by default; honours
    /// OTEL_EXPORTER_OTLP_ENDPOINT, _PROTOCOL, _HEADERS and OTEL_SERVICE_NAME).
    Push(PushArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    #[command(flatten)]
    select: SelectArgs,
    /// Receiver base URL (else $OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318).
    #[arg(long, env = env_vars::OTEL_EXPORTER_OTLP_ENDPOINT)]
    endpoint: Option<String>,
    /// `http/protobuf` or `http/json` (else $OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf).
    #[arg(long, env = env_vars::OTEL_EXPORTER_OTLP_PROTOCOL)]
    protocol: Option<String>,
    /// Keep tailing the ledgers and push entries as they are appended (needs --state).
    #[arg(long, requires = "state", conflicts_with_all = ["since", "until"])]
    follow: bool,
    /// Directory of the follow cursor and spool (resumed on restart).
    #[arg(long, requires = "follow")]
    state: Option<PathBuf>,
    /// Stop after this many polls (0 = run until interrupted).
    #[arg(long, default_value_t = 0, requires = "follow")]
    polls: u64,
}

pub(crate) fn run(s: &Settings, c: OtelCmd) -> CmdResult {
    match c {
        OtelCmd::Export(a) => export(s, a),
        OtelCmd::Push(a) => push(s, a),
    }
}

/// `service.name`: `$OTEL_SERVICE_NAME`, else the config's.
pub(crate) fn service_name(cfg: &OtelConfig) -> String {
    std::env::var(env_vars::OTEL_SERVICE_NAME)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| cfg.service_name.clone())
}

fn export(s: &Settings, a: ExportArgs) -> CmdResult {
    let plane = s.plane()?;
    let cfg = OtelConfig::for_plane(&plane)?;
    let sel = a.select.selection(&plane, "otel.export")?;
    sel.query()?;
    let file = cp_kernel::fsx::create(&a.out)?;
    let mut w = BufWriter::new(file);
    let sum = export_json_lines(&plane, &sel, &cfg, &service_name(&cfg), &mut w, &a.out)?;
    w.flush().with_context(|| format!("writing {}", a.out.display()))?;
    render(s, &sum, |m| {
        format!(
            "wrote {} span(s) of {} prompt(s) ({} in flight, {} refusal(s)) from {} entries to {} ({} trace line(s), {} metrics line(s)); not spans: {}",
            m.stats.spans,
            m.stats.prompts,
            m.stats.in_flight,
            m.stats.refusals,
            m.stats.entries,
            a.out.display(),
            m.trace_lines,
            m.metric_lines,
            if m.stats.not_projected.is_empty() {
                "none".to_string()
            } else {
                m.stats.not_projected.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
            }
        )
    })?;
    Ok(Outcome::Ok)
}

fn push(s: &Settings, a: PushArgs) -> CmdResult {
    let plane = s.plane()?;
    let cfg = OtelConfig::for_plane(&plane)?;
    let sel = a.select.selection(&plane, "otel.push")?;
    sel.query()?;
    let headers = std::env::var(env_vars::OTEL_EXPORTER_OTLP_HEADERS).ok();
    let ep = Endpoint::from_values(a.endpoint.as_deref(), a.protocol.as_deref(), headers.as_deref())?;
    let base = ep.base.clone();
    let clock = std::sync::Arc::new(cp_kernel::SystemClock::new());
    let pusher = Pusher::new(ep, cfg.push.clone(), clock.clone());
    if a.follow {
        return follow(s, &plane, sel, cfg, &pusher, &a, &base, clock.as_ref());
    }
    let r = push_selection(&plane, &sel, &cfg, &service_name(&cfg), &pusher)?;
    render(s, &r, |r| {
        let mut t = format!(
            "pushed {} span(s) in {} request(s) and {} metrics request(s) to {base} ({} bytes, {} retr(y/ies))",
            r.spans, r.trace_requests, r.metric_requests, r.bytes, r.retries
        );
        if r.rejected_spans > 0 || r.rejected_points > 0 {
            t.push_str(&format!(
                "; the receiver rejected {} span(s) and {} data point(s): {}",
                r.rejected_spans,
                r.rejected_points,
                r.messages.join("; ")
            ));
        }
        t
    })?;
    Ok(Outcome::Ok)
}

#[allow(clippy::too_many_arguments)]
fn follow(
    s: &Settings,
    plane: &cp_kernel::Plane,
    sel: Selection,
    cfg: OtelConfig,
    pusher: &Pusher,
    a: &PushArgs,
    base: &str,
    clock: &dyn Clock,
) -> CmdResult {
    let state = a.state.clone().unwrap_or_default();
    let poll_ms = cfg.follow.poll_ms;
    let service = service_name(&cfg);
    let mut f = Follower::open(plane, sel, cfg, pusher, &service, &state)?;
    let mut n = 0u64;
    loop {
        f.poll()?;
        n += 1;
        if let Some(e) = &f.report().last_error {
            tracing::warn!(error = %e, spool = f.report().spool_batches, "delivery to {base} pending");
        }
        if a.polls != 0 && n >= a.polls {
            break;
        }
        clock.sleep_ms(poll_ms);
    }
    let r = f.report().clone();
    render(s, &r, |r| {
        let mut t = format!(
            "{} poll(s): read {} entries, spooled {} batch(es), delivered {} span(s) in {} request(s) to {base}; {} batch(es) in the spool, {} dropped (spool full), {} refused",
            r.polls,
            r.entries,
            r.spooled_batches,
            r.delivered.spans,
            r.delivered.trace_requests + r.delivered.metric_requests,
            r.spool_batches,
            r.dropped_batches,
            r.rejected_batches
        );
        if let Some(e) = &r.last_error {
            t.push_str(&format!("; last error: {e}"));
        }
        t
    })?;
    Ok(Outcome::Ok)
}
