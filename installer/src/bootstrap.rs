//! The built-in bootstrap set: where its sources are and the pinned manifest digests that make
//! it the genesis trust anchor.
//!
//! Pins: `packages/bootstrap_pins.json` maps each built-in package id to the `sha256:` of the
//! manifest its deterministic archive carries; it is compiled in, and packages whose digest
//! matches are trusted without a signature. A test checks the file against a fresh pack of the
//! sources; `cp-install pins --write` regenerates it. Shared by `cp-install` and
//! `cpctl quickstart`. Never does: install anything itself.

/// Plane-independent path of the pins file inside a repository.
pub const PINS_PATH: &str = "packages/bootstrap_pins.json";

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::pack::{PackError, pack_all};
use cp_kernel::{env_vars, fsx, fsx::FsError};

/// The pinned digests file, compiled in.
pub const BOOTSTRAP_PINS_JSON: &str = include_str!("../../packages/bootstrap_pins.json");

/// The repository the kernel was built from (holds `packages/`).
pub const BUILT_FROM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Errors locating, packing or pinning the bootstrap set.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BootstrapError {
    /// File error.
    #[error(transparent)]
    Io(#[from] FsError),
    /// Packing failed.
    #[error(transparent)]
    Pack(#[from] PackError),
    /// The pins file is malformed.
    #[error("bootstrap_pins.json is malformed: {0}")]
    Pins(String),
    /// No bootstrap sources could be found.
    #[error("no package sources found (looked at ${var} and {built})", var = env_vars::CP_PACKAGES_DIR, built = BUILT_FROM)]
    NoSources,
}

/// The compiled-in pins: package id → `sha256:` of its archived manifest.
pub fn builtin_pins() -> Result<BTreeMap<String, String>, BootstrapError> {
    serde_json::from_str(BOOTSTRAP_PINS_JSON).map_err(|e| BootstrapError::Pins(e.to_string()))
}

/// Where the bootstrap sources are: `$CP_PACKAGES_DIR` (a repository root holding
/// `packages/`, or the `packages/` directory itself), else the repository this binary was
/// built from.
pub fn builtin_sources() -> Result<PathBuf, BootstrapError> {
    if let Some(v) = std::env::var_os(env_vars::CP_PACKAGES_DIR).filter(|v| !v.is_empty()) {
        let p = PathBuf::from(v);
        if p.join("packages").is_dir() {
            return Ok(p);
        }
        if p.file_name().is_some_and(|n| n == "packages")
            && let Some(parent) = p.parent()
        {
            return Ok(parent.to_path_buf());
        }
        return Ok(p);
    }
    let built = PathBuf::from(BUILT_FROM);
    if built.join("packages").is_dir() { Ok(built) } else { Err(BootstrapError::NoSources) }
}

/// Packs every source of `repo` into `work` (created) and returns the pins.
pub fn compute_pins(repo: &Path, work: &Path) -> Result<BTreeMap<String, String>, BootstrapError> {
    fsx::create_dir_all(work)?;
    let packed = pack_all(repo, work);
    let pins = packed.map(|v| v.into_iter().map(|p| (p.package_id, p.manifest_sha256)).collect());
    let _ = fsx::remove_dir_all(work);
    Ok(pins?)
}

/// The pins file text for `pins` (sorted, pretty, newline-terminated).
pub fn pins_text(pins: &BTreeMap<String, String>) -> String {
    serde_json::to_string_pretty(pins).unwrap_or_else(|_| "{}".into()) + "\n"
}
