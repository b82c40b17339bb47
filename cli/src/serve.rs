//! `cpctl serve`: the operations service (API, dashboard, alert worker) until SIGTERM/Ctrl-C.

use std::io::Write as _;
use std::sync::Arc;

use clap::Args;

use cp_kernel::{AuthError, AuthSecret, SchemaSet, SystemClock};
use cp_ops::{Gate, Ops, OpsConfig, Overrides};

use crate::common::{CmdResult, Outcome, Settings};

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  cpctl serve --port 8787   # then open http://127.0.0.1:8787/?token=…")]
pub(crate) struct ServeArgs {
    /// Address to listen on (else ops_config.yaml server.bind, 127.0.0.1).
    #[arg(long)]
    bind: Option<String>,
    /// Port (else ops_config.yaml server.port, 8787; 0 = any free port).
    #[arg(long)]
    port: Option<u16>,
    /// Slack-compatible webhook of budget alerts (else ops_config.yaml alerts.webhook_url).
    #[arg(long)]
    webhook_url: Option<String>,
    /// Hard daily budget of every scope in USD (else ops_config.yaml alerts.daily_budget_usd).
    #[arg(long)]
    daily_budget_usd: Option<f64>,
    /// Seconds between budget checks (else ops_config.yaml alerts.check_interval_s).
    #[arg(long)]
    check_interval_s: Option<f64>,
    /// Waive token checks (loopback addresses only; logged as POLICY_WAIVED).
    #[arg(long)]
    dev: bool,
}

/// The operator named in ledger records (`operator:<user>`).
pub(crate) fn operator() -> String {
    format!("operator:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))
}

pub(crate) fn run(s: &Settings, a: ServeArgs) -> CmdResult {
    let plane = s.plane()?;
    let o = Overrides {
        bind: a.bind,
        port: a.port,
        webhook_url: a.webhook_url,
        daily_budget_usd: a.daily_budget_usd,
        check_interval_s: a.check_interval_s,
    };
    let config = OpsConfig::for_plane(&plane)?.with_overrides(&o)?;
    let loopback = config.server.bind.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if a.dev && !loopback {
        anyhow::bail!(
            "--dev waives authentication and is allowed on loopback addresses only, not --bind {}",
            config.server.bind
        );
    }
    let min = cp_kernel::load_router_configs(&plane, &SchemaSet::for_plane(&plane)?)?.router.auth.min_secret_bytes;
    let secret = match AuthSecret::for_plane(&plane, min) {
        Ok((s, _)) => Some(s),
        Err(AuthError::NoSecret) if a.dev => None,
        Err(AuthError::NoSecret) => {
            tracing::warn!("no auth secret: every token is refused (create one with `cpctl auth issue`)");
            None
        }
        Err(e) => return Err(e.into()),
    };
    let roles = config.auth.clone();
    let ops = Arc::new(Ops::open(plane, config, Arc::new(SystemClock::new()))?);
    if a.dev {
        ops.record_waiver("ops.auth", "cpctl serve --dev: bearer tokens are not checked (loopback only)", &operator())?;
        tracing::warn!("--dev: authentication is waived (logged as POLICY_WAIVED)");
    }
    cp_ops::serve(ops, Gate::new(secret, a.dev, roles), |addr| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    })?;
    Ok(Outcome::Ok)
}
