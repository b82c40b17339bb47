//! Signed checkpoints: `origin, size, root` of a ledger, signed with Ed25519, so that a
//! truncated tail or a rewritten history is detected later.
//!
//! Owns: creating, signing, saving, loading and checking checkpoints. Never does: write to a
//! ledger (recording that a checkpoint was emitted is the caller's choice).
//!
//! The root is the RFC 6962 Merkle tree hash ([`super::merkle`]) over the first `size`
//! entries' `entry_hash` bytes. The signature is Ed25519 over the UTF-8 text
//! `"<origin>\n<size>\n<root>\n"` ([`Checkpoint::signed_text`]), with the key file formats of
//! [`crate::signing`].
//!
//! On disk (JSON): `{"origin":"HOT/governance","size":1234,"root":"<64 hex>",
//! "key_id":"<16 hex>","signature":"<128 hex>"}`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::merkle;
use super::verify::{Defect, DefectKind, OwnedRecord, VerifyReport, verify_owned, verify_store_inner};
use super::{LedgerError, LedgerStore};
use crate::fsx::{self, FsError};
use crate::signing::{KeyPairFile, PublicKeyFile, SigningError};

/// Errors of checkpoint handling.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Reading the ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A file operation failed.
    #[error(transparent)]
    Io(#[from] FsError),
    /// Key handling failed.
    #[error(transparent)]
    Signing(#[from] SigningError),
    /// The checkpoint file is not a valid checkpoint.
    #[error("invalid checkpoint file {path}: {message}")]
    Invalid {
        /// The file (or `<memory>`).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The ledger does not verify, so no checkpoint is signed over it.
    #[error("ledger {ledger} does not verify ({defect}); no checkpoint signed")]
    Broken {
        /// Ledger name.
        ledger: String,
        /// The first bad record.
        defect: Defect,
    },
    /// The checkpoint was signed by another key.
    #[error("checkpoint of {origin} is signed by key {found}, not by the given key {expected}")]
    WrongKey {
        /// Checkpoint origin.
        origin: String,
        /// Key id of the given public key.
        expected: String,
        /// Key id named by the checkpoint.
        found: String,
    },
    /// The signature does not verify.
    #[error("checkpoint signature of {origin} does not verify with key {key_id}")]
    BadSignature {
        /// Checkpoint origin.
        origin: String,
        /// Key id tried.
        key_id: String,
        /// Cause.
        #[source]
        source: SigningError,
    },
    /// The checkpoint is of another ledger.
    #[error("checkpoint is of ledger {origin}, not of {ledger}")]
    WrongOrigin {
        /// Checkpoint origin.
        origin: String,
        /// The ledger checked.
        ledger: String,
    },
}

/// A signed statement that ledger `origin` had `size` entries with Merkle root `root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Ledger name (`HOT/governance`).
    pub origin: String,
    /// Number of entries covered (seq `0..size`).
    pub size: u64,
    /// RFC 6962 Merkle root over their `entry_hash`es, 64 lowercase hex.
    pub root: String,
    /// Key id of the signing key (16 hex).
    pub key_id: String,
    /// Ed25519 signature over [`Checkpoint::signed_text`], 128 hex.
    pub signature: String,
}

impl Checkpoint {
    /// The exact bytes signed: `"<origin>\n<size>\n<root>\n"`.
    pub fn signed_text(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, self.root)
    }

    /// Signs `origin, size, root` with `key`.
    pub fn sign(origin: &str, size: u64, root: &merkle::Hash, key: &KeyPairFile) -> Result<Self, CheckpointError> {
        if origin.contains('\n') {
            return Err(CheckpointError::Invalid {
                path: "<memory>".into(),
                message: "origin must not contain a newline".into(),
            });
        }
        let mut cp = Self {
            origin: origin.to_string(),
            size,
            root: const_hex::encode(root),
            key_id: key.key_id.clone(),
            signature: String::new(),
        };
        cp.signature = key.sign(cp.signed_text().as_bytes())?;
        Ok(cp)
    }

    /// Verifies the whole of `store` and signs a checkpoint over it. A ledger that does not
    /// verify is refused.
    pub fn create(store: &dyn LedgerStore, key: &KeyPairFile) -> Result<Self, CheckpointError> {
        let (report, leaves) = verify_store_inner(store, true)?;
        if let Some(defect) = report.first_bad {
            return Err(CheckpointError::Broken { ledger: report.ledger, defect });
        }
        Self::sign(store.name(), leaves.len() as u64, &merkle::root(&leaves), key)
    }

    /// Checks that `key` signed this checkpoint.
    pub fn verify_signature(&self, key: &PublicKeyFile) -> Result<(), CheckpointError> {
        if key.key_id != self.key_id {
            return Err(CheckpointError::WrongKey {
                origin: self.origin.clone(),
                expected: key.key_id.clone(),
                found: self.key_id.clone(),
            });
        }
        key.verify(self.signed_text().as_bytes(), &self.signature).map_err(|source| CheckpointError::BadSignature {
            origin: self.origin.clone(),
            key_id: key.key_id.clone(),
            source,
        })
    }

    /// Reads a checkpoint file.
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let text = fsx::read_to_string(path)?;
        let cp: Self = serde_json::from_str(&text)
            .map_err(|e| CheckpointError::Invalid { path: path.display().to_string(), message: e.to_string() })?;
        let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !hex(&cp.root, 64) {
            return Err(CheckpointError::Invalid {
                path: path.display().to_string(),
                message: "root is not 64 lowercase hex digits".into(),
            });
        }
        Ok(cp)
    }

    /// Writes the checkpoint file (atomically).
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| CheckpointError::Invalid { path: path.display().to_string(), message: e.to_string() })?;
        fsx::write_atomic(path, text + "\n")?;
        Ok(())
    }
}

