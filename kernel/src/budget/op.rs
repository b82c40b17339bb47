//! Budget operations as the ledger records them (`metadata.budget` of an entry): one typed enum,
//! tagged by `op`. The budgeter writes them and [`super::BudgetState`] and
//! [`super::RateState`] read them back; nothing walks the JSON by key.
//!
//! Reading is strict where the state depends on a value: an entry whose `metadata.budget` does
//! not decode (unknown `op`, a missing scope or reservation id, a mistyped number) is reported
//! as malformed by the state, never partly applied.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::state::Reservation;
use crate::ledger::LedgerEntry;

/// One budget operation (`metadata.budget`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum BudgetOp {
    /// Limits set for a scope (`BUDGET_ALLOCATED`).
    Allocate {
        /// The scope (`tenant/acme`, …).
        scope: String,
        /// Token limit (`None`: none).
        max_tokens: Option<u64>,
        /// Cost limit in micro-units (`None`: none).
        max_cost_micros: Option<u64>,
        /// Warning threshold, percent of a limit (100 when absent).
        #[serde(default = "full_pct")]
        warn_threshold_pct: u8,
        /// Where the limits came from (`default`, `operator`, …).
        #[serde(default)]
        source: String,
    },
    /// A scope crossed its warning threshold (`BUDGET_WARNING`).
    Warn {
        /// The scope.
        scope: String,
        /// Tokens used, counting the reservation that crossed.
        #[serde(default)]
        used_tokens: u64,
        /// Micro-units used, counting the reservation that crossed.
        #[serde(default)]
        used_micros: u64,
    },
    /// Tokens and cost reserved before a prompt is sent (`PROMPT_SENT`).
    Reserve(Reservation),
    /// A reservation settled to the actual usage (`PROMPT_RECEIVED`).
    Settle {
        /// The reservation settled.
        reservation_id: String,
        /// Scopes charged.
        scopes: Vec<String>,
        /// Tokens spent.
        #[serde(default)]
        tokens: u64,
        /// Micro-units spent.
        #[serde(default)]
        micros: u64,
    },
    /// A reservation released unspent (`PROMPT_FAILED`, `BUDGET_RECOVERED`).
    Release {
        /// The reservation released.
        reservation_id: String,
    },
    /// A compensating entry correcting a settled request's cost (`COST_ADJUSTED`): the deltas
    /// are added to what the request's scopes spent; nothing is ever edited.
    Adjust {
        /// The request (reservation id) corrected.
        request_id: String,
        /// Scopes the request charged (copied from its settlement).
        scopes: Vec<String>,
        /// Signed correction in micro-units.
        delta_micros: i64,
        /// Signed correction in tokens.
        #[serde(default)]
        delta_tokens: i64,
    },
}

fn full_pct() -> u8 {
    100
}

impl BudgetOp {
    /// The operation recorded in `e`: `None` when the entry has no `metadata.budget`, `Some(Err)`
    /// when it has one that does not decode.
    pub fn of(e: &LedgerEntry) -> Option<Result<Self, serde_json::Error>> {
        e.metadata.get("budget").map(Self::deserialize)
    }

    /// The JSON object recorded as `metadata.budget`.
    pub fn to_value(&self) -> Value {
        // A tagged enum of strings, numbers and string lists always serializes.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}
