//! G0A declaration: every archive file is declared, every declared asset present, every hash
//! matching, every path safe, the manifest schema-valid and its id the one asked for.
//! Plane level: every installed manifest copy matches its receipt and declares exactly the
//! receipt's files, no install journal is left unresolved (`G0_INSTALL_PENDING`), and every
//! governed document of the plane passes its check
//! ([`super::documents`]).

use std::collections::BTreeSet;

use super::{Gate, GateCode, GateError, GateId, GateIssue, GateReport};
use crate::fsx;
use crate::hashing;
use crate::package::archive::ReadArchive;
use crate::package::manifest::{HashRequirement, Manifest, ManifestError, parse_manifest};
use crate::package::receipt::{load_receipts, receipt_dir};
use crate::plane::Plane;
use crate::schema::SchemaSet;

/// The gate code of a manifest refusal.
pub(crate) fn manifest_code(e: &ManifestError) -> GateCode {
    match e {
        ManifestError::Json { .. } => GateCode::G0aManifestJson,
        ManifestError::IdMismatch { .. } => GateCode::G0aIdMismatch,
        ManifestError::BadHashFormat { .. } => GateCode::G0aBadHashFormat,
        ManifestError::UnsafePath { .. } => GateCode::G0aUnsafePath,
        ManifestError::Invalid { .. } => GateCode::G0aManifestInvalid,
    }
}

/// Install-time G0A over a read archive. Returns the manifest when it could be parsed.
pub fn check_archive(
    read: &ReadArchive,
    expected_id: Option<&str>,
    schemas: Option<&SchemaSet>,
) -> (Option<Manifest>, GateReport) {
    let Some(bytes) = read.manifest_bytes.as_deref() else {
        let e = GateIssue::new(GateCode::G0aManifestMissing, "archive has no manifest.json at its root");
        return (None, GateReport::new(GateId::G0a, "no manifest", vec![e]));
    };
    let m = match parse_manifest(bytes, expected_id, HashRequirement::Required, schemas) {
        Ok(m) => m,
        Err(e) => {
            let issue = GateIssue::new(manifest_code(&e), e.to_string()).at("manifest.json");
            return (None, GateReport::new(GateId::G0a, "manifest refused", vec![issue]));
        }
    };
    let mut errors = Vec::new();
    let declared: BTreeSet<String> = m.assets.iter().map(|a| a.path.trim_start_matches("./").to_string()).collect();
    for f in read.files.keys() {
        if !declared.contains(f) {
            errors.push(
                GateIssue::new(GateCode::G0aUndeclared, "file in the archive is not declared").at(f).pkg(&m.package_id),
            );
        }
    }
    for a in &m.assets {
        let p = a.path.trim_start_matches("./");
        match read.files.get(p) {
            None => errors.push(
                GateIssue::new(GateCode::G0aMissingAsset, "declared asset is not in the archive")
                    .at(p)
                    .pkg(&m.package_id),
            ),
            Some(f) if Some(&f.sha256) != a.sha256.as_ref() => errors.push(
                GateIssue::new(
                    GateCode::G0aHashMismatch,
                    format!("declared {}, archive has {}", a.sha256.as_deref().unwrap_or("-"), f.sha256),
                )
                .at(p)
                .pkg(&m.package_id),
            ),
            Some(_) => {}
        }
    }
    let summary = format!("{} assets declared, {} files in archive", m.assets.len(), read.files.len());
    (Some(m), GateReport::new(GateId::G0a, summary, errors))
}

/// Plane-level G0A.
#[derive(Debug, Clone, Copy)]
pub(crate) struct G0a;

impl Gate for G0a {
    fn id(&self) -> GateId {
        GateId::G0a
    }

    fn run(&self, plane: &Plane) -> Result<GateReport, GateError> {
        let receipts = load_receipts(plane)?;
        // Fails closed: with schemas that do not load, the document check below reports them
        // and manifests are checked against the built-in schemas (never against none).
        let schemas = match crate::package::config::plane_schemas(plane) {
            Ok(s) => s,
            Err(_) => std::sync::Arc::new(SchemaSet::embedded()?),
        };
        let mut errors = super::pending::pending_issues(plane)?;
        let (documents, invalid) = super::documents::check_plane_documents(plane)?;
        errors.extend(invalid);
        let mut assets = 0usize;
        for (id, r) in &receipts {
            let mpath = receipt_dir(plane, id).join("manifest.json");
            if !mpath.is_file() {
                errors.push(GateIssue::new(GateCode::G0aManifestMissing, "installed manifest copy is missing").pkg(id));
                continue;
            }
            let bytes = fsx::read(&mpath)?;
            if hashing::sha256_prefixed(&bytes) != r.manifest_sha256 {
                errors.push(
                    GateIssue::new(
                        GateCode::G0aHashMismatch,
                        "installed manifest differs from the receipt's manifest_sha256",
                    )
                    .pkg(id),
                );
                continue;
            }
            let m = match parse_manifest(&bytes, Some(id), HashRequirement::Required, Some(&schemas)) {
                Ok(m) => m,
                Err(e) => {
                    errors.push(GateIssue::new(manifest_code(&e), e.to_string()).pkg(id));
                    continue;
                }
            };
            assets += m.assets.len();
            let rf: BTreeSet<(String, String)> = r.files.iter().map(|f| (f.path.clone(), f.sha256.clone())).collect();
            let mf: BTreeSet<(String, String)> = m
                .assets
                .iter()
                .map(|a| (a.path.trim_start_matches("./").to_string(), a.sha256.clone().unwrap_or_default()))
                .collect();
            for (p, _) in mf.difference(&rf) {
                errors.push(
                    GateIssue::new(GateCode::G0aMissingAsset, "declared asset not recorded as installed").at(p).pkg(id),
                );
            }
            for (p, _) in rf.difference(&mf) {
                errors.push(
                    GateIssue::new(GateCode::G0aUndeclared, "installed file not declared by the manifest")
                        .at(p)
                        .pkg(id),
                );
            }
        }
        let summary = format!("{} packages, {assets} assets declared, {documents} governed documents", receipts.len());
        Ok(GateReport::new(GateId::G0a, summary, errors))
    }
}
