//! The clock the attention service measures budgets with: a monotonic millisecond counter plus
//! wall time (for `recency: <duration>`). Injectable so that tests never sleep.

use std::sync::Mutex;
use std::time::Instant;

/// Time source of the attention service.
pub trait Clock: Send + Sync {
    /// Monotonic milliseconds since an arbitrary origin (never goes backwards).
    fn now_ms(&self) -> u64;
    /// Current wall-clock time (UTC), used to turn `recency: 24h` into a `since` bound.
    fn wall_now(&self) -> jiff::Timestamp;
}

/// The real clock: `Instant` for monotonic time and the system time for wall time.
#[derive(Debug)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A clock whose monotonic origin is now.
    pub fn new() -> Self {
        Self { origin: Instant::now() }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
    fn wall_now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

#[derive(Debug)]
struct ManualState {
    now_ms: u64,
    step_ms: u64,
    wall: jiff::Timestamp,
}

/// A clock moved by hand, optionally advancing by a fixed step on every `now_ms` call (to
/// simulate slow stages without sleeping). Its wall time is fixed unless set.
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<ManualState>,
}

impl ManualClock {
    /// A clock at monotonic 0, stepping `step_ms` per reading, with wall time `wall`.
    pub fn new(step_ms: u64, wall: jiff::Timestamp) -> Self {
        Self { state: Mutex::new(ManualState { now_ms: 0, step_ms, wall }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves monotonic time forward by `ms`.
    pub fn advance(&self, ms: u64) {
        let mut g = self.lock();
        g.now_ms = g.now_ms.saturating_add(ms);
    }

    /// Sets the per-reading step.
    pub fn set_step(&self, step_ms: u64) {
        self.lock().step_ms = step_ms;
    }

    /// Sets the wall time.
    pub fn set_wall(&self, wall: jiff::Timestamp) {
        self.lock().wall = wall;
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        let mut g = self.lock();
        let t = g.now_ms;
        g.now_ms = g.now_ms.saturating_add(g.step_ms);
        t
    }
    fn wall_now(&self) -> jiff::Timestamp {
        self.lock().wall
    }
}
