//! Time: RFC 3339 timestamps of the source logs to Unix milliseconds, and the clock adapters use
//! when a source line carries no time (`codex exec --json`). Injected so tests never read the
//! real clock.

use std::sync::atomic::{AtomicI64, Ordering};

/// A source of "now" in Unix milliseconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in Unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        jiff::Timestamp::now().as_millisecond()
    }
}

/// A clock that starts at a fixed instant and advances by a step on each reading (tests).
#[derive(Debug, Default)]
pub struct FixedClock {
    now: AtomicI64,
    step: i64,
}

impl FixedClock {
    /// Starts at `start_ms`, advancing `step_ms` per reading.
    pub fn new(start_ms: i64, step_ms: i64) -> FixedClock {
        FixedClock { now: AtomicI64::new(start_ms), step: step_ms }
    }
}

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.now.fetch_add(self.step, Ordering::Relaxed)
    }
}

/// Parses an RFC 3339 timestamp (`2025-06-01T10:00:00.123Z`) to Unix milliseconds; `None` for
/// text that is not one and for times before 1970 (AEF times are never negative).
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>().ok().map(|t| t.as_millisecond()).filter(|ms| *ms >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_with_and_without_fraction() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(parse_rfc3339_ms("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
        assert_eq!(parse_rfc3339_ms("1969-12-31T23:59:59Z"), None);
    }

    #[test]
    fn fixed_clock_steps() {
        let c = FixedClock::new(10, 5);
        assert_eq!((c.now_ms(), c.now_ms()), (10, 15));
    }
}
