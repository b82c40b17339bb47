//! Per-provider circuit breaker: closed → open (after `failure_threshold` consecutive failures)
//! → half-open (after `recovery_timeout_ms`, admitting `half_open_probes` probes) → closed
//! (after that many successful probes) or open again (on a failed probe). In memory, per router.

use std::sync::Mutex;

use serde::Serialize;

use super::config::BreakerConfig;

/// Observable state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Calls are refused.
    Open,
    /// Probes are admitted.
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    failures: u32,
    opened_at_ms: u64,
    probes_in_flight: u32,
    probe_successes: u32,
}

/// One provider's breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    cfg: BreakerConfig,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(cfg: BreakerConfig) -> Self {
        Self {
            cfg,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                failures: 0,
                opened_at_ms: 0,
                probes_in_flight: 0,
                probe_successes: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state at `now_ms` (an open breaker past its recovery timeout reads as half-open).
    pub fn state(&self, now_ms: u64) -> BreakerState {
        let g = self.lock();
        if g.state == BreakerState::Open && now_ms >= g.opened_at_ms.saturating_add(self.cfg.recovery_timeout_ms) {
            return BreakerState::HalfOpen;
        }
        g.state
    }

    /// Whether a call may go now (admitting a half-open probe counts it in flight).
    pub fn try_acquire(&self, now_ms: u64) -> bool {
        let mut g = self.lock();
        if g.state == BreakerState::Open && now_ms >= g.opened_at_ms.saturating_add(self.cfg.recovery_timeout_ms) {
            g.state = BreakerState::HalfOpen;
            g.probes_in_flight = 0;
            g.probe_successes = 0;
        }
        match g.state {
            BreakerState::Closed => true,
            BreakerState::Open => false,
            BreakerState::HalfOpen => {
                if g.probes_in_flight < self.cfg.half_open_probes {
                    g.probes_in_flight += 1;
                    true
                } else {
                    false
                }
            }
        }
    }

    /// Records a successful call.
    pub fn on_success(&self) {
        let mut g = self.lock();
        match g.state {
            BreakerState::HalfOpen => {
                g.probes_in_flight = g.probes_in_flight.saturating_sub(1);
                g.probe_successes += 1;
                if g.probe_successes >= self.cfg.half_open_probes {
                    g.state = BreakerState::Closed;
                    g.failures = 0;
                }
            }
            _ => g.failures = 0,
        }
    }

    /// Records a failed call at `now_ms`.
    pub fn on_failure(&self, now_ms: u64) {
        let mut g = self.lock();
        match g.state {
            BreakerState::HalfOpen => {
                g.state = BreakerState::Open;
                g.opened_at_ms = now_ms;
                g.probes_in_flight = 0;
            }
            BreakerState::Closed => {
                g.failures += 1;
                if g.failures >= self.cfg.failure_threshold {
                    g.state = BreakerState::Open;
                    g.opened_at_ms = now_ms;
                }
            }
            BreakerState::Open => g.opened_at_ms = now_ms,
        }
    }

    /// Releases a half-open probe slot that was acquired but not used.
    pub fn release_probe(&self) {
        let mut g = self.lock();
        if g.state == BreakerState::HalfOpen {
            g.probes_in_flight = g.probes_in_flight.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_half_opens_and_closes() {
        let b =
            CircuitBreaker::new(BreakerConfig { failure_threshold: 2, recovery_timeout_ms: 100, half_open_probes: 1 });
        assert!(b.try_acquire(0));
        b.on_failure(0);
        assert_eq!(b.state(0), BreakerState::Closed);
        b.on_failure(10);
        assert_eq!(b.state(10), BreakerState::Open);
        assert!(!b.try_acquire(50));
        assert_eq!(b.state(110), BreakerState::HalfOpen);
        assert!(b.try_acquire(110));
        assert!(!b.try_acquire(110), "only one probe in flight");
        b.on_failure(120);
        assert_eq!(b.state(130), BreakerState::Open);
        assert!(b.try_acquire(220));
        b.on_success();
        assert_eq!(b.state(220), BreakerState::Closed);
    }
}
