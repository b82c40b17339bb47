//! The registries derived from install receipts and installed manifests, and the ownership
//! registry the install transaction appends to.
//!
//! `frameworks_registry.csv` and `specs_registry.csv` are derived from the installed framework
//! and spec manifests, `packages_state.csv` from the receipts; all three are rewritten after
//! every install/uninstall, so no row is ever lost to an ownership transfer.
//! `file_ownership.csv` is append-only; its current state must equal the receipts' files.
//! Receipts themselves (their format and reading) are the kernel's.

use std::collections::BTreeMap;

use serde::Serialize;

use cp_kernel::{
    FrameworkError, FrameworkRow, FrameworkSet, OwnershipRow, PackageStateRow, Plane, Receipt, ReceiptError,
    RegistriesConfig, RegistryKind, SpecRow, Tier, current_ownership, derive_rows, encode_rows, fsx, load_receipts,
    plane_schemas, read_rows, registry_path,
};

/// The derived registries as a fresh rebuild would write them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DerivedRegistries {
    /// `frameworks_registry.csv` rows.
    pub frameworks: Vec<FrameworkRow>,
    /// `specs_registry.csv` rows.
    pub specs: Vec<SpecRow>,
    /// `packages_state.csv` rows.
    pub packages: Vec<PackageStateRow>,
}

/// Frameworks and specs from the installed manifests, typed ([`FrameworkSet`]; an unreadable
/// manifest is an error), with an absent `plane_id` falling back to the plane's and an absent
/// `created_at` to the owning package's install date.
fn derive_framework_rows(
    plane: &Plane,
    receipts: &BTreeMap<String, Receipt>,
) -> Result<(Vec<FrameworkRow>, Vec<SpecRow>), ReceiptError> {
    let schemas = plane_schemas(plane).map_err(|e| ReceiptError::Catalogue(FrameworkError::from(e)))?;
    let set = FrameworkSet::load(plane, &schemas, &[]).map_err(ReceiptError::Catalogue)?;
    if let Some((path, message)) = set.invalid.first() {
        return Err(ReceiptError::Catalogue(FrameworkError::Inconsistent {
            path: path.into(),
            message: message.clone(),
        }));
    }
    let date_of = |path: &str| {
        receipts.values().find(|r| r.files.iter().any(|f| f.path == path)).map(|r| r.installed_date.clone())
    };
    let frameworks: Vec<_> = set.frameworks.values().map(|f| (f.path.clone(), f.manifest.clone())).collect();
    let specs: Vec<_> = set.specs.values().map(|s| (s.path.clone(), s.spec.clone())).collect();
    let (mut fw, mut sp) = derive_rows(&frameworks, &specs);
    let plane_id = &plane.config().plane_id;
    for row in &mut fw {
        let path = set.frameworks.get(&row.framework_id).map(|f| f.path.as_str()).unwrap_or_default();
        fill(&mut row.plane_id, &mut row.created_at, plane_id, date_of(path));
    }
    for row in &mut sp {
        let path = set.specs.get(&row.spec_id).map(|s| s.path.as_str()).unwrap_or_default();
        fill(&mut row.plane_id, &mut row.created_at, plane_id, date_of(path));
    }
    fw.sort();
    sp.sort();
    Ok((fw, sp))
}

fn fill(plane_cell: &mut String, created_cell: &mut String, plane_id: &str, installed: Option<String>) {
    if plane_cell.is_empty() {
        *plane_cell = plane_id.to_string();
    }
    if created_cell.is_empty() {
        *created_cell = installed.unwrap_or_default();
    }
}

