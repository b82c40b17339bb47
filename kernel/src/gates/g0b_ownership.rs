//! G0B plane ownership: every file under every governed root (in every tier, `*` globs
//! allowed, whether or not a package wrote there yet) and in every directory a package wrote
//! into is owned by exactly one installed package and matches its recorded hash; no orphans,
//! no missing files; plane level, no install journal left unresolved (`G0_INSTALL_PENDING`).
//! Installer-maintained files (derived registries) are checked by
//! `registries rebuild --verify` instead.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use globset::{Glob, GlobMatcher};

use super::{Gate, GateCode, GateError, GateId, GateIssue, GateReport};
use crate::fsx;
use crate::hashing;
use crate::package::receipt::current_owners;
use crate::plane::{Plane, Tier};
use crate::registry::OwnershipRow;

/// Every governed directory of the plane that exists, as plane-relative paths.
pub(crate) fn governed_dirs(plane: &Plane) -> Result<Vec<String>, GateError> {
    let mut out = BTreeSet::new();
    for tier in Tier::ALL {
        let tdir = plane.tier_dir(tier);
        if !tdir.is_dir() {
            continue;
        }
        let names: Vec<String> =
            fsx::read_dir(&tdir)?.iter().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        for root in &plane.layout().governed_roots {
            if root.contains('*') {
                let m: GlobMatcher =
                    Glob::new(root).map_err(|source| GateError::Glob { glob: root.clone(), source })?.compile_matcher();
                for n in names.iter().filter(|n| m.is_match(n.as_str())) {
                    if tdir.join(n).is_dir() {
                        out.insert(format!("{}/{n}", tier.dir_name()));
                    }
                }
            } else if tdir.join(root).is_dir() {
                out.insert(format!("{}/{root}", tier.dir_name()));
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// The files G0B judges: every file below the governed roots, plus the files directly inside
/// every directory an owned file lives in; installer-maintained files excluded. Second list:
/// symlinks and special files (always orphans).
pub(crate) fn governed_files(
    plane: &Plane,
    owners: &BTreeMap<String, OwnershipRow>,
) -> Result<(BTreeSet<String>, BTreeSet<String>), GateError> {
    let mut files = BTreeSet::new();
    let mut odd = BTreeSet::new();
    for d in governed_dirs(plane)? {
        let (f, o) = fsx::walk_files(plane.root().join(&d))?;
        files.extend(f.into_iter().map(|x| format!("{d}/{x}")));
        odd.extend(o.into_iter().map(|x| format!("{d}/{x}")));
    }
    let owned_dirs: BTreeSet<&str> = owners.keys().filter_map(|p| p.rsplit_once('/').map(|(d, _)| d)).collect();
    for d in owned_dirs {
        let dir = plane.root().join(d);
        if !dir.is_dir() {
            continue;
        }
        for e in fsx::read_dir(&dir)? {
            let rel = format!("{d}/{}", e.file_name().to_string_lossy());
            let ft = fsx::symlink_metadata(e.path())?.file_type();
            if ft.is_file() {
                files.insert(rel);
            } else if !ft.is_dir() {
                odd.insert(rel);
            }
        }
    }
    let maintained: BTreeSet<&str> = plane.layout().installer_maintained.iter().map(String::as_str).collect();
    files.retain(|f| !maintained.contains(f.as_str()));
    Ok((files, odd))
}

/// Checks ownership of the whole plane against `owners`. Returns (files owned, issues).
pub fn check_plane(
    plane: &Plane,
    owners: &BTreeMap<String, OwnershipRow>,
) -> Result<(usize, Vec<GateIssue>), GateError> {
    let (files, odd) = governed_files(plane, owners)?;
    let mut errors = Vec::new();
    for p in &odd {
        errors.push(GateIssue::new(GateCode::G0bOrphan, "symlink or special file under a governed root").at(p));
    }
    for p in &files {
        match owners.get(p) {
            None => errors.push(GateIssue::new(GateCode::G0bOrphan, "file is owned by no installed package").at(p)),
            Some(row) => {
                let actual = hashing::sha256_prefixed(&fsx::read(plane.root().join(p))?);
                if actual != row.sha256 {
                    errors.push(
                        GateIssue::new(
                            GateCode::G0bHashMismatch,
                            format!("recorded {}, file has {actual}", row.sha256),
                        )
                        .at(p)
                        .pkg(&row.package_id),
                    );
                }
            }
        }
    }
    for (p, row) in owners {
        if !Path::new(&plane.root().join(p)).is_file() {
            errors.push(GateIssue::new(GateCode::G0bMissing, "owned file is missing").at(p).pkg(&row.package_id));
        }
    }
    Ok((owners.len(), errors))
}

/// Plane-level G0B.
#[derive(Debug, Clone, Copy)]
pub(crate) struct G0b;

impl Gate for G0b {
    fn id(&self) -> GateId {
        GateId::G0b
    }

    fn run(&self, plane: &Plane) -> Result<GateReport, GateError> {
        let owners = current_owners(plane)?;
        let mut errors = super::pending::pending_issues(plane)?;
        let (owned, issues) = check_plane(plane, &owners)?;
        errors.extend(issues);
        let orphans = errors.iter().filter(|e| e.code == GateCode::G0bOrphan).count();
        Ok(GateReport::new(GateId::G0b, format!("{owned} files owned, {orphans} orphans"), errors))
    }
}
