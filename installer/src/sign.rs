//! Detached package signatures (`<archive>.sig`): writing them, and finding and reading the
//! one beside an archive. The document ([`SignatureFile`]) is the kernel's, which G5 checks.
//!
//! Format: JSON `{"algorithm":"ed25519","key_id":"…","manifest_sha256":"sha256:…",
//! "signature":"<128 hex>"}`. The signed message is the ASCII text `sha256:<hex>` of the
//! archive's `manifest.json` bytes, so a signature covers every file through the manifest's
//! hashes. Never does: decide trust (G5 does, against the plane's trust store).

use std::path::{Path, PathBuf};

use cp_kernel::fsx::{self, FsError};
use cp_kernel::{KeyPairFile, SignatureFile, SigningError};

/// Errors reading or writing signatures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// File error.
    #[error(transparent)]
    Io(#[from] FsError),
    /// Key error.
    #[error(transparent)]
    Key(#[from] SigningError),
    /// The `.sig` file is malformed.
    #[error("{}: malformed signature file: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// The `.sig` path of an archive.
pub fn signature_path(archive: &Path) -> PathBuf {
    let mut s = archive.as_os_str().to_os_string();
    s.push(".sig");
    PathBuf::from(s)
}

/// Signs `manifest_sha256` with `key` and writes `<archive>.sig`.
pub fn write_signature(archive: &Path, manifest_sha256: &str, key: &KeyPairFile) -> Result<SignatureFile, SignError> {
    let sig = SignatureFile {
        algorithm: "ed25519".into(),
        key_id: key.key_id.clone(),
        manifest_sha256: manifest_sha256.to_string(),
        signature: key.sign(manifest_sha256.as_bytes())?,
    };
    let path = signature_path(archive);
    let text = serde_json::to_string_pretty(&sig)
        .map_err(|e| SignError::Malformed { path: path.clone(), message: e.to_string() })?;
    fsx::write_atomic(&path, text + "\n")?;
    Ok(sig)
}

/// Reads `<archive>.sig`, `None` when there is none.
pub fn read_signature(archive: &Path) -> Result<Option<SignatureFile>, SignError> {
    let path = signature_path(archive);
    if !path.is_file() {
        return Ok(None);
    }
    let text = fsx::read_to_string(&path)?;
    serde_json::from_str(&text).map(Some).map_err(|e| SignError::Malformed { path, message: e.to_string() })
}
