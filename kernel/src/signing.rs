//! Ed25519 keys and detached signatures (package signatures for G5, ledger checkpoints).
//!
//! On disk a key file is JSON: `{"algorithm":"ed25519","key_id":"<16 hex>","public_key":"<64 hex>",
//! "secret_key":"<64 hex>"}`; a public key file is the same without `secret_key`. `key_id` is the
//! first 16 hex digits of SHA-256 of the public key bytes. Signatures are 128 lowercase hex
//! digits; verification uses `verify_strict`.

use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::fsx::{self, FsError};

/// Errors of key handling and signature checks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SigningError {
    /// File error.
    #[error(transparent)]
    Io(#[from] FsError),
    /// The key file is malformed.
    #[error("invalid key file {path}: {message}")]
    InvalidKey {
        /// The file (or `<memory>`).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The system random source failed.
    #[error("no randomness for key generation: {0}")]
    Random(String),
    /// The signature is malformed or does not verify.
    #[error("signature does not verify with key {key_id}")]
    BadSignature {
        /// The key tried.
        key_id: String,
    },
}

/// A public key (trust-store entry, checkpoint verifier).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicKeyFile {
    /// Always `ed25519`.
    pub algorithm: String,
    /// First 16 hex digits of SHA-256 of the public key.
    pub key_id: String,
    /// 64 lowercase hex digits.
    pub public_key: String,
}

/// A key pair as stored in a key file.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPairFile {
    /// Always `ed25519`.
    pub algorithm: String,
    /// First 16 hex digits of SHA-256 of the public key.
    pub key_id: String,
    /// 64 lowercase hex digits.
    pub public_key: String,
    /// 64 lowercase hex digits (the 32-byte seed).
    pub secret_key: String,
}

impl std::fmt::Debug for KeyPairFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPairFile").field("key_id", &self.key_id).finish_non_exhaustive()
    }
}

/// The key id of a public key.
pub(crate) fn key_id_of(public: &[u8; 32]) -> String {
    crate::hashing::sha256_hex(public)[..16].to_string()
}

fn decode32(hex: &str, what: &str, path: &str) -> Result<[u8; 32], SigningError> {
    let mut out = [0u8; 32];
    const_hex::decode_to_slice(hex, &mut out)
        .map_err(|e| SigningError::InvalidKey { path: path.to_string(), message: format!("{what}: {e}") })?;
    Ok(out)
}

impl KeyPairFile {
    /// A new random key pair.
    pub fn generate() -> Result<Self, SigningError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| SigningError::Random(e.to_string()))?;
        Ok(Self::from_seed(&seed))
    }

    /// The key pair of a 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let sk = SigningKey::from_bytes(seed);
        let pk = sk.verifying_key().to_bytes();
        Self {
            algorithm: "ed25519".into(),
            key_id: key_id_of(&pk),
            public_key: const_hex::encode(pk),
            secret_key: const_hex::encode(seed),
        }
    }

    /// Reads a key file.
    pub fn load(path: &Path) -> Result<Self, SigningError> {
        let text = fsx::read_to_string(path)?;
        let k: Self = serde_json::from_str(&text)
            .map_err(|e| SigningError::InvalidKey { path: path.display().to_string(), message: e.to_string() })?;
        let again = Self::from_seed(&decode32(&k.secret_key, "secret_key", &path.display().to_string())?);
        if again.public_key != k.public_key || again.key_id != k.key_id {
            return Err(SigningError::InvalidKey {
                path: path.display().to_string(),
                message: "public key or key_id does not match the secret key".into(),
            });
        }
        Ok(k)
    }

    /// Writes the key file (mode 0600 on Unix).
    pub fn save(&self, path: &Path) -> Result<(), SigningError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| SigningError::InvalidKey { path: path.display().to_string(), message: e.to_string() })?;
        fsx::write_atomic(path, text + "\n")?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| FsError::new("chmod", path, e))?;
        }
        Ok(())
    }

    /// The public half.
    pub fn public(&self) -> PublicKeyFile {
        PublicKeyFile {
            algorithm: self.algorithm.clone(),
            key_id: self.key_id.clone(),
            public_key: self.public_key.clone(),
        }
    }

    /// Signs `msg`; returns 128 hex digits.
    pub fn sign(&self, msg: &[u8]) -> Result<String, SigningError> {
        let seed = decode32(&self.secret_key, "secret_key", "<memory>")?;
        Ok(const_hex::encode(SigningKey::from_bytes(&seed).sign(msg).to_bytes()))
    }
}

impl PublicKeyFile {
    /// Reads a public key file (a full key pair file is accepted too; its secret is ignored).
    pub fn load(path: &Path) -> Result<Self, SigningError> {
        let text = fsx::read_to_string(path)?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| SigningError::InvalidKey { path: path.display().to_string(), message: e.to_string() })?;
        let get = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
        let (Some(algorithm), Some(key_id), Some(public_key)) = (get("algorithm"), get("key_id"), get("public_key"))
        else {
            return Err(SigningError::InvalidKey {
                path: path.display().to_string(),
                message: "expected algorithm, key_id and public_key".into(),
            });
        };
        let k = Self { algorithm, key_id, public_key };
        let pk = decode32(&k.public_key, "public_key", &path.display().to_string())?;
        if key_id_of(&pk) != k.key_id {
            return Err(SigningError::InvalidKey {
                path: path.display().to_string(),
                message: "key_id does not match".into(),
            });
        }
        Ok(k)
    }

    /// Writes the public key file.
    pub fn save(&self, path: &Path) -> Result<(), SigningError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| SigningError::InvalidKey { path: path.display().to_string(), message: e.to_string() })?;
        fsx::write_atomic(path, text + "\n")?;
        Ok(())
    }

    /// Verifies a hex signature over `msg` (strict verification).
    pub fn verify(&self, msg: &[u8], signature_hex: &str) -> Result<(), SigningError> {
        let bad = || SigningError::BadSignature { key_id: self.key_id.clone() };
        let pk = decode32(&self.public_key, "public_key", "<memory>")?;
        let vk = VerifyingKey::from_bytes(&pk).map_err(|_| bad())?;
        let mut sig = [0u8; 64];
        const_hex::decode_to_slice(signature_hex, &mut sig).map_err(|_| bad())?;
        vk.verify_strict(msg, &Signature::from_bytes(&sig)).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_roundtrip_and_tamper() {
        let k = KeyPairFile::from_seed(&[7u8; 32]);
        let sig = k.sign(b"hello").unwrap();
        k.public().verify(b"hello", &sig).unwrap();
        assert!(k.public().verify(b"hellp", &sig).is_err());
        let other = KeyPairFile::from_seed(&[8u8; 32]);
        assert!(other.public().verify(b"hello", &sig).is_err());
    }

    #[test]
    fn save_load() {
        let d = tempfile::tempdir().unwrap();
        let k = KeyPairFile::generate().unwrap();
        k.save(&d.path().join("k.json")).unwrap();
        let back = KeyPairFile::load(&d.path().join("k.json")).unwrap();
        assert_eq!(back.key_id, k.key_id);
        k.public().save(&d.path().join("k.pub.json")).unwrap();
        assert_eq!(PublicKeyFile::load(&d.path().join("k.pub.json")).unwrap(), k.public());
        assert_eq!(PublicKeyFile::load(&d.path().join("k.json")).unwrap(), k.public());
    }
}
