//! Uninstall: refused while an installed package depends on the one removed; otherwise the
//! files it still owns are moved aside under a journal, the ownership rows are closed, the
//! receipt is removed, the derived registries are rebuilt and `UNINSTALLED` is logged last.

use serde_json::{Map, json};

use cp_kernel::{
    Dependency, InstallConfig, OwnershipRow, Plane, RegistryKind, current_owners, event, fsx, load_receipts,
    receipt_dir, registry_path,
};

use super::journal::{Journal, JournalState, exists, move_file, roll_back};
use super::{InstallAction, InstallError, InstallOptions, InstallOutcome, Installer, durable, now};
use crate::registries::{append_ownership, rebuild_registries};

impl Installer {
    /// Uninstalls a package: removes the files it still owns, records the removal in the
    /// ownership registry, removes its receipt, rebuilds the derived registries, logs
    /// `UNINSTALLED`. Refused while another installed package depends on it.
    pub fn uninstall(&self, package_id: &str, opts: &InstallOptions) -> Result<InstallOutcome, InstallError> {
        self.recover()?;
        let plane = self.plane_for_repair()?;
        let txn = uuid::Uuid::now_v7().to_string();
        let r = self.uninstall_inner(&plane, &txn, package_id, opts);
        if let Err(e) = &r
            && !opts.dry_run
        {
            Self::log_failure(&plane, &txn, package_id, None, e);
        }
        r
    }

    fn uninstall_inner(
        &self,
        plane: &Plane,
        txn: &str,
        package_id: &str,
        opts: &InstallOptions,
    ) -> Result<InstallOutcome, InstallError> {
        let cfg = InstallConfig::for_plane(plane)?;
        let receipts = load_receipts(plane)?;
        let Some(receipt) = receipts.get(package_id).cloned() else {
            return Err(InstallError::NotInstalled { package: package_id.to_string() });
        };
        let dependents: Vec<String> = receipts
            .values()
            .filter(|r| r.package_id != package_id)
            .filter(|r| r.dependencies.iter().filter_map(|d| Dependency::parse(d)).any(|d| d.package_id == package_id))
            .map(|r| r.package_id.clone())
            .collect();
        if !dependents.is_empty() {
            return Err(InstallError::DependentInstalled { package: package_id.to_string(), dependents });
        }
        let owners = current_owners(plane)?;
        let removals: Vec<(String, OwnershipRow)> =
            owners.iter().filter(|(_, r)| r.package_id == package_id).map(|(p, r)| (p.clone(), r.clone())).collect();
        let outcome = InstallOutcome {
            package_id: package_id.to_string(),
            version: receipt.version.clone(),
            action: if opts.dry_run { InstallAction::DryRun } else { InstallAction::Uninstalled },
            files: removals.len(),
            trust: receipt.trust.clone(),
            transfers: Vec::new(),
            gates: Vec::new(),
        };
        if opts.dry_run {
            return Ok(outcome);
        }
        let staging = Self::staging_root(plane, &cfg)?;
        let txn_dir = staging.join(txn);
        fsx::create_dir_all(&txn_dir)?;
        let sync = durable(plane);
        let own = registry_path(plane, RegistryKind::FileOwnership);
        let ownership_existed = exists(&own);
        let mut meta = Map::new();
        meta.insert("version".into(), json!(receipt.version));
        meta.insert("files".into(), json!(removals.len()));
        let journal = Journal {
            txn_id: txn.to_string(),
            package_id: package_id.to_string(),
            version: receipt.version.clone(),
            state: JournalState::Prepared,
            moves: Vec::new(),
            removals: removals.iter().map(|(p, _)| p.clone()).collect(),
            created_dirs: Vec::new(),
            ownership_len_before: if ownership_existed { fsx::metadata(&own)?.len() } else { 0 },
            ownership_existed,
            had_receipt: true,
            final_event: event::UNINSTALLED.to_string(),
            final_reason: format!("{package_id} {} uninstalled", receipt.version),
            final_metadata: meta,
        };
        journal.save(&txn_dir, sync)?;
        let run = || -> Result<(), InstallError> {
            for (p, _) in &removals {
                let src = plane.root().join(p);
                if exists(&src) {
                    move_file(&src, &txn_dir.join("backup").join(p), sync)?;
                }
            }
            let date = now();
            let rows: Vec<OwnershipRow> = removals
                .iter()
                .map(|(_, r)| OwnershipRow { replaced_date: date.clone(), superseded_by: "-".into(), ..r.clone() })
                .collect();
            append_ownership(plane, &rows, sync)?;
            move_file(&receipt_dir(plane, package_id), &txn_dir.join("receipt_backup"), sync)?;
            rebuild_registries(plane, sync)?;
            let mut j = journal.clone();
            j.state = JournalState::Committed;
            j.save(&txn_dir, sync)?;
            Self::finish(plane, &j)
        };
        match run() {
            Ok(()) => {
                Self::discard(&staging, &txn_dir);
                Ok(outcome)
            }
            Err(e) => {
                if let Ok(Some(j)) = Journal::load(&txn_dir)
                    && j.state == JournalState::Prepared
                    && roll_back(plane, &txn_dir, &j, sync).is_ok()
                {
                    Self::discard(&staging, &txn_dir);
                }
                Err(e)
            }
        }
    }
}
