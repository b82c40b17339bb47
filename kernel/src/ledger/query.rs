//! Ledger queries.

use serde::{Deserialize, Serialize};

use super::{LedgerEntry, Provenance};

/// Order of query results by `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Oldest first.
    #[default]
    Asc,
    /// Newest first ("most recent N" = `Desc` + `limit`).
    Desc,
}

/// A filter over a ledger. Every set field must match (AND); `event_types` matches any of its
/// values (OR). Stores answer indexed filters (event type, provenance, time) without a full scan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    /// Event types, any of which matches; empty = all.
    #[serde(default)]
    pub event_types: Vec<String>,
    /// Provenance fields that must be equal.
    #[serde(default)]
    pub provenance: Provenance,
    /// Only entries with `timestamp >= since` (RFC 3339).
    #[serde(default)]
    pub since: Option<String>,
    /// Only entries with `timestamp < until` (RFC 3339).
    #[serde(default)]
    pub until: Option<String>,
    /// Only entries with `seq > after_seq`.
    #[serde(default)]
    pub after_seq: Option<u64>,
    /// Result order.
    #[serde(default)]
    pub order: Order,
    /// Maximum number of results.
    #[serde(default)]
    pub limit: Option<usize>,
}

impl LedgerQuery {
    /// Whether `e` matches this filter (ignores order and limit). Reference semantics for
    /// every backend.
    pub fn matches(&self, e: &LedgerEntry) -> bool {
        if !self.event_types.is_empty() && !self.event_types.contains(&e.event_type) {
            return false;
        }
        let ep = e.provenance();
        for f in Provenance::FIELDS {
            if let Some(want) = self.provenance.get(f)
                && ep.get(f) != Some(want)
            {
                return false;
            }
        }
        if let Some(s) = &self.since
            && e.timestamp.as_str() < s.as_str()
        {
            return false;
        }
        if let Some(u) = &self.until
            && e.timestamp.as_str() >= u.as_str()
        {
            return false;
        }
        if let Some(a) = self.after_seq
            && e.seq <= a
        {
            return false;
        }
        true
    }
}
