//! The metrics aggregates: derived from the event store, the cost facts and the plane's prompt
//! entries, kept incrementally in memory, rebuildable from those stores at any time. Pure (no
//! I/O): every answer is a function of what was applied and of `now_ms`.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::event::{Event, Status};

/// What an event is attributed to (kept per event id for adjustments and failures).
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    /// Workflow.
    pub workflow_id: String,
    /// Agent.
    pub agent_id: String,
    /// Budget scope (`budget_scope`, else `tenant`).
    pub scope: String,
}

#[derive(Debug, Clone)]
struct RunState {
    ts_ms: i64,
    order: u64,
    status: Status,
    latency_ms: u64,
    workflow_id: String,
    agent_id: String,
}

#[derive(Debug, Clone)]
struct Spend {
    ts_ms: i64,
    usd: f64,
    attr: Attribution,
}

/// One row of `/v1/failures/recent`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureRow {
    /// Event time.
    pub timestamp: String,
    /// Agent.
    pub agent_id: String,
    /// Workflow.
    pub workflow_id: String,
    /// Run id (when the event had one).
    pub run_id: Option<String>,
    /// Error type.
    pub error_type: Option<String>,
    /// Latency (ms).
    pub latency_ms: u64,
    /// Cost (USD).
    pub cost_usd: f64,
    /// Trace id.
    pub trace_id: Option<String>,
    #[serde(skip)]
    ts_ms: i64,
}

/// Filters of a query (besides the tenant).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this workflow.
    pub workflow_id: Option<String>,
    /// Only this agent.
    pub agent_id: Option<String>,
}

impl Filter {
    fn admits(&self, workflow: &str, agent: &str) -> bool {
        self.workflow_id.as_deref().is_none_or(|w| w == workflow) && self.agent_id.as_deref().is_none_or(|a| a == agent)
    }
}

/// `/v1/metrics/overview`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    /// Window (hours).
    pub window_hours: u32,
    /// Runs whose latest event lies in the window (each run once).
    pub runs: u64,
    /// Of those, ended in success.
    pub successes: u64,
    /// Ended in failure.
    pub failures: u64,
    /// Still started.
    pub running: u64,
    /// `successes / (successes + failures)`, null without finished runs.
    pub success_rate: Option<f64>,
    /// Cost facts and adjustments in the window (USD).
    pub spend_usd: f64,
    /// Mean latency of finished runs (ms).
    pub avg_latency_ms: Option<f64>,
    /// 95th percentile (nearest rank) latency of finished runs (ms).
    pub p95_latency_ms: Option<u64>,
    /// Latest event time in the window.
    pub last_event_at: Option<String>,
}

/// One hour of `/v1/metrics/timeseries`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourPoint {
    /// Start of the hour (RFC 3339 UTC).
    pub hour: String,
    /// Spend (USD).
    pub spend_usd: f64,
    /// Runs whose latest event lies in the hour.
    pub runs: u64,
    /// Failure events in the hour.
    pub failures: u64,
}

/// The aggregates of one tenant.
#[derive(Debug, Default)]
pub struct TenantView {
    runs: HashMap<String, RunState>,
    spend: Vec<Spend>,
    failures: Vec<FailureRow>,
    events: HashMap<String, Attribution>,
    applied: u64,
}

/// Rounds a USD sum to micro-dollars (sums of many floats otherwise differ in the last bits
/// with the order of addition).
pub fn round_usd(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| format!("{t:.3}")).unwrap_or_default()
}

impl TenantView {
    /// Whether an event id is known (idempotent ingest).
    pub fn knows(&self, event_id: &str) -> bool {
        self.events.contains_key(event_id)
    }

    /// Attribution of a known event.
    pub fn attribution(&self, event_id: &str) -> Option<&Attribution> {
        self.events.get(event_id)
    }

    /// Number of events applied.
    pub fn events_applied(&self) -> u64 {
        self.applied
    }

    /// Applies one event (its cost is applied separately, from its cost fact).
    pub fn apply_event(&mut self, event_id: &str, e: &Event) {
        self.applied += 1;
        let attr = Attribution {
            workflow_id: e.workflow_id.clone(),
            agent_id: e.agent_id.clone(),
            scope: e.field("budget_scope").unwrap_or("tenant").to_string(),
        };
        self.events.insert(event_id.to_string(), attr);
        let key = e.run_key(event_id);
        let new = RunState {
            ts_ms: e.ts_ms,
            order: self.applied,
            status: e.status,
            latency_ms: e.latency_ms,
            workflow_id: e.workflow_id.clone(),
            agent_id: e.agent_id.clone(),
        };
        match self.runs.get_mut(&key) {
            Some(r) if (r.ts_ms, r.order) > (new.ts_ms, new.order) => {}
            Some(r) => *r = new,
            None => {
                self.runs.insert(key, new);
            }
        }
        if e.status == Status::Failure {
            self.failures.push(FailureRow {
                timestamp: e.timestamp.clone(),
                agent_id: e.agent_id.clone(),
                workflow_id: e.workflow_id.clone(),
                run_id: e.field("run_id").map(str::to_string),
                error_type: e.field("error_type").map(str::to_string),
                latency_ms: e.latency_ms,
                cost_usd: e.cost_usd,
                trace_id: e.field("trace_id").map(str::to_string),
                ts_ms: e.ts_ms,
            });
        }
    }

