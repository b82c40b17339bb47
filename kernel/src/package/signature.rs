//! The detached package signature document (`<archive>.sig`), as G5 reads it.
//!
//! Format: JSON `{"algorithm":"ed25519","key_id":"…","manifest_sha256":"sha256:…",
//! "signature":"<128 hex>"}`. The signed message is the ASCII text `sha256:<hex>` of the
//! archive's `manifest.json` bytes, so a signature covers every file through the manifest's
//! hashes. Never does: read or write `.sig` files (the installer does), decide trust (G5 does,
//! against the plane's trust store).

use serde::{Deserialize, Serialize};

/// The detached signature document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureFile {
    /// Always `ed25519`.
    pub algorithm: String,
    /// Key id of the signer.
    pub key_id: String,
    /// `sha256:` of the manifest bytes (the signed message).
    pub manifest_sha256: String,
    /// 128 lowercase hex digits.
    pub signature: String,
}