/// Computes the derived registries from receipts and installed manifests.
pub fn derive_registries(plane: &Plane) -> Result<DerivedRegistries, ReceiptError> {
    let receipts = load_receipts(plane)?;
    let (frameworks, specs) = derive_framework_rows(plane, &receipts)?;
    let packages = receipts
        .values()
        .map(|r| PackageStateRow {
            package_id: r.package_id.clone(),
            version: r.version.clone(),
            layer: r.layer.to_string(),
            status: "installed".into(),
            manifest_sha256: r.manifest_sha256.clone(),
            installed_date: r.installed_date.clone(),
        })
        .collect();
    Ok(DerivedRegistries { frameworks, specs, packages })
}

/// Rewrites the derived registries (atomically, one file at a time).
/// With `sync` every file is fsynced (durability `full`).
pub fn rebuild_registries(plane: &Plane, sync: bool) -> Result<DerivedRegistries, ReceiptError> {
    check_catalogue(&registry_catalogue(plane)?)?;
    let d = derive_registries(plane)?;
    fsx::create_dir_all(plane.dir(Tier::Hot, "registries"))?;
    let put = |kind: RegistryKind, bytes: Vec<u8>| {
        crate::install::journal::write_replace(&registry_path(plane, kind), &bytes, sync)
    };
    put(RegistryKind::Frameworks, encode_rows(RegistryKind::Frameworks, &d.frameworks, true))?;
    put(RegistryKind::Specs, encode_rows(RegistryKind::Specs, &d.specs, true))?;
    put(RegistryKind::PackagesState, encode_rows(RegistryKind::PackagesState, &d.packages, true))?;
    Ok(d)
}

/// Appends ownership rows to `file_ownership.csv` (header first when new).
pub(crate) fn append_ownership(plane: &Plane, rows: &[OwnershipRow], sync: bool) -> Result<(), ReceiptError> {
    let path = registry_path(plane, RegistryKind::FileOwnership);
    let new = !path.exists() || fsx::metadata(&path)?.len() == 0;
    if let Some(d) = path.parent() {
        fsx::create_dir_all(d)?;
    }
    crate::install::journal::append_bytes(&path, &encode_rows(RegistryKind::FileOwnership, rows, new), sync)?;
    Ok(())
}

/// One difference between a live registry and a fresh rebuild.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryDiff {
    /// Registry file name.
    pub registry: String,
    /// Key of the row (id or path).
    pub key: String,
    /// What differs.
    pub message: String,
}

/// The plane's registry catalogue (`HOT/config/registries.yaml`, else the compiled-in one).
pub fn registry_catalogue(plane: &Plane) -> Result<RegistriesConfig, ReceiptError> {
    let schemas = plane_schemas(plane).map_err(|e| ReceiptError::Catalogue(FrameworkError::from(e)))?;
    RegistriesConfig::for_plane(plane, &schemas).map_err(ReceiptError::Catalogue)
}

/// Checks that the catalogue lists, for every registry the kernel writes, exactly the columns
/// it writes (refusing to write registries the catalogue would call malformed).
pub fn check_catalogue(catalogue: &RegistriesConfig) -> Result<(), ReceiptError> {
    for kind in RegistryKind::ALL {
        let written: Vec<String> = kind.columns().iter().map(|c| (*c).to_string()).collect();
        let listed = catalogue.get(kind.file_name()).map(|r| r.columns.clone()).unwrap_or_default();
        if listed != written {
            return Err(ReceiptError::CatalogueMismatch {
                file: kind.file_name().to_string(),
                catalogue: listed,
                written,
            });
        }
    }
    Ok(())
}

