//! A package store: a directory of `PKG-X-<version>.tar.gz` archives (and their `.sig`).
//! Never does: install; it only indexes archives by reading their manifests strictly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cp_kernel::{
    ArchiveCaps, ArchiveError, HashRequirement, Manifest, ManifestError, parse_manifest, read_archive, sha256_prefixed,
};
use cp_kernel::{fsx, fsx::FsError};

/// An archive found in a store.
#[derive(Debug, Clone)]
pub struct StoreEntry {
    /// The archive.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// `sha256:` of the manifest bytes.
    pub manifest_sha256: String,
}

/// Errors indexing a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// File error.
    #[error(transparent)]
    Io(#[from] FsError),
    /// An archive is unreadable.
    #[error("store archive {}: {source}", path.display())]
    Archive {
        /// The archive.
        path: PathBuf,
        /// Why.
        #[source]
        source: ArchiveError,
    },
    /// An archive's manifest is refused.
    #[error("store archive {}: {source}", path.display())]
    Manifest {
        /// The archive.
        path: PathBuf,
        /// Why.
        #[source]
        source: ManifestError,
    },
}

/// The newest archive per package id in `dir`.
pub fn index_store(dir: &Path, caps: &ArchiveCaps) -> Result<BTreeMap<String, StoreEntry>, StoreError> {
    let mut out: BTreeMap<String, StoreEntry> = BTreeMap::new();
    for e in fsx::read_dir(dir)? {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("PKG-") || !name.ends_with(".tar.gz") {
            continue;
        }
        let path = e.path();
        let read =
            read_archive(&path, caps, None).map_err(|source| StoreError::Archive { path: path.clone(), source })?;
        let bytes = read.manifest_bytes.unwrap_or_default();
        let manifest = parse_manifest(&bytes, None, HashRequirement::Required, None)
            .map_err(|source| StoreError::Manifest { path: path.clone(), source })?;
        let entry = StoreEntry { path, manifest_sha256: sha256_prefixed(&bytes), manifest };
        match out.get(&entry.manifest.package_id) {
            Some(old) if old.manifest.semver() >= entry.manifest.semver() => {}
            _ => {
                out.insert(entry.manifest.package_id.clone(), entry);
            }
        }
    }
    Ok(out)
}
