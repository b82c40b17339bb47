//! The metrics aggregates: derived from the event store, the cost facts and the plane's prompt
//! entries, kept incrementally in memory, rebuildable from those stores at any time. Pure (no
//! I/O): every answer is a function of what was applied and of `now_ms`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde::Serialize;

use crate::event::{Event, Status};

mod hours;
mod sliced;

use hours::{HOUR_MS, Tally, hour_of};
use sliced::Sliced;

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

impl Attribution {
    /// The attribution of an event: its workflow, agent and budget scope (`tenant` when it
    /// names none).
    pub fn of(e: &Event) -> Self {
        Self {
            workflow_id: e.workflow_id.clone(),
            agent_id: e.agent_id.clone(),
            scope: e.field("budget_scope").unwrap_or("tenant").to_string(),
        }
    }

    /// The attribution a cost-ledger fact or adjustment records (`workflow_id`, `agent_id`,
    /// `budget_scope`; empty, empty and `tenant` where it names none).
    pub fn of_fact(m: &serde_json::Map<String, serde_json::Value>) -> Self {
        let s = |k: &str, d: &str| m.get(k).and_then(serde_json::Value::as_str).unwrap_or(d).to_string();
        Self { workflow_id: s("workflow_id", ""), agent_id: s("agent_id", ""), scope: s("budget_scope", "tenant") }
    }
}

#[derive(Debug, Clone)]
struct RunState {
    ts_ms: i64,
    order: u64,
    status: Status,
    latency_ms: u64,
    /// Its latest event's attribution (shared with the event's entry in `TenantView::events`).
    attr: Arc<Attribution>,
}

/// One cost fact or adjustment (its time is its key in `TenantView::spend`).
#[derive(Debug, Clone)]
struct Spend {
    usd: f64,
    attr: Arc<Attribution>,
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
    fn admits_attr(&self, a: &Attribution) -> bool {
        self.admits(&a.workflow_id, &a.agent_id)
    }

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

/// The aggregates of one tenant, indexed by time: runs by the time of their latest event, spend
/// and failures by their time, and all three tallied per hour for every filter (none, a
/// workflow, an agent, both), so a window query reads whole hours from their tally and visits
/// single entries only in a partial hour at the window's edges.
#[derive(Debug, Default)]
pub struct TenantView {
    runs: HashMap<String, RunState>,
    by_time: BTreeSet<(i64, String)>,
    hours: Sliced<Tally>,
    spend: BTreeMap<(i64, u64), Spend>,
    spend_hours: Sliced<f64>,
    failures: BTreeMap<(i64, Reverse<u64>), FailureRow>,
    failure_hours: Sliced<u64>,
    events: HashMap<String, Arc<Attribution>>,
    applied: u64,
    spend_seq: u64,
}

/// Rounds a USD sum to micro-dollars (sums of many floats otherwise differ in the last bits
/// with the order of addition).
pub fn round_usd(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| format!("{t:.3}")).unwrap_or_default()
}

/// The whole hours `[first, end)` inside `[from, to]` (empty when `first >= end`).
fn whole_hours(from: i64, to: i64) -> (i64, i64) {
    let first = hour_of(from + HOUR_MS - 1);
    let end = hour_of(to.saturating_add(1));
    (first, end)
}

impl TenantView {
    /// Whether an event id is known (idempotent ingest).
    pub fn knows(&self, event_id: &str) -> bool {
        self.events.contains_key(event_id)
    }

    /// Attribution of a known event.
    pub fn attribution(&self, event_id: &str) -> Option<&Attribution> {
        self.events.get(event_id).map(|a| &**a)
    }

    /// Number of events applied.
    pub fn events_applied(&self) -> u64 {
        self.applied
    }

    /// Applies one event (its cost is applied separately, by [`TenantView::apply_cost`]).
    pub fn apply_event(&mut self, event_id: &str, e: &Event) {
        self.apply_event_shared(event_id, e);
    }

    /// Applies one event and its cost (as its cost fact says: `cost_usd` at the event's time,
    /// attributed like the event).
    pub fn apply_event_and_cost(&mut self, event_id: &str, e: &Event) {
        let attr = self.apply_event_shared(event_id, e);
        self.apply_cost(e.ts_ms, e.cost_usd, attr);
    }

    /// Applies one event; returns its attribution, kept once for the event, its run and its
    /// spend.
    fn apply_event_shared(&mut self, event_id: &str, e: &Event) -> Arc<Attribution> {
        self.applied += 1;
        let attr = Arc::new(Attribution::of(e));
        self.events.insert(event_id.to_string(), attr.clone());
        let new = RunState {
            ts_ms: e.ts_ms,
            order: self.applied,
            status: e.status,
            latency_ms: e.latency_ms,
            attr: attr.clone(),
        };
        self.set_run(e.run_key(event_id), new);
        if e.status == Status::Failure {
            let row = FailureRow {
                timestamp: e.timestamp.clone(),
                agent_id: e.agent_id.clone(),
                workflow_id: e.workflow_id.clone(),
                run_id: e.field("run_id").map(str::to_string),
                error_type: e.field("error_type").map(str::to_string),
                latency_ms: e.latency_ms,
                cost_usd: e.cost_usd,
                trace_id: e.field("trace_id").map(str::to_string),
                ts_ms: e.ts_ms,
            };
            self.failures.insert((e.ts_ms, Reverse(self.applied)), row);
            self.failure_hours.update(&e.workflow_id, &e.agent_id, hour_of(e.ts_ms), &mut |n| {
                *n += 1;
                true
            });
        }
        attr
    }