    /// Applies a cost fact or an adjustment of `usd` at `ts_ms`.
    pub fn apply_cost(&mut self, ts_ms: i64, usd: f64, attr: Attribution) {
        if usd != 0.0 {
            self.spend.push(Spend { ts_ms, usd, attr });
        }
    }

    /// The overview of the `window_hours` before `now_ms`.
    pub fn overview(&self, now_ms: i64, window_hours: u32, f: &Filter) -> Overview {
        let from = now_ms - i64::from(window_hours) * 3_600_000;
        let (mut s, mut fl, mut r) = (0u64, 0u64, 0u64);
        let mut lat: Vec<u64> = Vec::new();
        let mut last: Option<i64> = None;
        for run in self.runs.values() {
            if run.ts_ms < from || run.ts_ms > now_ms || !f.admits(&run.workflow_id, &run.agent_id) {
                continue;
            }
            last = last.max(Some(run.ts_ms));
            match run.status {
                Status::Success => s += 1,
                Status::Failure => fl += 1,
                Status::Started => r += 1,
            }
            if run.status != Status::Started {
                lat.push(run.latency_ms);
            }
        }
        let spend = self.spend_between(from, now_ms, f, None);
        let avg = (!lat.is_empty()).then(|| lat.iter().map(|&x| x as f64).sum::<f64>() / lat.len() as f64);
        Overview {
            window_hours,
            runs: s + fl + r,
            successes: s,
            failures: fl,
            running: r,
            success_rate: (s + fl > 0).then(|| s as f64 / (s + fl) as f64),
            spend_usd: round_usd(spend),
            avg_latency_ms: avg,
            p95_latency_ms: p95(&mut lat),
            last_event_at: last.map(rfc3339),
        }
    }

    /// Spend in `[from, to]` matching `f` (and `scope` when given).
    pub fn spend_between(&self, from: i64, to: i64, f: &Filter, scope: Option<&str>) -> f64 {
        let sum: f64 = self
            .spend
            .iter()
            .filter(|x| x.ts_ms >= from && x.ts_ms <= to && f.admits(&x.attr.workflow_id, &x.attr.agent_id))
            .filter(|x| scope.is_none_or(|s| s == x.attr.scope))
            .map(|x| x.usd)
            .sum();
        round_usd(sum)
    }

    /// Spend per budget scope in `[from, to]`.
    pub fn spend_by_scope(&self, from: i64, to: i64) -> BTreeMap<String, f64> {
        let mut m: BTreeMap<String, f64> = BTreeMap::new();
        for x in self.spend.iter().filter(|x| x.ts_ms >= from && x.ts_ms <= to) {
            *m.entry(x.attr.scope.clone()).or_default() += x.usd;
        }
        m.values_mut().for_each(|v| *v = round_usd(*v));
        m
    }

    /// The `limit` newest failures matching `f`, newest first.
    pub fn recent_failures(&self, limit: usize, f: &Filter) -> Vec<FailureRow> {
        let mut v: Vec<&FailureRow> = self.failures.iter().filter(|x| f.admits(&x.workflow_id, &x.agent_id)).collect();
        v.sort_by_key(|x| std::cmp::Reverse(x.ts_ms));
        v.into_iter().take(limit).cloned().collect()
    }

    /// Spend, runs and failures per hour over the window, oldest hour first.
    pub fn timeseries(&self, now_ms: i64, window_hours: u32, f: &Filter) -> Vec<HourPoint> {
        let hour = 3_600_000i64;
        let last = now_ms.div_euclid(hour) * hour;
        let first = last - i64::from(window_hours.saturating_sub(1)) * hour;
        let n = window_hours.max(1) as usize;
        let mut pts: Vec<HourPoint> = (0..n)
            .map(|i| HourPoint { hour: rfc3339(first + i as i64 * hour), spend_usd: 0.0, runs: 0, failures: 0 })
            .collect();
        let idx = |ts: i64| (ts >= first && ts <= now_ms).then(|| ((ts - first) / hour) as usize).filter(|&i| i < n);
        for r in self.runs.values().filter(|r| f.admits(&r.workflow_id, &r.agent_id)) {
            if let Some(i) = idx(r.ts_ms) {
                pts[i].runs += 1;
            }
        }
        for x in self.failures.iter().filter(|x| f.admits(&x.workflow_id, &x.agent_id)) {
            if let Some(i) = idx(x.ts_ms) {
                pts[i].failures += 1;
            }
        }
        for x in self.spend.iter().filter(|x| f.admits(&x.attr.workflow_id, &x.attr.agent_id)) {
            if let Some(i) = idx(x.ts_ms) {
                pts[i].spend_usd += x.usd;
            }
        }
        pts.iter_mut().for_each(|p| p.spend_usd = round_usd(p.spend_usd));
        pts
    }
}

/// Nearest-rank 95th percentile.
fn p95(v: &mut [u64]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let rank = ((v.len() as f64) * 0.95).ceil() as usize;
    let k = rank.clamp(1, v.len()) - 1;
    Some(*v.select_nth_unstable(k).1)
}

#[cfg(test)]
mod tests;
