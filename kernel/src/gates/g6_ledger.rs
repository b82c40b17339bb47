//! G6 ledger: every ledger chain of the plane verifies — each stored body re-hashes to its
//! `entry_hash`, each `previous_hash` is the previous entry's hash, `seq` is dense from 0, and
//! no record is junk. Reports the first bad `seq` per ledger.
//!
//! PROVISIONAL: a minimal private check ([`verify_chain`]); `ledger::verify::verify_store`
//! (with checkpoints) replaces its body when it lands.

use std::ops::ControlFlow;

use super::{Gate, GateError, GateId, GateIssue, GateReport};
use crate::ledger::{GENESIS_PREVIOUS_HASH, LedgerSet, LedgerStore, compute_entry_hash};
use crate::plane::Plane;

/// Verifies one store; `Ok(None)` when intact, else the first bad seq and why.
pub fn verify_chain(store: &dyn LedgerStore) -> Result<(u64, Option<(u64, String)>), GateError> {
    let mut prev = GENESIS_PREVIOUS_HASH.to_string();
    let mut count = 0u64;
    let mut bad: Option<(u64, String)> = None;
    let scanned = store.scan_raw(&mut |rec| {
        let pos = rec.position;
        let fail = |why: String| Some((pos, why));
        bad = if let Some(d) = rec.defect {
            fail(format!("unreadable record: {d}"))
        } else if compute_entry_hash(rec.body) != rec.entry_hash {
            fail("content changed: body does not hash to entry_hash".into())
        } else {
            match serde_json::from_slice::<serde_json::Value>(rec.body) {
                Err(e) => fail(format!("body is not JSON: {e}")),
                Ok(v) => {
                    let seq = v.get("seq").and_then(serde_json::Value::as_u64);
                    let ph = v.get("previous_hash").and_then(serde_json::Value::as_str).unwrap_or_default();
                    if seq != Some(count) {
                        fail(format!("gap: expected seq {count}, found {seq:?}"))
                    } else if ph != prev {
                        fail("link broken: previous_hash is not the previous entry_hash".into())
                    } else {
                        None
                    }
                }
            }
        };
        if bad.is_some() {
            return ControlFlow::Break(());
        }
        prev = rec.entry_hash.to_string();
        count += 1;
        ControlFlow::Continue(())
    });
    if let Err(e) = scanned {
        // A store that cannot even be scanned is broken at the record it reports.
        let (seq, msg) = match &e {
            crate::ledger::LedgerError::Corrupt { seq, message, .. } => (*seq, message.clone()),
            other => (count, other.to_string()),
        };
        return Ok((count, Some((seq, format!("unreadable record: {msg}")))));
    }
    Ok((count, bad))
}

/// Plane-level G6.
#[derive(Debug, Clone, Copy)]
pub struct G6;

impl Gate for G6 {
    fn id(&self) -> GateId {
        GateId::G6
    }

    fn run(&self, plane: &Plane) -> Result<GateReport, GateError> {
        let set = LedgerSet::new(plane);
        let names = set.list()?;
        let mut errors = Vec::new();
        let mut entries = 0u64;
        for n in &names {
            let store = set.open(&n.to_string())?;
            let (count, bad) = verify_chain(store.as_ref())?;
            entries += count;
            if let Some((seq, why)) = bad {
                errors.push(GateIssue::new("G6_CHAIN_BROKEN", format!("seq {seq}: {why}")).at(n.to_string()));
            }
        }
        Ok(GateReport::new(GateId::G6, format!("{} ledgers, {entries} entries verified", names.len()), errors))
    }
}