    /// Makes `new` the state of run `key` unless the run already has a later event, keeping the
    /// time index and the hour tallies in step.
    fn set_run(&mut self, key: String, new: RunState) {
        if let Some(old) = self.runs.get(&key) {
            if (old.ts_ms, old.order) > (new.ts_ms, new.order) {
                return;
            }
            self.by_time.remove(&(old.ts_ms, key.clone()));
            self.hours.update(&old.attr.workflow_id, &old.attr.agent_id, hour_of(old.ts_ms), &mut |t| {
                t.count(old.status, old.latency_ms, false);
                !t.is_empty()
            });
        }
        self.by_time.insert((new.ts_ms, key.clone()));
        self.hours.update(&new.attr.workflow_id, &new.attr.agent_id, hour_of(new.ts_ms), &mut |t| {
            t.count(new.status, new.latency_ms, true);
            true
        });
        self.runs.insert(key, new);
    }

    /// Applies a cost fact or an adjustment of `usd` at `ts_ms`.
    pub fn apply_cost(&mut self, ts_ms: i64, usd: f64, attr: impl Into<Arc<Attribution>>) {
        if usd != 0.0 {
            let attr = attr.into();
            self.spend_seq += 1;
            self.spend_hours.update(&attr.workflow_id, &attr.agent_id, hour_of(ts_ms), &mut |v| {
                *v += usd;
                true
            });
            self.spend.insert((ts_ms, self.spend_seq), Spend { usd, attr });
        }
    }

    /// The runs whose latest event lies in `[from, to]`.
    fn runs_between(&self, from: i64, to: i64) -> impl Iterator<Item = &RunState> {
        let range = if from <= to {
            (from, String::new())..(to.saturating_add(1), String::new())
        } else {
            (0, String::new())..(0, String::new())
        };
        self.by_time.range(range).filter_map(|(_, k)| self.runs.get(k))
    }

    /// Tally of the runs in `[from, to]` matching `f`: whole hours from their tally, the rest
    /// run by run.
    fn tally(&self, from: i64, to: i64, f: &Filter) -> Tally {
        let mut t = Tally::default();
        let add = |t: &mut Tally, a: i64, b: i64| {
            for r in self.runs_between(a, b).filter(|r| f.admits_attr(&r.attr)) {
                t.count(r.status, r.latency_ms, true);
            }
        };
        let (first, end) = whole_hours(from, to);
        if first >= end {
            add(&mut t, from, to);
            return t;
        }
        let (lo, hi) = (hour_of(from), end + HOUR_MS);
        // An edge hour whose runs (any, filtered or not) all lie inside the window is read
        // from its tally too.
        let first = if self.runs_between(lo, from - 1).next().is_none() { lo } else { first };
        let end = if self.runs_between(to.saturating_add(1), hi - 1).next().is_none() { hi } else { end };
        add(&mut t, from, first - 1);
        for (_, h) in self.hours.range(f, first..end) {
            t.merge(h);
        }
        add(&mut t, end, to);
        t
    }

    /// The overview of the `window_hours` before `now_ms`.
    pub fn overview(&self, now_ms: i64, window_hours: u32, f: &Filter) -> Overview {
        let from = now_ms - i64::from(window_hours) * HOUR_MS;
        let t = self.tally(from, now_ms, f);
        let (s, fl, r) = (t.successes, t.failures, t.running);
        // The newest run of the window that `f` admits: none when the tally has none, else
        // found walking back from `now_ms`.
        let last = (s + fl + r > 0)
            .then(|| {
                self.by_time
                    .range(..(now_ms.saturating_add(1), String::new()))
                    .rev()
                    .take_while(|(ts, _)| *ts >= from)
                    .filter_map(|(_, k)| self.runs.get(k))
                    .find(|r| f.admits_attr(&r.attr))
                    .map(|r| r.ts_ms)
            })
            .flatten();
        Overview {
            window_hours,
            runs: s + fl + r,
            successes: s,
            failures: fl,
            running: r,
            success_rate: (s + fl > 0).then(|| s as f64 / (s + fl) as f64),
            spend_usd: round_usd(self.spend_between(from, now_ms, f, None)),
            avg_latency_ms: t.mean(),
            p95_latency_ms: t.p95(),
            last_event_at: last.filter(|ts| *ts >= from).map(rfc3339),
        }
    }

    /// The spend entries in `[from, to]`.
    fn spend_in(&self, from: i64, to: i64) -> impl Iterator<Item = &Spend> {
        let range = if from <= to { (from, 0)..(to.saturating_add(1), 0) } else { (0, 0)..(0, 0) };
        self.spend.range(range).map(|(_, s)| s)
    }

