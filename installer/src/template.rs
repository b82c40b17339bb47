//! `cpctl template install FILE.yaml`: an operator's attention template, installed the governed
//! way in one call — validated, wrapped in a package under the attention framework, signed
//! with the operator's key and installed through the gates.
//!
//! Owns: the package a template becomes (`PKG-TPL-<REST>` for `ATT-<REST>`, framework
//! `FMWK-004`, spec `SPEC-ATTENTION-001`, layer 3, depends on `PKG-ATTENTION-001`, one asset
//! `HOT/attention_templates/<template_id>.yaml`, inside FMWK-004's `path_authorizations`), the
//! operator signing key (`HOT/plane/operator.key.json`, mode 0600, created and trusted on first
//! use, `TRUST_KEY_ADDED` logged) and the package sources and archives it keeps in the operator
//! area (`HOT/plane/templates/`).
//! Never does: write a governed file itself (the installer does, through the gates), or
//! install a template that fails its schema.
//!
//! Re-running with the same file is a no-op (`already_installed`); a higher `version` upgrades;
//! the same version with other content is refused (bump `version`).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use cp_kernel::fsx::{self, FsError};
use cp_kernel::{
    KeyPairFile, LedgerName, LedgerSet, NewEntry, Plane, SchemaSet, TemplateIssue, TrustedKey, event, load_receipts,
    validate_template_file,
};

use crate::{InstallError, InstallOptions, InstallOutcome, Installer, PackError, SignError, pack_package};

/// Framework whose `path_authorizations` cover `HOT/attention_templates/ATT-*.yaml`.
pub const TEMPLATE_FRAMEWORK: &str = "FMWK-004";
/// Spec template packages declare.
pub const TEMPLATE_SPEC: &str = "SPEC-ATTENTION-001";
/// Package every template package depends on (it ships the framework and the service config).
pub const TEMPLATE_BASE_PACKAGE: &str = "PKG-ATTENTION-001";
/// Layer of template packages (the attention service's).
pub const TEMPLATE_LAYER: u32 = 3;

