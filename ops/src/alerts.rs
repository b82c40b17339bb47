//! The budget alert worker: every `alerts.check_interval_s` it sums spend per tenant, budget
//! scope and period (UTC day); crossing the soft (`soft_fraction` × hard) or the hard threshold
//! claims the alert by ledgering `ALERT_SENT` inside a ledger transaction that first checks the
//! key (scope, level, period) has no claim yet, and only then posts the Slack-compatible webhook
//! (`{"text": …}`), with retries and backoff. Restarts and overlapping workers therefore send
//! each alert once; a delivery that fails after every retry is ledgered as `ALERT_FAILED`, after
//! which the next check claims it again. The clock is injected (the service's).

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use cp_kernel::{LedgerEntry, NewEntry, Provenance, event};

use crate::error::OpsError;
use crate::ledgers;
use crate::service::Ops;

/// One alert that was claimed by a check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Tenant.
    pub tenant: String,
    /// Budget scope.
    pub scope: String,
    /// `soft` or `hard`.
    pub level: String,
    /// Period (`2026-12-03`).
    pub period: String,
    /// Spend in the period (USD).
    pub spend_usd: f64,
    /// Threshold crossed (USD).
    pub threshold_usd: f64,
    /// Whether the webhook accepted it (false: no webhook configured, or delivery failed).
    pub delivered: bool,
}

/// The worker.
#[derive(Debug)]
pub struct AlertWorker {
    ops: Arc<Ops>,
}

impl AlertWorker {
    /// A worker over the service.
    pub fn new(ops: Arc<Ops>) -> Self {
        Self { ops }
    }

    /// Checks every interval until `stop` turns true.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let a = &self.ops.config().alerts;
        if a.daily_budget_usd <= 0.0 && a.scope_budgets_usd.is_empty() {
            tracing::info!("no budget thresholds configured; the alert worker is idle");
            return;
        }
        let every = Duration::from_secs_f64(a.check_interval_s);
        loop {
            let ops = self.ops.clone();
            match tokio::task::spawn_blocking(move || check(&ops)).await {
                Ok(Ok(sent)) if !sent.is_empty() => tracing::info!(alerts = sent.len(), "budget alerts claimed"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "budget check failed"),
                Err(e) => tracing::error!(error = %e, "budget check panicked"),
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }
}

/// One check at the clock's time: claims and sends every alert due.
pub fn check(ops: &Ops) -> Result<Vec<Alert>, OpsError> {
    let now = ops.clock().wall_now();
    let day = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let start = day
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|e| OpsError::Usage(format!("period start: {e}")))?
        .timestamp()
        .as_millisecond();
    let period = day.to_string();
    let cfg = ops.config();
    let mut out = Vec::new();
    for (tenant, scopes) in ops.spend_by_scope(start, now.as_millisecond())? {
        for (scope, spend) in scopes {
            let Some(hard) = cfg.hard_threshold(&scope) else { continue };
            let soft = hard * cfg.alerts.soft_fraction;
            for (level, threshold) in [("soft", soft), ("hard", hard)] {
                if spend < threshold {
                    continue;
                }
                let mut a = Alert {
                    tenant: tenant.clone(),
                    scope: scope.clone(),
                    level: level.into(),
                    period: period.clone(),
                    spend_usd: spend,
                    threshold_usd: threshold,
                    delivered: false,
                };
                if claim(ops, &a)?.is_some() {
                    a.delivered = deliver(ops, &a)?;
                    out.push(a);
                }
            }
        }
    }
    Ok(out)
}

/// The message of an alert.
pub fn text(a: &Alert) -> String {
    format!(
        "Budget alert ({level}): tenant {t}, scope {s} spent ${sp:.2} on {p} (UTC day), {level} threshold ${th:.2}",
        level = a.level,
        t = a.tenant,
        s = a.scope,
        sp = a.spend_usd,
        p = a.period,
        th = a.threshold_usd
    )
}

fn key(a: &Alert) -> String {
    format!("{}|{}|{}", a.scope, a.level, a.period)
}

/// Ledgers `ALERT_SENT` unless the key's last record is already an `ALERT_SENT` (atomic under
/// the ledger's write lock, across processes).
fn claim(ops: &Ops, a: &Alert) -> Result<Option<LedgerEntry>, OpsError> {
    let (_, _, name) = ledgers::names(&a.tenant);
    let store = ops.ledgers().open(&name)?;
    let k = key(a);
    let q = ledgers::tenant_query(&a.tenant, &[event::ALERT_SENT, event::ALERT_FAILED], None);
    let q = cp_kernel::LedgerQuery { limit: None, ..q };
    let entry = NewEntry::new(event::ALERT_SENT)
        .submission(&k)
        .decision("ALLOW")
        .reason(text(a))
        .provenance(Provenance { tenant_id: Some(a.tenant.clone()), ..Provenance::default() })
        .meta("alert_key", k.clone())
        .meta("policy_id", format!("budget.{}_threshold", a.level))
        .meta("actor", "system")
        .meta("scope", a.scope.clone())
        .meta("level", a.level.clone())
        .meta("period", a.period.clone())
        .meta("spend_usd", a.spend_usd)
        .meta("threshold_usd", a.threshold_usd)
        .meta("webhook", !ops.config().alerts.webhook_url.is_empty());
    let mut got = store.transact(&mut |view| {
        let last = view.query(&q)?.into_iter().rfind(|e| e.submission_id.as_deref() == Some(k.as_str()));
        Ok(match last {
            Some(e) if e.event_type == event::ALERT_SENT => Vec::new(),
            _ => vec![entry.clone()],
        })
    })?;
    Ok(got.pop())
}

/// Posts the webhook with retries; a final failure is ledgered as `ALERT_FAILED`.
fn deliver(ops: &Ops, a: &Alert) -> Result<bool, OpsError> {
    let c = &ops.config().alerts;
    if c.webhook_url.is_empty() {
        return Ok(false);
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_millis(c.timeout_ms)))
        .build()
        .into();
    let body = json!({"text": text(a)}).to_string();
    let mut backoff = c.initial_backoff_ms;
    let mut last = String::new();
    for attempt in 1..=c.max_attempts {
        match agent.post(&c.webhook_url).header("Content-Type", "application/json").send(body.as_str()) {
            Ok(r) if r.status().is_success() => return Ok(true),
            Ok(r) => last = format!("HTTP {}", r.status().as_u16()),
            Err(e) => last = e.to_string(),
        }
        tracing::warn!(attempt, error = %last, scope = %a.scope, level = %a.level, "budget alert webhook failed");
        if attempt < c.max_attempts {
            ops.clock().sleep_ms(backoff);
            backoff = (backoff.saturating_mul(2)).min(c.max_backoff_ms);
        }
    }
    let (_, _, name) = ledgers::names(&a.tenant);
    let failed = NewEntry::new(event::ALERT_FAILED)
        .submission(key(a))
        .decision("FAIL")
        .reason(format!("webhook failed after {} attempt(s): {last}", c.max_attempts))
        .provenance(Provenance { tenant_id: Some(a.tenant.clone()), ..Provenance::default() })
        .meta("alert_key", key(a))
        .meta("policy_id", format!("budget.{}_threshold", a.level))
        .meta("actor", "system");
    ops.ledgers().open(&name)?.append(failed)?;
    Ok(false)
}
