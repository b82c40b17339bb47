//! Time as the router sees it: injected, so that tests and benches control latency, expiry,
//! rate windows, backoff and circuit recovery without sleeping.

use std::sync::atomic::{AtomicU64, Ordering};

/// A clock in Unix milliseconds.
pub trait Clock: Send + Sync {
    /// Now (Unix ms).
    fn now_ms(&self) -> u64;
    /// Waits `ms` (a manual clock advances instead).
    fn sleep_ms(&self, ms: u64);
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(jiff::Timestamp::now().as_millisecond()).unwrap_or(0)
    }
    fn sleep_ms(&self, ms: u64) {
        if ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
    }
}

/// A clock that only moves when told to (or when something sleeps on it).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock at `start_ms`.
    pub fn new(start_ms: u64) -> Self {
        Self(AtomicU64::new(start_ms))
    }
    /// Moves the clock forward.
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    fn sleep_ms(&self, ms: u64) {
        self.advance(ms);
    }
}