/// Plane-relative directory where `cpctl ledger checkpoint --save` keeps checkpoints (one file
/// per ledger and size: `HOT_governance.1234.json`); G6 verifies each ledger against its latest.
pub const CHECKPOINTS_DIR: &str = "HOT/ledger/checkpoints";

/// The file a checkpoint is saved to inside [`CHECKPOINTS_DIR`].
pub fn checkpoint_file_name(cp: &Checkpoint) -> String {
    format!("{}.{}.json", cp.origin.replace('/', "_"), cp.size)
}

/// Saves `cp` into the plane's [`CHECKPOINTS_DIR`]; returns the file written.
pub fn save_in_plane(plane: &crate::plane::Plane, cp: &Checkpoint) -> Result<std::path::PathBuf, CheckpointError> {
    let dir = plane.root().join(CHECKPOINTS_DIR);
    fsx::create_dir_all(&dir)?;
    let path = dir.join(checkpoint_file_name(cp));
    cp.save(&path)?;
    Ok(path)
}

/// The latest (largest `size`) saved checkpoint of every ledger, by origin. No directory: none.
pub fn latest_in_plane(
    plane: &crate::plane::Plane,
) -> Result<std::collections::BTreeMap<String, (std::path::PathBuf, Checkpoint)>, CheckpointError> {
    latest_under(plane.root())
}

/// [`latest_in_plane`] for the plane rooted at `root`.
pub(crate) fn latest_under(
    root: &Path,
) -> Result<std::collections::BTreeMap<String, (std::path::PathBuf, Checkpoint)>, CheckpointError> {
    let dir = root.join(CHECKPOINTS_DIR);
    let mut out: std::collections::BTreeMap<String, (std::path::PathBuf, Checkpoint)> = Default::default();
    if !dir.is_dir() {
        return Ok(out);
    }
    for e in fsx::read_dir(&dir)? {
        let path = e.path();
        if path.extension().and_then(|x| x.to_str()) != Some("json") {
            continue;
        }
        let cp = Checkpoint::load(&path)?;
        if out.get(&cp.origin).is_none_or(|(_, have)| have.size < cp.size) {
            out.insert(cp.origin.clone(), (path, cp));
        }
    }
    Ok(out)
}

/// Records that `cp` was emitted: a `CHECKPOINT` entry (origin, size, root, key_id, and
/// `ledgers`: the plane's manifest of ledgers at that time, see [`super::manifest`]) on
/// `HOT/governance`.
pub fn record_checkpoint(set: &super::LedgerSet, cp: &Checkpoint) -> Result<super::LedgerEntry, LedgerError> {
    let store = set.open(super::LedgerName::GOVERNANCE)?;
    let e = super::NewEntry::new(super::event::CHECKPOINT)
        .decision("PASS")
        .reason(format!("checkpoint of {} at size {}", cp.origin, cp.size))
        .meta("origin", cp.origin.clone())
        .meta("size", cp.size)
        .meta("root", cp.root.clone())
        .meta("key_id", cp.key_id.clone())
        .meta("ledgers", super::manifest::listed_names(set)?);
    store.append(e)
}

