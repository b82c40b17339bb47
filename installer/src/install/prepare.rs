//! Install, phase "prepare": read the archive strictly into the transaction's staging
//! directory, then G0A → version policy → ownership → G0B → G1 → G1-COMPLETE → G5, each with the
//! gates the governance policy selects for the package's layer. Nothing in the plane moves; a
//! refusal is returned to `install_archive`, which logs `INSTALL_FAILED`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cp_kernel::{
    FrameworkSet, GateCode, GateError, GateId, GateIssue, GateReport, GenesisCheck, GovernancePolicy, InstallConfig,
    Manifest, OwnershipRow, PendingFrameworkPolicy, Plane, ReadArchive, Receipt, Trust, Version, check_chain,
    check_completeness, check_declaration, check_ownership, check_signature, check_staged_documents, current_owners,
    fsx, is_framework_manifest, is_spec_manifest, load_receipts, plane_schemas, read_archive_with, sha256_prefixed,
};

use super::journal::exists;
use super::{InstallAction, InstallError, InstallOptions, Installer, durable, gate_fail};
use crate::sign::read_signature;

/// What `prepare` established for one archive: the checked manifest and staged files, the trust
/// decision, the ownership transfers and removals, the previous receipt, and the gate reports.
pub(super) struct Prepared {
    pub(super) manifest: Manifest,
    pub(super) manifest_bytes: Vec<u8>,
    pub(super) manifest_sha256: String,
    pub(super) archive_sha256: String,
    pub(super) read: ReadArchive,
    pub(super) trust: Trust,
    pub(super) transfers: Vec<(String, OwnershipRow)>,
    pub(super) removals: Vec<(String, OwnershipRow)>,
    pub(super) previous: Option<Receipt>,
    pub(super) action: InstallAction,
    pub(super) gates: Vec<GateReport>,
    /// Paths whose G1 `G1_PATH_UNAUTHORIZED` finding `--cp2-compat` waived.
    pub(super) waived_paths: Vec<String>,
}

