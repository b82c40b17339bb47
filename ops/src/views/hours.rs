//! Per-hour aggregates of the runs whose latest event lies in the hour, so that an unfiltered
//! overview reads whole hours from their bucket and scans runs only in the partial hours at the
//! window's edges. Latencies are kept as a histogram (latency → count), exact, so the merged p95
//! is the same nearest-rank value a sort of every latency would give.

use std::collections::BTreeMap;

use crate::event::Status;

/// One hour in milliseconds.
pub(crate) const HOUR_MS: i64 = 3_600_000;

/// The start of the hour holding `ts_ms`.
pub(crate) fn hour_of(ts_ms: i64) -> i64 {
    ts_ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// Counts and latencies of a set of runs (one hour, or a whole window while merging).
#[derive(Debug, Default, Clone)]
pub(crate) struct Tally {
    pub(crate) successes: u64,
    pub(crate) failures: u64,
    pub(crate) running: u64,
    /// Sum of the finished runs' latencies (exact integer sum).
    pub(crate) latency_sum: u64,
    /// Finished runs' latency → count.
    pub(crate) latencies: BTreeMap<u64, u64>,
}

impl Tally {
    /// Adds (`sign` = 1) or removes (`sign` = -1) one run.
    pub(crate) fn count(&mut self, status: Status, latency_ms: u64, add: bool) {
        let bump = |n: &mut u64| *n = if add { *n + 1 } else { n.saturating_sub(1) };
        match status {
            Status::Success => bump(&mut self.successes),
            Status::Failure => bump(&mut self.failures),
            Status::Started => bump(&mut self.running),
        }
        if status == Status::Started {
            return;
        }
        if add {
            self.latency_sum += latency_ms;
            *self.latencies.entry(latency_ms).or_default() += 1;
        } else {
            self.latency_sum = self.latency_sum.saturating_sub(latency_ms);
            if let Some(c) = self.latencies.get_mut(&latency_ms) {
                *c -= 1;
                if *c == 0 {
                    self.latencies.remove(&latency_ms);
                }
            }
        }
    }

    /// Adds every run of `other`.
    pub(crate) fn merge(&mut self, other: &Tally) {
        self.successes += other.successes;
        self.failures += other.failures;
        self.running += other.running;
        self.latency_sum += other.latency_sum;
        for (l, c) in &other.latencies {
            *self.latencies.entry(*l).or_default() += c;
        }
    }

    /// Whether no run is counted.
    pub(crate) fn is_empty(&self) -> bool {
        self.successes + self.failures + self.running == 0
    }

    /// Number of finished runs.
    pub(crate) fn finished(&self) -> u64 {
        self.successes + self.failures
    }

    /// Mean latency of the finished runs.
    pub(crate) fn mean(&self) -> Option<f64> {
        let n = self.finished();
        (n > 0).then(|| self.latency_sum as f64 / n as f64)
    }

    /// Nearest-rank 95th percentile of the finished runs' latencies.
    pub(crate) fn p95(&self) -> Option<u64> {
        let n = self.finished();
        if n == 0 {
            return None;
        }
        let rank = ((n as f64) * 0.95).ceil() as u64;
        let rank = rank.clamp(1, n);
        let mut seen = 0;
        for (l, c) in &self.latencies {
            seen += c;
            if seen >= rank {
                return Some(*l);
            }
        }
        self.latencies.keys().next_back().copied()
    }
}
