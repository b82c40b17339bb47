//! Recovery of interrupted transactions: a journal in state `prepared` is rolled back (files
//! restored, `INSTALL_RECOVERED` + `INSTALL_FAILED` logged); one in state `committed` is
//! completed (its final ledger entry appended once). Staged directories without a journal are
//! discarded, and the leftovers of killed installer processes removed (`cleanup`). Runs before
//! every install and uninstall, and as `cp-install recover` /
//! `cpctl plane recover`.

use serde::Serialize;

use cp_kernel::{InstallConfig, LedgerName, LedgerQuery, LedgerSet, Order, Plane, Provenance, event, fsx};

use super::cleanup::{remove_stale_pack_dirs, remove_stale_temporaries};
use super::journal::{Journal, JournalState, pending_transactions, roll_back};
use super::{InstallError, Installer, durable};

impl Installer {
    /// Rolls back or completes every interrupted transaction of the plane. Returns one line
    /// per transaction handled.
    pub fn recover(&self) -> Result<Vec<RecoveryAction>, InstallError> {
        let plane = self.plane_for_repair()?;
        let cfg = InstallConfig::for_plane(&plane)?;
        let staging = Self::staging_root(&plane, &cfg)?;
        let mut out = Vec::new();
        for p in remove_stale_temporaries(&plane)?.into_iter().chain(remove_stale_pack_dirs(&staging)?) {
            tracing::info!(path = %p.display(), "removed the leftover of an interrupted installer process");
        }
        for dir in pending_transactions(&staging)? {
            let txn = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let Some(j) = Journal::load(&dir)? else {
                // Nothing moved before the journal: the staged bytes are simply dropped.
                fsx::remove_dir_all(&dir)?;
                out.push(RecoveryAction { txn_id: txn, package_id: String::new(), action: "discarded".into() });
                continue;
            };
            let action = match j.state {
                JournalState::Prepared => {
                    roll_back(&plane, &dir, &j, durable(&plane))?;
                    let mut e = Self::entry(event::INSTALL_RECOVERED, &j.txn_id, &j.package_id, &j.version)
                        .reason("interrupted transaction rolled back")
                        .meta("action", "rolled_back")
                        .meta("interrupted", j.final_event.as_str());
                    e.decision = Some("ROLLBACK".into());
                    let failed = Self::entry(event::INSTALL_FAILED, &j.txn_id, &j.package_id, &j.version)
                        .decision("DENY")
                        .reason("interrupted; rolled back")
                        .meta("code", "INSTALL_INTERRUPTED");
                    Self::log(&plane, vec![e, failed])?;
                    "rolled_back"
                }
                JournalState::Committed => {
                    if !Self::final_logged(&plane, &j)? {
                        Self::log(
                            &plane,
                            vec![
                                Self::entry(event::INSTALL_RECOVERED, &j.txn_id, &j.package_id, &j.version)
                                    .decision("COMPLETE")
                                    .reason("interrupted transaction completed")
                                    .meta("action", "completed"),
                            ],
                        )?;
                        Self::finish(&plane, &j)?;
                    }
                    "completed"
                }
            };
            fsx::remove_dir_all(&dir)?;
            out.push(RecoveryAction { txn_id: txn, package_id: j.package_id.clone(), action: action.into() });
        }
        Self::discard(&staging, &staging.join("-"));
        Ok(out)
    }

    fn final_logged(plane: &Plane, j: &Journal) -> Result<bool, InstallError> {
        let q = LedgerQuery {
            event_types: vec![j.final_event.clone()],
            provenance: Provenance { package_id: Some(j.package_id.clone()), ..Provenance::default() },
            order: Order::Desc,
            limit: Some(4),
            ..LedgerQuery::default()
        };
        let store = LedgerSet::new(plane).open(LedgerName::PACKAGES)?;
        Ok(store.query(&q)?.iter().any(|e| e.submission_id.as_deref() == Some(j.txn_id.as_str())))
    }
}

/// What `recover` did with one interrupted transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryAction {
    /// Transaction id.
    pub txn_id: String,
    /// Package (empty when the transaction had not written its journal).
    pub package_id: String,
    /// `rolled_back`, `completed` or `discarded`.
    pub action: String,
}