    /// Spend in `[from, to]` matching `f` (and `scope` when given).
    pub fn spend_between(&self, from: i64, to: i64, f: &Filter, scope: Option<&str>) -> f64 {
        let sum_of = |a: i64, b: i64| -> f64 {
            self.spend_in(a, b)
                .filter(|x| f.admits_attr(&x.attr))
                .filter(|x| scope.is_none_or(|s| s == x.attr.scope))
                .map(|x| x.usd)
                .sum()
        };
        let (first, end) = whole_hours(from, to);
        if scope.is_some() || first >= end {
            return round_usd(sum_of(from, to));
        }
        let (lo, hi) = (hour_of(from), end + HOUR_MS);
        let first = if self.spend_in(lo, from - 1).next().is_none() { lo } else { first };
        let end = if self.spend_in(to.saturating_add(1), hi - 1).next().is_none() { hi } else { end };
        let whole: f64 = self.spend_hours.range(f, first..end).map(|(_, v)| v).sum();
        round_usd(sum_of(from, first - 1) + whole + sum_of(end, to))
    }

    /// Spend per budget scope in `[from, to]`.
    pub fn spend_by_scope(&self, from: i64, to: i64) -> BTreeMap<String, f64> {
        let mut m: BTreeMap<String, f64> = BTreeMap::new();
        for x in self.spend_in(from, to) {
            *m.entry(x.attr.scope.clone()).or_default() += x.usd;
        }
        m.values_mut().for_each(|v| *v = round_usd(*v));
        m
    }

    /// The `limit` newest failures matching `f`, newest first.
    pub fn recent_failures(&self, limit: usize, f: &Filter) -> Vec<FailureRow> {
        self.failures.values().rev().filter(|x| f.admits(&x.workflow_id, &x.agent_id)).take(limit).cloned().collect()
    }

    /// Spend, runs and failures per hour over the window, oldest hour first.
    pub fn timeseries(&self, now_ms: i64, window_hours: u32, f: &Filter) -> Vec<HourPoint> {
        let last = hour_of(now_ms);
        let first = last - i64::from(window_hours.saturating_sub(1)) * HOUR_MS;
        let n = window_hours.max(1) as usize;
        let mut pts: Vec<HourPoint> = (0..n)
            .map(|i| HourPoint { hour: rfc3339(first + i as i64 * HOUR_MS), spend_usd: 0.0, runs: 0, failures: 0 })
            .collect();
        let idx = |ts: i64| (ts >= first && ts <= now_ms).then(|| ((ts - first) / HOUR_MS) as usize).filter(|&i| i < n);
        // Every hour before `now_ms`'s is whole; so is that one unless it holds entries after
        // `now_ms` — then it is counted entry by entry.
        let partial = self.after(now_ms, last + HOUR_MS);
        let whole_end = if partial { last } else { last + HOUR_MS };
        let whole = first..whole_end;
        add_hours(&mut pts, &idx, self.hours.range(f, whole.clone()), |p, t| {
            p.runs += t.successes + t.failures + t.running
        });
        add_hours(&mut pts, &idx, self.failure_hours.range(f, whole.clone()), |p, c| p.failures += c);
        add_hours(&mut pts, &idx, self.spend_hours.range(f, whole), |p, usd| p.spend_usd += usd);
        if partial {
            self.count_entries(&mut pts[n - 1], last, now_ms, f);
        }
        pts.iter_mut().for_each(|p| p.spend_usd = round_usd(p.spend_usd));
        pts
    }

    /// Whether any run, failure or spend lies in `(after, before)`.
    fn after(&self, after: i64, before: i64) -> bool {
        let (a, b) = (after.saturating_add(1), before - 1);
        self.runs_between(a, b).next().is_some()
            || self.spend_in(a, b).next().is_some()
            || (a <= b && self.failures.range((a, Reverse(u64::MAX))..(before, Reverse(u64::MAX))).next().is_some())
    }

    /// Adds the runs, failures and spend in `[from, to]` matching `f` to `p`, one by one.
    fn count_entries(&self, p: &mut HourPoint, from: i64, to: i64, f: &Filter) {
        p.runs += self.runs_between(from, to).filter(|r| f.admits_attr(&r.attr)).count() as u64;
        let fails = self.failures.range((from, Reverse(u64::MAX))..).map(|(_, x)| x);
        p.failures +=
            fails.take_while(|x| x.ts_ms <= to).filter(|x| f.admits(&x.workflow_id, &x.agent_id)).count() as u64;
        p.spend_usd += self.spend_in(from, to).filter(|x| f.admits_attr(&x.attr)).map(|x| x.usd).sum::<f64>();
    }
}

/// Adds each hour of `hours` to its point (`idx` of the hour's start), by `add`.
fn add_hours<'a, T: 'a>(
    pts: &mut [HourPoint],
    idx: &dyn Fn(i64) -> Option<usize>,
    hours: impl Iterator<Item = (&'a i64, &'a T)>,
    add: impl Fn(&mut HourPoint, &T),
) {
    for (h, v) in hours {
        if let Some(i) = idx(*h) {
            add(&mut pts[i], v);
        }
    }
}

#[cfg(test)]
mod tests;