/// Compares the live derived registries (and the current state of `file_ownership.csv`)
/// with a fresh rebuild from receipts + installed manifests. Empty = identical. First checks every live registry header
/// against the catalogue (`RegistriesConfig::verify_headers`): a header that differs is
/// reported (key `(header)`) and the rows are not compared.
pub fn verify_registries(plane: &Plane) -> Result<Vec<RegistryDiff>, ReceiptError> {
    let catalogue = registry_catalogue(plane)?;
    let headers = catalogue.verify_headers(plane).map_err(ReceiptError::Catalogue)?;
    if !headers.is_empty() {
        return Ok(headers
            .into_iter()
            .map(|h| RegistryDiff {
                registry: h.path,
                key: "(header)".into(),
                message: format!(
                    "header [{}] differs from the catalogue's columns [{}]",
                    h.found.join(", "),
                    h.expected.join(", ")
                ),
            })
            .collect());
    }
    let fresh = derive_registries(plane)?;
    let mut diffs = Vec::new();
    let live_fw: Vec<FrameworkRow> =
        read_rows(&registry_path(plane, RegistryKind::Frameworks), RegistryKind::Frameworks)?;
    let live_sp: Vec<SpecRow> = read_rows(&registry_path(plane, RegistryKind::Specs), RegistryKind::Specs)?;
    let live_pk: Vec<PackageStateRow> =
        read_rows(&registry_path(plane, RegistryKind::PackagesState), RegistryKind::PackagesState)?;
    fn cmp<T: PartialEq + std::fmt::Debug>(
        name: &str,
        key: impl Fn(&T) -> String,
        live: &[T],
        fresh: &[T],
        out: &mut Vec<RegistryDiff>,
    ) {
        let l: BTreeMap<String, &T> = live.iter().map(|r| (key(r), r)).collect();
        let f: BTreeMap<String, &T> = fresh.iter().map(|r| (key(r), r)).collect();
        for (k, fr) in &f {
            match l.get(k) {
                None => out.push(RegistryDiff { registry: name.into(), key: k.clone(), message: "row missing".into() }),
                Some(lr) if lr != fr => out.push(RegistryDiff {
                    registry: name.into(),
                    key: k.clone(),
                    message: format!("live {lr:?} differs from rebuilt {fr:?}"),
                }),
                _ => {}
            }
        }
        for k in l.keys().filter(|k| !f.contains_key(*k)) {
            out.push(RegistryDiff { registry: name.into(), key: k.clone(), message: "row not derivable".into() });
        }
        if live.len() != l.len() {
            out.push(RegistryDiff { registry: name.into(), key: String::new(), message: "duplicate rows".into() });
        }
    }
    cmp("frameworks_registry.csv", |r: &FrameworkRow| r.framework_id.clone(), &live_fw, &fresh.frameworks, &mut diffs);
    cmp("specs_registry.csv", |r: &SpecRow| r.spec_id.clone(), &live_sp, &fresh.specs, &mut diffs);
    cmp("packages_state.csv", |r: &PackageStateRow| r.package_id.clone(), &live_pk, &fresh.packages, &mut diffs);
    // Ownership: the current owner per path must be what the receipts say.
    let receipts = load_receipts(plane)?;
    let rows: Vec<OwnershipRow> =
        read_rows(&registry_path(plane, RegistryKind::FileOwnership), RegistryKind::FileOwnership)?;
    let current = current_ownership(&rows);
    let mut expected: BTreeMap<String, (String, String)> = BTreeMap::new();
    for r in receipts.values() {
        for f in &r.files {
            expected.insert(f.path.clone(), (r.package_id.clone(), f.sha256.clone()));
        }
    }
    for (p, (pkg, sha)) in &expected {
        match current.get(p) {
            Some(row) if &row.package_id == pkg && &row.sha256 == sha => {}
            Some(row) => diffs.push(RegistryDiff {
                registry: "file_ownership.csv".into(),
                key: p.clone(),
                message: format!("owned by {} {} but receipt of {pkg} says {sha}", row.package_id, row.sha256),
            }),
            None => diffs.push(RegistryDiff {
                registry: "file_ownership.csv".into(),
                key: p.clone(),
                message: format!("no ownership row (receipt of {pkg})"),
            }),
        }
    }
    for p in current.keys().filter(|p| !expected.contains_key(*p)) {
        diffs.push(RegistryDiff {
            registry: "file_ownership.csv".into(),
            key: p.clone(),
            message: "owned in the registry but in no receipt".into(),
        });
    }
    Ok(diffs)
}
