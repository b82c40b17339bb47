//! G6 ledger: every ledger chain of the plane verifies through
//! [`crate::ledger::verify::verify_store`] — each stored body re-hashes to its `entry_hash`,
//! each `previous_hash` is the previous entry's hash, `seq` is dense from 0, and no record is
//! junk. Reports the first bad record per ledger as `G6_CHAIN_BROKEN` with its `seq` and
//! defect kind (`seq 2: content changed: …`); a stored index column (SQLite `tenant_id`,
//! `event_type`, …) that differs from the hashed entry is `G6_COLUMN_MISMATCH` naming the seq
//! and the column (`seq 12: column mismatch: stored column tenant_id is "victim" …`). When `HOT/ledger/checkpoints/` holds saved
//! checkpoints ([`crate::ledger::checkpoint::CHECKPOINTS_DIR`]), each ledger is verified
//! against its latest one with the signer's key from the plane trust store
//! (`trusted_keys`): a truncated or rewritten history, an unknown signer or a bad signature is
//! `G6_CHECKPOINT_MISMATCH`.
//!
//! A ledger the plane knows it had (its manifest of ledgers, a saved checkpoint, a `CHECKPOINT`
//! entry of `HOT/governance`; see [`crate::ledger::missing_ledgers`]) whose file is gone is
//! `G6_LEDGER_MISSING`.
//!
//! Never does: change a ledger.

use super::{Gate, GateCode, GateError, GateId, GateIssue, GateReport};
use crate::ledger::checkpoint::{Checkpoint, latest_in_plane, verify_against_checkpoint};
use crate::ledger::verify::{DefectKind, VerifyReport, missing_report, verify_store};
use crate::ledger::{LedgerSet, LedgerStore, missing_ledgers};
use crate::plane::Plane;
use crate::signing::PublicKeyFile;

/// The G6 issue for a ledger's verification report, if it failed.
pub(crate) fn chain_issue(report: &VerifyReport) -> Option<GateIssue> {
    report.first_bad.as_ref().map(|d| {
        let code = match d.kind {
            DefectKind::Truncated | DefectKind::Rewritten => GateCode::G6CheckpointMismatch,
            DefectKind::ColumnMismatch => GateCode::G6ColumnMismatch,
            DefectKind::Missing => GateCode::G6LedgerMissing,
            _ => GateCode::G6ChainBroken,
        };
        GateIssue::new(code, format!("seq {}: {}: {}", d.seq, d.kind, d.message)).at(&report.ledger)
    })
}

/// Verifies `store` against `cp` with the signer's key from the plane trust store.
fn against_checkpoint(
    plane: &Plane,
    store: &dyn LedgerStore,
    cp: &Checkpoint,
    file: &str,
) -> Result<Result<VerifyReport, GateIssue>, GateError> {
    let mismatch = |m: String| GateIssue::new(GateCode::G6CheckpointMismatch, format!("{file}: {m}")).at(store.name());
    let Some(k) = plane.config().trusted_keys.iter().find(|k| k.key_id == cp.key_id) else {
        return Ok(Err(mismatch(format!("signed by key {} which is not in the plane trust store", cp.key_id))));
    };
    let key = PublicKeyFile { algorithm: "ed25519".into(), key_id: k.key_id.clone(), public_key: k.public_key.clone() };
    match verify_against_checkpoint(store, cp, &key) {
        Ok(r) => Ok(Ok(r)),
        Err(crate::ledger::checkpoint::CheckpointError::Ledger(e)) => Err(e.into()),
        Err(e) => Ok(Err(mismatch(e.to_string()))),
    }
}

/// Plane-level G6.
#[derive(Debug, Clone, Copy)]
pub(crate) struct G6;

impl Gate for G6 {
    fn id(&self) -> GateId {
        GateId::G6
    }

    fn run(&self, plane: &Plane) -> Result<GateReport, GateError> {
        let set = LedgerSet::new(plane);
        let names = set.list()?;
        let checkpoints = latest_in_plane(plane)?;
        let mut errors = Vec::new();
        let mut entries = 0u64;
        for n in &names {
            let store = set.open(&n.to_string())?;
            let report = match checkpoints.get(&n.to_string()) {
                None => verify_store(store.as_ref())?,
                Some((path, cp)) => {
                    let file = plane.relative(path).unwrap_or_else(|| path.display().to_string());
                    match against_checkpoint(plane, store.as_ref(), cp, &file)? {
                        Ok(r) => r,
                        Err(issue) => {
                            errors.push(issue);
                            verify_store(store.as_ref())?
                        }
                    }
                }
            };
            entries += report.entries;
            errors.extend(chain_issue(&report));
        }
        for m in missing_ledgers(&set)? {
            errors.extend(chain_issue(&missing_report(&m)));
        }
        Ok(GateReport::new(GateId::G6, format!("{} ledgers, {entries} entries verified", names.len()), errors))
    }
}
