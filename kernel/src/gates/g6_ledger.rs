//! G6 ledger: every ledger chain of the plane verifies through
//! [`crate::ledger::verify::verify_store`] — each stored body re-hashes to its `entry_hash`,
//! each `previous_hash` is the previous entry's hash, `seq` is dense from 0, and no record is
//! junk. Reports the first bad record per ledger as `G6_CHAIN_BROKEN` with its `seq` and
//! defect kind (`seq 2: content changed: …`).
//!
//! Never does: change a ledger.

use super::{Gate, GateError, GateId, GateIssue, GateReport};
use crate::ledger::LedgerSet;
use crate::ledger::verify::{VerifyReport, verify_store};
use crate::plane::Plane;

/// The G6 issue for a ledger's verification report, if it failed.
pub fn chain_issue(report: &VerifyReport) -> Option<GateIssue> {
    report.first_bad.as_ref().map(|d| {
        GateIssue::new("G6_CHAIN_BROKEN", format!("seq {}: {}: {}", d.seq, d.kind, d.message)).at(&report.ledger)
    })
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
            let report = verify_store(store.as_ref())?;
            entries += report.entries;
            errors.extend(chain_issue(&report));
        }
        Ok(GateReport::new(GateId::G6, format!("{} ledgers, {entries} entries verified", names.len()), errors))
    }
}
