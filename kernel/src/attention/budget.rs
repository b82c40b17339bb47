//! The budget of one assembly: tokens (sum of the fragments' estimates), queries and elapsed
//! time on the service clock, checked before every stage and inside stages.

use std::sync::Arc;

use super::context::BudgetLimit;
use super::template::TemplateBudget;
use crate::clock::Clock;

/// Queries and time of one assembly (tokens are the fragments held by the pipeline).
pub(crate) struct BudgetTracker {
    pub(crate) limits: TemplateBudget,
    pub(crate) queries: u64,
    start_ms: u64,
    clock: Arc<dyn Clock>,
}

impl BudgetTracker {
    pub(crate) fn start(limits: TemplateBudget, clock: Arc<dyn Clock>) -> Self {
        let start_ms = clock.monotonic_ms();
        Self { limits, queries: 0, start_ms, clock }
    }

    /// Milliseconds since the assembly started.
    pub(crate) fn elapsed_ms(&self) -> u64 {
        self.clock.monotonic_ms().saturating_sub(self.start_ms)
    }

    pub(crate) fn time_exceeded(&self) -> bool {
        self.elapsed_ms() >= self.limits.timeout_ms
    }

    /// Accounts for one query, or says which limit forbids it.
    pub(crate) fn take_query(&mut self) -> Result<(), BudgetLimit> {
        if self.time_exceeded() {
            return Err(BudgetLimit::Time);
        }
        if self.queries >= self.limits.max_queries {
            return Err(BudgetLimit::Queries);
        }
        self.queries += 1;
        Ok(())
    }
}
