//! Work-order state as a pure function of ledger entries (`WO_CREATED`, `WO_TRANSITIONED`,
//! `WO_TRANSITION_REFUSED`): nothing else holds it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::WorkOrder;
use crate::ledger::{LedgerEntry, event};

/// One step of a work order's history: a creation, a transition or a refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryItem {
    /// Ledger position.
    pub seq: u64,
    /// Time of the entry (RFC 3339).
    pub timestamp: String,
    /// `WO_CREATED`, `WO_TRANSITIONED` or `WO_TRANSITION_REFUSED`.
    pub event_type: String,
    /// State left (absent for a creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// State entered, or asked for when refused.
    pub to: String,
    /// Who asked.
    pub actor: String,
    /// Why (the caller's reason, or the refusal's).
    pub reason: String,
    /// The refusal code (refusals only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// A work order and where it stands, derived from the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkOrderState {
    /// The document recorded at creation.
    pub work_order: WorkOrder,
    /// The current state.
    pub state: String,
    /// `seq` of the entry that set the state.
    pub state_seq: u64,
    /// Every creation, transition and refusal, oldest first.
    pub history: Vec<HistoryItem>,
}

fn text(e: &LedgerEntry, key: &str) -> Option<String> {
    e.metadata.get(key).and_then(|v| v.as_str()).map(str::to_string)
}

fn item(e: &LedgerEntry) -> HistoryItem {
    HistoryItem {
        seq: e.seq,
        timestamp: e.timestamp.clone(),
        event_type: e.event_type.clone(),
        from: text(e, "from"),
        to: text(e, "to").or_else(|| text(e, "state")).unwrap_or_default(),
        actor: text(e, crate::policy::ACTOR_KEY).unwrap_or_default(),
        reason: e.reason.clone().unwrap_or_default(),
        code: text(e, "code"),
    }
}

/// Every work order in `entries` (any order of `seq` is fine: entries are applied by `seq`),
/// by id. Entries of other event types are ignored; a `WO_TRANSITIONED` whose `from` is not the
/// state the fold holds is ignored too (it cannot be written by the kernel, which checks it
/// under the ledger lock), and so is a `WO_CREATED` for an id already created.
pub fn derive(entries: &[LedgerEntry]) -> BTreeMap<String, WorkOrderState> {
    let mut sorted: Vec<&LedgerEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.seq);
    let mut out: BTreeMap<String, WorkOrderState> = BTreeMap::new();
    for e in sorted {
        let Some(id) = e.work_order_id.clone() else { continue };
        match e.event_type.as_str() {
            event::WO_CREATED if !out.contains_key(&id) => {
                let doc = e.metadata.get("work_order").cloned().and_then(|v| serde_json::from_value(v).ok());
                if let (Some(work_order), Some(state)) = (doc, text(e, "state")) {
                    out.insert(id, WorkOrderState { work_order, state, state_seq: e.seq, history: vec![item(e)] });
                }
            }
            event::WO_TRANSITIONED => {
                if let Some(w) = out.get_mut(&id)
                    && text(e, "from").as_deref() == Some(w.state.as_str())
                    && let Some(to) = text(e, "to")
                {
                    w.state = to;
                    w.state_seq = e.seq;
                    w.history.push(item(e));
                }
            }
            event::WO_TRANSITION_REFUSED => {
                if let Some(w) = out.get_mut(&id) {
                    w.history.push(item(e));
                }
            }
            _ => {}
        }
    }
    out
}
