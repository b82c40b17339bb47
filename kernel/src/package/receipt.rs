//! Install receipts (`HOT/installed/<PKG>/{receipt.json,manifest.json}`) and the current file
//! ownership (`HOT/registries/file_ownership.csv`, append-only, last row wins), as the gates
//! read them.
//!
//! Never does: write receipts or registries (the installer does, inside its transaction).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::fsx::{self, FsError};
use crate::plane::{Plane, Tier};
use crate::registry::{self, OwnershipRow, RegistryError, RegistryKind, current_ownership};
use crate::schema::DocumentError;

/// One installed file in a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptFile {
    /// Plane-relative path.
    pub path: String,
    /// `sha256:` + hex.
    pub sha256: String,
    /// Classification from the manifest.
    pub classification: String,
}

/// What was installed, when, and on what trust.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Package id.
    pub package_id: String,
    /// Version.
    pub version: String,
    /// Layer.
    pub layer: u32,
    /// Framework.
    pub framework_id: String,
    /// Spec.
    pub spec_id: String,
    /// Dependencies as declared.
    pub dependencies: Vec<String>,
    /// `sha256:` of the installed manifest bytes.
    pub manifest_sha256: String,
    /// `sha256:` of the archive file.
    pub archive_sha256: String,
    /// RFC 3339 install time.
    pub installed_date: String,
    /// Why the package was trusted: `signature:<key_id>`, `pinned`, `policy` (signatures not
    /// required) or `waived` (`--dev`).
    pub trust: String,
    /// Installed files.
    pub files: Vec<ReceiptFile>,
    /// Gate findings waived at install by an explicit, logged policy (`--cp2-compat`); the
    /// plane-level gates honour exactly these and nothing else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waivers: Vec<ReceiptWaiver>,
}

/// One gate finding waived at install (recorded in the receipt and, as `POLICY_WAIVED`, in the
/// packages ledger).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptWaiver {
    /// The waiving policy (`cp2.path_authorization`).
    pub policy_id: String,
    /// The gate error code waived (`G1_PATH_UNAUTHORIZED`).
    pub code: String,
    /// The plane-relative path the finding is about.
    pub path: String,
}

/// Errors of receipts and derived registries.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// File error.
    #[error(transparent)]
    Io(#[from] FsError),
    /// Registry error.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A framework/spec manifest could not be read.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// The registry catalogue (`HOT/config/registries.yaml`) could not be read.
    #[error("registry catalogue: {0}")]
    Catalogue(#[source] crate::framework::FrameworkError),
    /// The registry catalogue lists other columns for a registry than the kernel writes.
    #[error("registry catalogue lists columns [{}] for {file}, the kernel writes [{}]", catalogue.join(", "), written.join(", "))]
    CatalogueMismatch {
        /// The registry file name.
        file: String,
        /// Columns in the catalogue (empty when the catalogue does not list the file).
        catalogue: Vec<String>,
        /// Columns the kernel writes.
        written: Vec<String>,
    },
    /// A receipt is malformed.
    #[error("{}: malformed receipt: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The receipt directory of a package.
pub fn receipt_dir(plane: &Plane, package_id: &str) -> PathBuf {
    plane.dir(Tier::Hot, "installed").join(package_id)
}

/// The path of a registry file.
pub fn registry_path(plane: &Plane, kind: RegistryKind) -> PathBuf {
    plane.dir(Tier::Hot, "registries").join(kind.file_name())
}

/// Every receipt of the plane, by package id.
pub fn load_receipts(plane: &Plane) -> Result<BTreeMap<String, Receipt>, ReceiptError> {
    let dir = plane.dir(Tier::Hot, "installed");
    let mut out = BTreeMap::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for e in fsx::read_dir(&dir)? {
        let p = e.path().join("receipt.json");
        if !p.is_file() {
            continue;
        }
        let text = fsx::read_to_string(&p)?;
        let r: Receipt = serde_json::from_str(&text)
            .map_err(|err| ReceiptError::Malformed { path: p.clone(), message: err.to_string() })?;
        out.insert(r.package_id.clone(), r);
    }
    Ok(out)
}

/// Current ownership (path → row) of the plane.
pub fn current_owners(plane: &Plane) -> Result<BTreeMap<String, OwnershipRow>, ReceiptError> {
    let rows: Vec<OwnershipRow> =
        registry::read_rows(&registry_path(plane, RegistryKind::FileOwnership), RegistryKind::FileOwnership)?;
    Ok(current_ownership(&rows))
}