/// Errors of [`install_template`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateInstallError {
    /// The template fails its schema or checks (every issue located).
    #[error("{}: invalid attention template ({} issue(s)):{}", path.display(), issues.len(),
        issues.iter().map(|i| format!("\n    {i}")).collect::<String>())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Every issue, with line, column and field path.
        issues: Vec<TemplateIssue>,
    },
    /// The version is not `MAJOR.MINOR.PATCH`, which a package version must be.
    #[error("{}: version {version:?} must be MAJOR.MINOR.PATCH to be packaged", path.display())]
    Version {
        /// The file.
        path: PathBuf,
        /// The version.
        version: String,
    },
    /// The same version is installed with other content.
    #[error("{package} {version} is installed with other content; bump `version` in {} to upgrade", path.display())]
    SameVersionChanged {
        /// The package.
        package: String,
        /// Its version.
        version: String,
        /// The template file.
        path: PathBuf,
    },
    /// File I/O.
    #[error(transparent)]
    Io(#[from] FsError),
    /// Packing.
    #[error(transparent)]
    Pack(#[from] PackError),
    /// Signing or the key file.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// The key file.
    #[error(transparent)]
    Key(#[from] cp_kernel::SigningError),
    /// The install (gates, trust, …).
    #[error(transparent)]
    Install(#[from] InstallError),
    /// Schemas or plane documents.
    #[error(transparent)]
    Plane(#[from] cp_kernel::PlaneError),
    /// Schemas.
    #[error(transparent)]
    Schema(#[from] cp_kernel::SchemaError),
    /// The ledger.
    #[error(transparent)]
    Ledger(#[from] cp_kernel::LedgerError),
    /// Receipts.
    #[error(transparent)]
    Receipt(#[from] cp_kernel::ReceiptError),
}

/// What [`install_template`] did.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateInstall {
    /// The template id.
    pub template_id: String,
    /// The package it became.
    pub package_id: String,
    /// Where the template now lives (plane-relative).
    pub installed_path: String,
    /// The signed archive (in the operator area).
    pub archive: PathBuf,
    /// The operator key that signed it.
    pub key_id: String,
    /// Whether the key was created (and trusted) by this call.
    pub key_created: bool,
    /// The installer's outcome (action `installed`, `upgraded`, `already_installed`, …).
    pub outcome: InstallOutcome,
}

/// The operator area of `plane` (`HOT/plane/`).
fn operator_dir(plane: &Plane) -> PathBuf {
    plane.dir(cp_kernel::Tier::Hot, "plane")
}

/// The operator's signing key file.
pub fn operator_key_path(plane: &Plane) -> PathBuf {
    operator_dir(plane).join("operator.key.json")
}

/// The package id of template `ATT-<REST>`: `PKG-TPL-<REST>` upper-cased, `_` as `-`.
pub fn template_package_id(template_id: &str) -> String {
    let rest = template_id.strip_prefix("ATT-").unwrap_or(template_id);
    format!("PKG-TPL-{}", rest.to_ascii_uppercase().replace('_', "-"))
}

/// Validates `file`, packages it, signs it with the operator key (created and trusted when
/// absent) and installs it through the gates. See the module docs.
pub fn install_template(plane: &Plane, file: &Path, dry_run: bool) -> Result<TemplateInstall, TemplateInstallError> {
    let report = validate_template_file(&SchemaSet::for_plane(plane)?, file);
    let (Some(id), Some(version), true) = (report.template_id.clone(), report.version.clone(), report.valid) else {
        return Err(TemplateInstallError::Invalid { path: file.to_path_buf(), issues: report.issues });
    };
    if cp_kernel::Version::parse(&version).is_none() {
        return Err(TemplateInstallError::Version { path: file.to_path_buf(), version });
    }
    let bytes = fsx::read(file)?;
    let package = template_package_id(&id);
    let rel = format!("HOT/attention_templates/{id}.yaml");
    refuse_same_version_changed(plane, &package, &version, &rel, &bytes, file)?;
    let src = operator_dir(plane).join("templates").join(&package);
    write_package_source(&src, &package, &version, &id, &rel, &bytes)?;
    let store = operator_dir(plane).join("templates").join("store");
    let packed = pack_package(&src, &src.to_string_lossy(), &store)?;
    let (key, key_created) = operator_key(plane)?;
    crate::write_signature(&packed.path, &packed.manifest_sha256, &key)?;
    let opts = InstallOptions { dry_run, ..InstallOptions::default() };
    let outcome = Installer::new(plane).install_archive(&packed.path, Some(&package), &opts)?;
    Ok(TemplateInstall {
        template_id: id,
        package_id: package,
        installed_path: rel,
        archive: packed.path,
        key_id: key.key_id,
        key_created,
        outcome,
    })
}

fn refuse_same_version_changed(
    plane: &Plane,
    package: &str,
    version: &str,
    rel: &str,
    bytes: &[u8],
    file: &Path,
) -> Result<(), TemplateInstallError> {
    let receipts = load_receipts(plane)?;
    let Some(r) = receipts.get(package) else { return Ok(()) };
    let installed = plane.resolve(rel)?;
    let same = installed.is_file() && fsx::read(&installed)? == bytes;
    if r.version == version && !same {
        return Err(TemplateInstallError::SameVersionChanged {
            package: package.to_string(),
            version: version.to_string(),
            path: file.to_path_buf(),
        });
    }
    Ok(())
}

fn write_package_source(
    dir: &Path,
    package: &str,
    version: &str,
    id: &str,
    rel: &str,
    bytes: &[u8],
) -> Result<(), TemplateInstallError> {
    let manifest = json!({
        "package_id": package, "version": version, "schema_version": "1.2",
        "title": format!("Attention template {id}"),
        "description": format!("Operator template {id}, installed by cpctl template install."),
        "spec_id": TEMPLATE_SPEC, "framework_id": TEMPLATE_FRAMEWORK, "plane_id": "hot",
        "layer": TEMPLATE_LAYER, "dependencies": [TEMPLATE_BASE_PACKAGE],
        "assets": [{"path": rel, "classification": "template"}],
    });
    let target = dir.join(rel);
    if let Some(parent) = target.parent() {
        fsx::create_dir_all(parent)?;
    }
    fsx::write_atomic(&target, bytes)?;
    let text = serde_json::to_string_pretty(&manifest).unwrap_or_default() + "\n";
    fsx::write_atomic(dir.join("manifest.json"), text)?;
    Ok(())
}

/// The operator key: loaded, or created (mode 0600) and added to the trust store with
/// `TRUST_KEY_ADDED` on `HOT/governance`.
fn operator_key(plane: &Plane) -> Result<(KeyPairFile, bool), TemplateInstallError> {
    let path = operator_key_path(plane);
    let (key, created) = if path.is_file() {
        (KeyPairFile::load(&path)?, false)
    } else {
        let k = KeyPairFile::generate()?;
        k.save(&path)?;
        (k, true)
    };
    let mut plane = Plane::open(plane.root())?;
    let mut cfg = plane.config().clone();
    if !cfg.trusted_keys.iter().any(|t| t.key_id == key.key_id) {
        cfg.trusted_keys.push(TrustedKey {
            key_id: key.key_id.clone(),
            public_key: key.public_key.clone(),
            note: "operator key (cpctl template install)".into(),
        });
        plane.save_config(cfg)?;
        LedgerSet::new(&plane).open(LedgerName::GOVERNANCE)?.append(
            NewEntry::new(event::TRUST_KEY_ADDED)
                .decision("ALLOW")
                .reason(format!("operator key {} added to the trust store by cpctl template install", key.key_id))
                .meta("key_id", key.key_id.as_str())
                .meta("public_key", key.public_key.as_str()),
        )?;
    }
    Ok((key, created))
}
