//! The event store's entries: the events of one accepted ingest request are one `OPS_EVENTS`
//! entry (`metadata.events`: `{id, event}` in request order, duplicates left out), and reading
//! them back — also the one-event `OPS_EVENT` entries that the service's first versions wrote.
//!
//! One entry per request rather than per event (decision, docs/OPS.md): a request is what the
//! service accepts or refuses as a whole, and a ledger row per event cost more than the whole
//! rest of an ingest (the SQLite ledger writes a ~1 KiB row and five index entries per entry).
//! The hash chain covers every event as before. Provenance names the tenant, and the agent,
//! trace and span when every event of the entry shares them, so a ledger query by those finds
//! entries all of whose events match.

use serde::Deserialize;
use serde_json::{Value, json};

use cp_kernel::{LedgerEntry, NewEntry, Provenance, event};

use crate::error::OpsError;
use crate::event::Event;

/// Event types of the event store, current first.
pub(crate) const EVENT_TYPES: [&str; 2] = [event::OPS_EVENTS, event::OPS_EVENT];

/// An event with its id (the client's `id`, else one the service assigned).
pub(crate) type IdEvent = (String, Event);

/// The value every event of `events` has for `f`, if they all have the same one.
fn shared<'a>(events: &'a [IdEvent], f: impl Fn(&'a Event) -> Option<&'a str>) -> Option<String> {
    let (first, rest) = events.split_first()?;
    let v = f(&first.1)?;
    rest.iter().all(|(_, e)| f(e) == Some(v)).then(|| v.to_string())
}

/// The `OPS_EVENTS` entry of a request's events (at least one) for `tenant`.
pub(crate) fn events_entry(tenant: &str, events: &[IdEvent]) -> NewEntry {
    let list: Vec<Value> = events.iter().map(|(id, e)| json!({"id": id, "event": e})).collect();
    NewEntry::new(event::OPS_EVENTS)
        .decision("STORED")
        .provenance(Provenance {
            tenant_id: Some(tenant.to_string()),
            agent_id: shared(events, |e| Some(e.agent_id.as_str())),
            trace_id: shared(events, |e| e.field("trace_id")),
            span_id: shared(events, |e| e.field("span_id")),
            ..Provenance::default()
        })
        .meta("count", list.len())
        .meta("events", Value::Array(list))
}

fn undecodable(e: &LedgerEntry, what: impl std::fmt::Display) -> OpsError {
    OpsError::Usage(format!("{} entry {} (seq {}): {what}", e.event_type, e.id, e.seq))
}

fn decode_event(e: &LedgerEntry, v: &Value, at: &str) -> Result<Event, OpsError> {
    Event::deserialize(v).map_err(|err| undecodable(e, format_args!("undecodable event at {at}: {err}")))
}

/// The events of an event-store entry, in stored order.
pub(crate) fn events_of(e: &LedgerEntry) -> Result<Vec<IdEvent>, OpsError> {
    if e.event_type != event::OPS_EVENTS {
        // One event per entry (the first versions): its id is the submission id.
        let id = e.submission_id.clone().unwrap_or_else(|| e.id.clone());
        let ev = decode_event(e, e.metadata.get("event").unwrap_or(&Value::Null), "metadata.event")?;
        return Ok(vec![(id, ev)]);
    }
    let list =
        e.metadata.get("events").and_then(Value::as_array).ok_or_else(|| undecodable(e, "no metadata.events array"))?;
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let id = v
                .get("id")
                .and_then(Value::as_str)
                .ok_or_else(|| undecodable(e, format_args!("no id at metadata.events[{i}]")))?;
            Ok((
                id.to_string(),
                decode_event(e, v.get("event").unwrap_or(&Value::Null), &format!("metadata.events[{i}]"))?,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Status;

    fn ev(agent: &str, trace: Option<&str>) -> Event {
        let mut fields = std::collections::BTreeMap::new();
        if let Some(t) = trace {
            fields.insert("trace_id".to_string(), t.to_string());
        }
        Event {
            timestamp: "2026-12-04T10:00:00.000Z".into(),
            ts_ms: 1_796_378_400_000,
            agent_id: agent.into(),
            workflow_id: "w".into(),
            status: Status::Success,
            latency_ms: 1,
            cost_usd: 0.5,
            fields,
            tokens: Default::default(),
        }
    }

    fn sealed(n: NewEntry) -> LedgerEntry {
        let store = cp_kernel::MemoryStore::new("HO1/ops-events-t-x");
        cp_kernel::LedgerStore::append(&store, n).unwrap()
    }

    #[test]
    fn an_entry_gives_back_its_events_in_order() {
        let evs = vec![("a".to_string(), ev("x", Some("t1"))), ("b".to_string(), ev("y", Some("t1")))];
        let stored = sealed(events_entry("acme", &evs));
        assert_eq!(events_of(&stored).unwrap(), evs);
        assert_eq!(stored.metadata["count"], 2);
        assert_eq!(stored.tenant_id.as_deref(), Some("acme"));
        // Provenance only where every event agrees.
        assert_eq!(stored.agent_id, None);
        assert_eq!(stored.trace_id.as_deref(), Some("t1"));
    }

    #[test]
    fn shared_provenance_needs_every_event() {
        let one = vec![("a".to_string(), ev("x", None))];
        let stored = sealed(events_entry("acme", &one));
        assert_eq!((stored.agent_id.as_deref(), stored.trace_id.as_deref()), (Some("x"), None));
        let mixed = vec![("a".to_string(), ev("x", Some("t1"))), ("b".to_string(), ev("x", None))];
        assert_eq!(sealed(events_entry("acme", &mixed)).trace_id, None);
    }

    #[test]
    fn one_event_entries_of_the_first_versions_are_read() {
        let e = ev("x", None);
        let old = NewEntry::new(event::OPS_EVENT)
            .submission("old-1")
            .provenance(Provenance { tenant_id: Some("acme".into()), ..Provenance::default() })
            .meta("event", serde_json::to_value(&e).unwrap());
        assert_eq!(events_of(&sealed(old)).unwrap(), vec![("old-1".to_string(), e)]);
    }

    #[test]
    fn a_damaged_entry_is_an_error_naming_where() {
        let bad = NewEntry::new(event::OPS_EVENTS).meta("events", json!([{"id": "a", "event": {"agent_id": 3}}]));
        let err = events_of(&sealed(bad)).unwrap_err().to_string();
        assert!(err.contains("metadata.events[0]"), "{err}");
        let missing = NewEntry::new(event::OPS_EVENTS);
        assert!(events_of(&sealed(missing)).unwrap_err().to_string().contains("no metadata.events"));
    }
}