impl Installer {
    pub(super) fn prepare(
        &self,
        plane: &Plane,
        cfg: &InstallConfig,
        path: &Path,
        txn_dir: &Path,
        expected_id: Option<&str>,
        opts: &InstallOptions,
    ) -> Result<Prepared, InstallError> {
        let read = read_archive_with(path, &cfg.archive, Some(&txn_dir.join("files")), durable(plane))
            .map_err(|source| InstallError::Archive { archive: path.to_path_buf(), source })?;
        tracing::trace!(phase = "staged", "install phase");
        // Fails closed: no check runs without the plane's schemas.
        let schemas = plane_schemas(plane).map_err(GateError::from)?;
        let (manifest, g0a) = check_declaration(&read, expected_id, Some(&schemas));
        let label = expected_id.unwrap_or("(archive)");
        let Some(m) = manifest.filter(|_| g0a.passed()) else {
            return Err(gate_fail(label, g0a));
        };
        let id = m.package_id.clone();
        // Every document the package ships passes its schema and loader before anything moves.
        let staged: Vec<(String, PathBuf)> =
            read.files.keys().map(|p| (p.clone(), txn_dir.join("files").join(p))).collect();
        let invalid = check_staged_documents(plane, &staged)?;
        if !invalid.is_empty() {
            let summary = format!("{} invalid governed documents", invalid.len());
            let issues = invalid.into_iter().map(|i| i.pkg(&id)).collect();
            return Err(gate_fail(&id, GateReport::new(GateId::G0a, summary, issues)));
        }
        let manifest_bytes = read.manifest_bytes.clone().unwrap_or_default();
        let manifest_sha256 = sha256_prefixed(&manifest_bytes);
        let archive_sha256 = sha256_prefixed(&fsx::read(path)?);
        let mut gates = vec![g0a];
        // The gates this layer runs and the genesis rules come from the governance policy (the
        // plane's, else the compiled-in default). G0A always runs: it yields the manifest whose
        // layer selects the rest.
        let policy = GovernancePolicy::for_plane(plane, &schemas)?;
        let runs = |g: GateId| policy.install_gates_for(m.layer).contains(&g);

        tracing::trace!(phase = "g0a", "install phase");
        // Version policy.
        let receipts = load_receipts(plane)?;
        let previous = receipts.get(&id).cloned();
        let action = match &previous {
            None => InstallAction::Installed,
            Some(r) => {
                let have = Version::parse(&r.version);
                match have.as_ref().map(|h| m.semver().cmp(h)) {
                    Some(std::cmp::Ordering::Greater) => InstallAction::Upgraded,
                    _ if opts.force => InstallAction::Forced,
                    Some(std::cmp::Ordering::Equal) => InstallAction::AlreadyInstalled,
                    _ => {
                        return Err(InstallError::DowngradeRefused {
                            package: id,
                            installed: r.version.clone(),
                            requested: m.version.clone(),
                        });
                    }
                }
            }
        };
        if action == InstallAction::AlreadyInstalled {
            return Ok(Prepared {
                manifest: m,
                manifest_bytes,
                manifest_sha256,
                archive_sha256,
                read,
                trust: Trust::Policy,
                transfers: Vec::new(),
                removals: Vec::new(),
                previous,
                action,
                gates,
                waived_paths: Vec::new(),
            });
        }

        // Ownership.
        let owners = current_owners(plane)?;
        let allowed: BTreeSet<String> =
            m.replaces.iter().cloned().chain(m.deps().into_iter().map(|d| d.package_id)).collect();
        let mut transfers = Vec::new();
        for a in &m.assets {
            let p = a.path.trim_start_matches("./").to_string();
            match owners.get(&p) {
                Some(row) if row.package_id == id => {}
                Some(row) if allowed.contains(&row.package_id) => transfers.push((p, row.clone())),
                Some(row) => {
                    return Err(InstallError::OwnershipConflict {
                        package: id,
                        path: p,
                        owner: row.package_id.clone(),
                    });
                }
                None => {
                    if exists(&plane.resolve(&p)?) {
                        let why = if plane.layout().installer_maintained.contains(&p) {
                            "the installer maintains this registry itself (derived from receipts); a package \
                             cannot ship it (a Control Plane v2 package: install it with `cp-install cp2`, \
                             which merges shipped registries)"
                        } else {
                            "an orphan file (see `cpctl gates --gate G0B`); remove it, or install the package \
                             that declares it"
                        };
                        return Err(InstallError::UnownedConflict { package: id, path: p, why: why.into() });
                    }
                }
            }
        }
        let new_paths: BTreeSet<String> =
            m.assets.iter().map(|a| a.path.trim_start_matches("./").to_string()).collect();
        let removals: Vec<(String, OwnershipRow)> = owners
            .iter()
            .filter(|(p, r)| r.package_id == id && !new_paths.contains(*p))
            .map(|(p, r)| (p.clone(), r.clone()))
            .collect();

        tracing::trace!(phase = "ownership", "install phase");
        // G0B: the plane is clean before anything moves.
        if runs(GateId::G0b) {
            let (owned, issues) = check_ownership(plane, &owners)?;
            let g0b = GateReport::new(GateId::G0b, format!("{owned} files owned"), issues);
            if !g0b.passed() {
                return Err(gate_fail(&id, g0b));
            }
            gates.push(g0b);
        }

        tracing::trace!(phase = "g0b", "install phase");
        // G1 with the package's own framework and spec manifests overlaid.
        let staged_root = txn_dir.join("files");
        let overlay: Vec<(String, PathBuf)> = read
            .files
            .keys()
            .filter(|p| policy.self_registration && (is_framework_manifest(p) || is_spec_manifest(p)))
            .map(|p| (p.clone(), staged_root.join(p)))
            .collect();
        // Typed, schema-validated frameworks (unknown keys refused, globs compiled).
        let frameworks = FrameworkSet::load(plane, &schemas, &overlay).map_err(GateError::from)?;
        // Frameworks registered on the plane itself (not only shipped by this package).
        let registered =
            frameworks.frameworks.values().filter(|f| plane.resolve(&f.path).is_ok_and(|p| p.is_file())).count();
        let exempt = |c: GenesisCheck| policy.is_exempt(m.layer, registered, c);
        let exempt_code = |code: GateCode| match code {
            GateCode::G1FrameworkMissing => exempt(GenesisCheck::FrameworkRegistered),
            GateCode::G1SpecMissing => exempt(GenesisCheck::SpecRegistered),
            GateCode::G1PathUnauthorized => exempt(GenesisCheck::PathAuthorized),
            _ => false,
        };
        let pinned = opts.pinned.get(&id) == Some(&manifest_sha256);
        let may_defer = pinned && cfg.pending_framework_policy == PendingFrameworkPolicy::DeferPinned;
        let installed: BTreeMap<String, String> = receipts
            .values()
            .filter(|r| r.package_id != id)
            .map(|r| (r.package_id.clone(), r.version.clone()))
            .collect();
        let mut waived_paths = Vec::new();
        if runs(GateId::G1) {
            let mut issues = check_chain(&m, &frameworks, &installed, may_defer);
            issues.retain(|i| !exempt_code(i.code));
            waived_paths = waive_cp2_paths(&mut issues, opts);
            let g1 = GateReport::new(GateId::G1, format!("{} assets authorized", m.assets.len()), issues);
            if !g1.passed() {
                return Err(gate_fail(&id, g1));
            }
            gates.push(g1);
        }
        let shipped: Vec<String> = frameworks
            .frameworks
            .values()
            .filter(|f| read.files.contains_key(&f.path))
            .map(|f| f.manifest.framework_id.clone())
            .collect();
        if runs(GateId::G1Complete) && !exempt(GenesisCheck::ExpectedSpecs) {
            let g1c = GateReport::new(
                GateId::G1Complete,
                format!("{} frameworks shipped", shipped.len()),
                check_completeness(&frameworks, Some(&shipped)),
            );
            if !g1c.passed() {
                return Err(gate_fail(&id, g1c));
            }
            gates.push(g1c);
        }

        tracing::trace!(phase = "g1", "install phase");
        // G5.
        let trust = if runs(GateId::G5) {
            let sig = read_signature(path)?;
            let trust = match check_signature(&manifest_sha256, sig.as_ref(), plane.config(), pinned, opts.dev) {
                Ok(t) => t,
                Err(issue) => {
                    let issue: GateIssue = issue.pkg(&id);
                    return Err(gate_fail(&id, GateReport::new(GateId::G5, "signature refused", vec![issue])));
                }
            };
            gates.push(GateReport::new(GateId::G5, format!("trusted: {}", trust.as_receipt()), Vec::new()));
            trust
        } else {
            // The policy does not ask for a signature at this layer.
            Trust::Policy
        };
        Ok(Prepared {
            manifest: m,
            manifest_bytes,
            manifest_sha256,
            archive_sha256,
            read,
            trust,
            transfers,
            removals,
            previous,
            action,
            gates,
            waived_paths,
        })
    }
}

/// Under `--cp2-compat`, for a package converted from a v2 archive, removes the G1
/// `G1_PATH_UNAUTHORIZED` findings from `issues` and returns their paths (to be recorded as
/// waivers). Otherwise changes nothing: refusing is the default.
fn waive_cp2_paths(issues: &mut Vec<GateIssue>, opts: &InstallOptions) -> Vec<String> {
    if !opts.cp2_compat || opts.cp2_record.is_none() {
        return Vec::new();
    }
    let mut paths = Vec::new();
    issues.retain(|i| {
        let waive = i.code == GateCode::G1PathUnauthorized && i.path.is_some();
        if waive {
            paths.extend(i.path.clone());
        }
        !waive
    });
    paths
}
