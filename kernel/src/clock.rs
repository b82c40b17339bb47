//! Time as the kernel sees it, injected so that tests and benches control token expiry, rate
//! windows, backoff, circuit recovery, provider latency, attention budgets and `recency`
//! windows without sleeping.
//!
//! Two readings: **wall** time (Unix milliseconds, [`Clock::now_ms`], or a timestamp,
//! [`Clock::wall_now`]) for anything compared with dates — tokens, rate windows, price-book
//! versions, `recency: 24h` — and **monotonic** milliseconds ([`Clock::monotonic_ms`]) for
//! durations that must never run backwards (attention stage timeouts, cache TTL).
//! Never does: read time anywhere but here (the ledger stamps its own entries).

use std::sync::Mutex;
use std::time::Instant;

/// A source of wall and monotonic time. One clock serves the router, the attention service and
/// the mock provider.
pub trait Clock: Send + Sync {
    /// Wall time, Unix milliseconds.
    fn now_ms(&self) -> u64;
    /// Wall time as a timestamp (UTC); by default [`Clock::now_ms`] at millisecond precision.
    fn wall_now(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(i64::try_from(self.now_ms()).unwrap_or(i64::MAX))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }
    /// Monotonic milliseconds since an arbitrary origin (never goes backwards).
    fn monotonic_ms(&self) -> u64;
    /// Waits `ms` (a manual clock advances instead).
    fn sleep_ms(&self, ms: u64);
}

/// The real clock: the system time for wall time, an [`Instant`] taken at construction for
/// monotonic time.
#[derive(Debug, Clone, Copy)]
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
        u64::try_from(jiff::Timestamp::now().as_millisecond()).unwrap_or(0)
    }
    fn wall_now(&self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
    fn monotonic_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
    fn sleep_ms(&self, ms: u64) {
        if ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
    }
}

#[derive(Debug)]
struct ManualState {
    wall: jiff::Timestamp,
    monotonic_ms: u64,
    step_ms: u64,
}

/// A clock that only moves when told to: [`ManualClock::advance`] (or a sleep on it) moves wall
/// and monotonic time together; optionally every [`Clock::monotonic_ms`] reading advances
/// monotonic time by a fixed step (to simulate slow stages without sleeping). Monotonic time
/// starts at 0.
#[derive(Debug)]
pub struct ManualClock {
    state: Mutex<ManualState>,
}

impl ManualClock {
    /// A clock at wall time `start_ms` (Unix milliseconds).
    pub fn new(start_ms: u64) -> Self {
        Self::at(
            jiff::Timestamp::from_millisecond(i64::try_from(start_ms).unwrap_or(i64::MAX))
                .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        )
    }

    /// A clock at wall time `wall`.
    pub fn at(wall: jiff::Timestamp) -> Self {
        Self { state: Mutex::new(ManualState { wall, monotonic_ms: 0, step_ms: 0 }) }
    }

    /// The same clock, advancing monotonic time by `step_ms` on every reading.
    pub fn stepping(self, step_ms: u64) -> Self {
        self.set_step(step_ms);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves wall and monotonic time forward by `ms`.
    pub fn advance(&self, ms: u64) {
        let mut g = self.lock();
        g.monotonic_ms = g.monotonic_ms.saturating_add(ms);
        let ms = i64::try_from(ms).unwrap_or(i64::MAX);
        g.wall = g.wall.checked_add(jiff::SignedDuration::from_millis(ms)).unwrap_or(g.wall);
    }

    /// Sets the per-reading step of monotonic time.
    pub fn set_step(&self, step_ms: u64) {
        self.lock().step_ms = step_ms;
    }

    /// Sets the wall time (monotonic time is unchanged).
    pub fn set_wall(&self, wall: jiff::Timestamp) {
        self.lock().wall = wall;
    }
}

impl Default for ManualClock {
    /// A clock at the Unix epoch.
    fn default() -> Self {
        Self::new(0)
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.lock().wall.as_millisecond()).unwrap_or(0)
    }
    fn wall_now(&self) -> jiff::Timestamp {
        self.lock().wall
    }
    fn monotonic_ms(&self) -> u64 {
        let mut g = self.lock();
        let t = g.monotonic_ms;
        g.monotonic_ms = g.monotonic_ms.saturating_add(g.step_ms);
        t
    }
    fn sleep_ms(&self, ms: u64) {
        self.advance(ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_wall_and_monotonic_together_and_steps_only_monotonic() {
        let c = ManualClock::new(1_000).stepping(5);
        assert_eq!((c.now_ms(), c.monotonic_ms(), c.monotonic_ms()), (1_000, 0, 5));
        assert_eq!(c.now_ms(), 1_000, "readings step monotonic time only");
        c.sleep_ms(250);
        assert_eq!((c.now_ms(), c.monotonic_ms()), (1_250, 260));
        assert_eq!(c.wall_now().as_millisecond(), 1_250);
        c.set_wall(jiff::Timestamp::from_second(10).unwrap());
        assert_eq!(c.now_ms(), 10_000);
    }

    #[test]
    fn system_clock_monotonic_time_never_runs_backwards() {
        let c = SystemClock::new();
        let a = c.monotonic_ms();
        assert!(c.monotonic_ms() >= a);
        assert!(c.now_ms() > 0);
    }
}