/// Compares a verified chain (`report`, its leaves) with the checkpoint.
fn judge(mut report: VerifyReport, leaves: &[merkle::Hash], cp: &Checkpoint) -> VerifyReport {
    if report.first_bad.is_some() {
        return report;
    }
    let have = leaves.len() as u64;
    if have < cp.size {
        report.fail(Defect {
            seq: have,
            kind: DefectKind::Truncated,
            message: format!("checkpoint covers {} entries but the ledger has {have}", cp.size),
            column: None,
        });
        return report;
    }
    let root = const_hex::encode(merkle::root(&leaves[..cp.size as usize]));
    if root != cp.root {
        report.fail(Defect {
            seq: cp.size.saturating_sub(1),
            kind: DefectKind::Rewritten,
            message: format!(
                "Merkle root of the first {} entries is {root}, the checkpoint says {}; \
                 history was rewritten at or before this seq",
                cp.size, cp.root
            ),
            column: None,
        });
    }
    report
}

/// Verifies `store` (chain and hashes) and then against a signed checkpoint: a tail shorter
/// than `cp.size` is [`DefectKind::Truncated`] at the first missing seq, a different root over
/// the first `cp.size` entries is [`DefectKind::Rewritten`]. Entries appended after the
/// checkpoint are fine. A bad signature, another key or another ledger is an error.
pub fn verify_against_checkpoint(
    store: &dyn LedgerStore,
    cp: &Checkpoint,
    key: &PublicKeyFile,
) -> Result<VerifyReport, CheckpointError> {
    cp.verify_signature(key)?;
    if cp.origin != store.name() {
        return Err(CheckpointError::WrongOrigin { origin: cp.origin.clone(), ledger: store.name().to_string() });
    }
    let (report, leaves) = verify_store_inner(store, true)?;
    Ok(judge(report, &leaves, cp))
}

/// [`verify_against_checkpoint`] over raw records (pure; for tests and tools). The origin is
/// not compared.
pub fn verify_records_against_checkpoint(
    records: impl IntoIterator<Item = OwnedRecord>,
    cp: &Checkpoint,
    key: &PublicKeyFile,
) -> Result<VerifyReport, CheckpointError> {
    cp.verify_signature(key)?;
    let (report, leaves) = verify_owned(&cp.origin, records, true);
    Ok(judge(report, &leaves, cp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{MemoryStore, NewEntry};

    fn store(n: usize) -> MemoryStore {
        let s = MemoryStore::new("HOT/governance");
        s.append_batch((0..n).map(|i| NewEntry::new("E").meta("i", i)).collect()).unwrap();
        s
    }

    #[test]
    fn sign_save_load_verify_and_later_appends() {
        let key = KeyPairFile::from_seed(&[3u8; 32]);
        let s = store(5);
        let cp = Checkpoint::create(&s, &key).unwrap();
        assert_eq!(cp.size, 5);
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("cp.json");
        cp.save(&p).unwrap();
        let back = Checkpoint::load(&p).unwrap();
        assert_eq!(back, cp);
        assert!(verify_against_checkpoint(&s, &back, &key.public()).unwrap().ok);
        // The prefix stays consistent after appends.
        s.append(NewEntry::new("E")).unwrap();
        let r = verify_against_checkpoint(&s, &back, &key.public()).unwrap();
        assert!(r.ok, "{r:?}");
        assert_eq!(r.entries, 6);
    }

    #[test]
    fn tampered_checkpoint_wrong_key_wrong_origin() {
        let key = KeyPairFile::from_seed(&[3u8; 32]);
        let s = store(3);
        let mut cp = Checkpoint::create(&s, &key).unwrap();
        let other = KeyPairFile::from_seed(&[4u8; 32]);
        assert!(matches!(verify_against_checkpoint(&s, &cp, &other.public()), Err(CheckpointError::WrongKey { .. })));
        cp.size = 2;
        assert!(matches!(verify_against_checkpoint(&s, &cp, &key.public()), Err(CheckpointError::BadSignature { .. })));
        let other_store = MemoryStore::new("HOT/packages");
        let cp = Checkpoint::create(&s, &key).unwrap();
        assert!(matches!(
            verify_against_checkpoint(&other_store, &cp, &key.public()),
            Err(CheckpointError::WrongOrigin { .. })
        ));
    }

    #[test]
    fn rewritten_history_is_detected() {
        let key = KeyPairFile::from_seed(&[3u8; 32]);
        let cp = Checkpoint::create(&store(4), &key).unwrap();
        // Another, internally consistent ledger of the same name and size.
        let rewritten = store(4);
        let r = verify_against_checkpoint(&rewritten, &cp, &key.public()).unwrap();
        let d = r.first_bad.unwrap();
        assert_eq!((d.seq, d.kind), (3, DefectKind::Rewritten));
        let short = store(2);
        let d = verify_against_checkpoint(&short, &cp, &key.public()).unwrap().first_bad.unwrap();
        assert_eq!((d.seq, d.kind), (2, DefectKind::Truncated));
    }
}
