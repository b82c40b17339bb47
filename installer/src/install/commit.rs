//! Install, phase "commit": journal (fsynced) → `INSTALL_STARTED` (and `POLICY_WAIVED` under
//! `--dev`) → move files in (old ones aside) → append ownership rows → receipt → rebuild
//! derived registries → journal `committed` → `INSTALLED` last. A failure after the journal is
//! rolled back from it (`install_archive`); a crash is rolled back or completed by `recover`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use cp_kernel::{
    GateCode, OwnershipRow, Plane, Receipt, ReceiptFile, ReceiptWaiver, RegistryKind, Trust, event, fsx, fsx::FsError,
    receipt_dir, registry_path,
};

use super::journal::{Journal, JournalState, exists, missing_dirs, move_file, write_replace};
use super::prepare::Prepared;
use super::{InstallAction, InstallError, InstallOptions, Installer, durable, now};
use crate::registries::{append_ownership, rebuild_registries};

/// The policy id of the `--cp2-compat` path-authorization waiver.
pub(crate) const CP2_PATH_POLICY: &str = "cp2.path_authorization";

impl Installer {
    pub(super) fn commit(
        &self,
        plane: &Plane,
        txn: &str,
        txn_dir: &Path,
        p: &Prepared,
        opts: &InstallOptions,
    ) -> Result<(), InstallError> {
        let m = &p.manifest;
        let id = &m.package_id;
        let sync = durable(plane);
        let mut step = 0u32;
        let mut tick = |name: &str| -> Result<(), InstallError> {
            step += 1;
            tracing::trace!(step, name, package = %id, "install step");
            if opts.fail_at_step == Some(step) {
                return Err(InstallError::Injected { step });
            }
            Ok(())
        };
        let own = registry_path(plane, RegistryKind::FileOwnership);
        let ownership_existed = exists(&own);
        let mut final_metadata = Map::new();
        final_metadata.insert("version".into(), json!(m.version));
        final_metadata.insert("layer".into(), json!(m.layer));
        final_metadata.insert("manifest_sha256".into(), json!(p.manifest_sha256));
        final_metadata.insert("archive_sha256".into(), json!(p.archive_sha256));
        final_metadata.insert("trust".into(), json!(p.trust.as_receipt()));
        final_metadata.insert("action".into(), serde_json::to_value(p.action).unwrap_or(Value::Null));
        final_metadata.insert("files".into(), json!(p.read.files.len()));
        if let Some(record) = &opts.cp2_record {
            final_metadata.insert("cp2".into(), Value::Object(record.clone()));
        }
        if !p.transfers.is_empty() {
            final_metadata.insert(
                "transfers".into(),
                json!(
                    p.transfers.iter().map(|(path, r)| json!({"path": path, "from": r.package_id})).collect::<Vec<_>>()
                ),
            );
        }
        let mut journal = Journal {
            txn_id: txn.to_string(),
            package_id: id.clone(),
            version: m.version.clone(),
            state: JournalState::Prepared,
            moves: m.assets.iter().map(|a| a.path.trim_start_matches("./").to_string()).collect(),
            removals: p.removals.iter().map(|(x, _)| x.clone()).collect(),
            created_dirs: missing_dirs(plane.root(), m.assets.iter().map(|a| a.path.trim_start_matches("./"))),
            ownership_len_before: if ownership_existed { fsx::metadata(&own)?.len() } else { 0 },
            ownership_existed,
            had_receipt: p.previous.is_some(),
            final_event: event::INSTALLED.to_string(),
            final_reason: format!("{id} {} installed", m.version),
            final_metadata,
        };
        journal.save(txn_dir, sync)?;
        tick("journal")?;
        let mut start = Vec::new();
        if !p.waived_paths.is_empty() {
            start.push(
                Self::entry(event::POLICY_WAIVED, txn, id, &m.version)
                    .decision("WAIVED")
                    .reason(format!(
                        "--cp2-compat waived G1_PATH_UNAUTHORIZED for {} paths outside the framework's path_authorizations",
                        p.waived_paths.len()
                    ))
                    .meta("gate", "G1")
                    .meta("code", GateCode::G1PathUnauthorized.as_str())
                    .meta("policy_id", CP2_PATH_POLICY)
                    .meta("actor", "operator")
                    .meta("paths", json!(p.waived_paths)),
            );
        }
        if let Trust::Waived(code) = &p.trust {
            start.push(
                Self::entry(event::POLICY_WAIVED, txn, id, &m.version)
                    .decision("WAIVED")
                    .reason(format!("--dev waived {code}"))
                    .meta("gate", "G5")
                    .meta("code", code.as_str()),
            );
        }
        let mut started = Self::entry(event::INSTALL_STARTED, txn, id, &m.version)
            .meta("action", serde_json::to_value(p.action).unwrap_or(Value::Null));
        if p.action == InstallAction::Forced {
            started = started
                .reason(format!("--force over installed {}", p.previous.as_ref().map_or("", |r| r.version.as_str())));
        }
        start.push(started);
        Self::log(plane, start)?;
        tick("install_started")?;

        let root = plane.root();
        for (path, _) in &p.removals {
            move_file(&root.join(path), &txn_dir.join("backup").join(path), sync)?;
        }
        for path in &journal.moves {
            let target = plane.resolve(path)?;
            if exists(&target) {
                move_file(&target, &txn_dir.join("backup").join(path), sync)?;
            }
            move_file(&txn_dir.join("files").join(path), &target, sync)?;
            tick("move")?;
        }

        let date = now();
        let class: BTreeMap<&str, &str> =
            m.assets.iter().map(|a| (a.path.trim_start_matches("./"), a.classification.as_str())).collect();
        let mut rows = Vec::new();
        for (path, old) in &p.transfers {
            rows.push(OwnershipRow { replaced_date: date.clone(), superseded_by: id.clone(), ..old.clone() });
            let _ = path;
        }
        for (_, old) in &p.removals {
            rows.push(OwnershipRow { replaced_date: date.clone(), superseded_by: "-".into(), ..old.clone() });
        }
        let mut files = Vec::new();
        for path in &journal.moves {
            let f = &p.read.files[path];
            let c = class.get(path.as_str()).copied().unwrap_or_default().to_string();
            rows.push(OwnershipRow {
                file_path: path.clone(),
                package_id: id.clone(),
                sha256: f.sha256.clone(),
                classification: c.clone(),
                installed_date: date.clone(),
                replaced_date: String::new(),
                superseded_by: String::new(),
            });
            files.push(ReceiptFile { path: path.clone(), sha256: f.sha256.clone(), classification: c });
        }
        append_ownership(plane, &rows, sync)?;
        tick("ownership")?;

        let rdir = receipt_dir(plane, id);
        if p.previous.is_some() && exists(&rdir) {
            move_file(&rdir, &txn_dir.join("receipt_backup"), sync)?;
        }
        fsx::create_dir_all(&rdir)?;
        let receipt = Receipt {
            package_id: id.clone(),
            version: m.version.clone(),
            layer: m.layer,
            framework_id: m.framework_id.clone(),
            spec_id: m.spec_id.clone(),
            dependencies: m.dependencies.clone(),
            manifest_sha256: p.manifest_sha256.clone(),
            archive_sha256: p.archive_sha256.clone(),
            installed_date: date,
            trust: p.trust.as_receipt(),
            files,
            waivers: p
                .waived_paths
                .iter()
                .map(|path| ReceiptWaiver {
                    policy_id: CP2_PATH_POLICY.into(),
                    code: GateCode::G1PathUnauthorized.as_str().into(),
                    path: path.clone(),
                })
                .collect(),
        };
        write_replace(&rdir.join("manifest.json"), &p.manifest_bytes, sync)?;
        let rtext = serde_json::to_vec_pretty(&receipt)
            .map_err(|e| FsError::new("encode", rdir.join("receipt.json"), e.into()))?;
        write_replace(&rdir.join("receipt.json"), &rtext, sync)?;
        tick("receipt")?;

        rebuild_registries(plane, sync)?;
        tick("registries")?;

        journal.state = JournalState::Committed;
        journal.save(txn_dir, sync)?;
        tick("committed")?;
        Self::finish(plane, &journal)?;
        tracing::trace!(phase = "installed_logged", "install phase");
        Ok(())
    }

    pub(super) fn finish(plane: &Plane, j: &Journal) -> Result<(), InstallError> {
        let mut e = Self::entry(&j.final_event, &j.txn_id, &j.package_id, &j.version)
            .decision("ALLOW")
            .reason(j.final_reason.clone());
        e.metadata = j.final_metadata.clone();
        Self::log(plane, vec![e])
    }
}
