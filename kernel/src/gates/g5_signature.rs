//! G5 signature: a detached Ed25519 signature over the manifest hash verifies against a key
//! in the plane's trust store (`HOT/plane/plane.json`). Unsigned packages pass only when the
//! plane does not require signatures, when their manifest digest is pinned (the built-in
//! bootstrap set), or under an explicit dev waiver — which the installer writes to the ledger.
//! A signature that does not verify is never waived.

use super::{Gate, GateCode, GateError, GateId, GateIssue, GateReport};
use crate::ledger::{LedgerName, LedgerQuery, LedgerSet, Provenance, event};
use crate::package::receipt::load_receipts;
use crate::package::signature::SignatureFile;
use crate::plane::{Plane, PlaneConfig};
use crate::signing::PublicKeyFile;

/// Why a package was trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Signed by a trusted key.
    Signature(String),
    /// Manifest digest in the pinned bootstrap list.
    Pinned,
    /// Unsigned, and the plane does not require signatures.
    Policy,
    /// A G5 refusal (its code) waived by `--dev`.
    Waived(String),
}

impl Trust {
    /// The form recorded in receipts (`signature:<key_id>`, `pinned`, `policy`, `waived`).
    pub fn as_receipt(&self) -> String {
        match self {
            Self::Signature(k) => format!("signature:{k}"),
            Self::Pinned => "pinned".into(),
            Self::Policy => "policy".into(),
            Self::Waived(_) => "waived".into(),
        }
    }
}

/// Install-time G5.
pub fn check_signature(
    manifest_sha256: &str,
    sig: Option<&SignatureFile>,
    config: &PlaneConfig,
    pinned: bool,
    dev: bool,
) -> Result<Trust, GateIssue> {
    let Some(sig) = sig else {
        return if pinned {
            Ok(Trust::Pinned)
        } else if !config.require_signatures {
            Ok(Trust::Policy)
        } else if dev {
            Ok(Trust::Waived(GateCode::G5Unsigned.as_str().into()))
        } else {
            Err(GateIssue::new(GateCode::G5Unsigned, "package is unsigned and the plane requires signatures"))
        };
    };
    if sig.algorithm != "ed25519" || sig.manifest_sha256 != manifest_sha256 {
        return Err(GateIssue::new(
            GateCode::G5BadSignature,
            format!("signature covers {}, the archive's manifest is {manifest_sha256}", sig.manifest_sha256),
        ));
    }
    let Some(key) = config.trusted_keys.iter().find(|k| k.key_id == sig.key_id) else {
        return if pinned {
            Ok(Trust::Pinned)
        } else if dev {
            Ok(Trust::Waived(GateCode::G5UntrustedKey.as_str().into()))
        } else {
            Err(GateIssue::new(
                GateCode::G5UntrustedKey,
                format!("key {} is not in the plane's trust store", sig.key_id),
            ))
        };
    };
    let pk =
        PublicKeyFile { algorithm: "ed25519".into(), key_id: key.key_id.clone(), public_key: key.public_key.clone() };
    match pk.verify(manifest_sha256.as_bytes(), &sig.signature) {
        Ok(()) => Ok(Trust::Signature(key.key_id.clone())),
        Err(e) => Err(GateIssue::new(GateCode::G5BadSignature, e.to_string())),
    }
}

fn waiver_logged(plane: &Plane, package: &str) -> Result<bool, GateError> {
    let q = LedgerQuery {
        event_types: vec![event::POLICY_WAIVED.to_string()],
        provenance: Provenance { package_id: Some(package.to_string()), ..Provenance::default() },
        limit: Some(1),
        ..LedgerQuery::default()
    };
    let set = LedgerSet::new(plane);
    Ok(!set.open(LedgerName::PACKAGES)?.query(&q)?.is_empty())
}

/// Plane-level G5: every installed package's recorded trust still holds (a signing key is
/// still trusted; a waiver is in the ledger; an unsigned install is still allowed by policy).
#[derive(Debug, Clone, Copy)]
pub(crate) struct G5;

impl Gate for G5 {
    fn id(&self) -> GateId {
        GateId::G5
    }

    fn run(&self, plane: &Plane) -> Result<GateReport, GateError> {
        let receipts = load_receipts(plane)?;
        let cfg = plane.config();
        let mut errors = Vec::new();
        let (mut signed, mut pinned, mut waived) = (0, 0, 0);
        for (id, r) in &receipts {
            if let Some(k) = r.trust.strip_prefix("signature:") {
                signed += 1;
                if !cfg.trusted_keys.iter().any(|t| t.key_id == k) {
                    errors.push(
                        GateIssue::new(GateCode::G5UntrustedKey, format!("signing key {k} is no longer trusted"))
                            .pkg(id),
                    );
                }
            } else if r.trust == "pinned" {
                pinned += 1;
            } else if r.trust == "waived" {
                waived += 1;
                if !waiver_logged(plane, id)? {
                    errors.push(
                        GateIssue::new(
                            GateCode::G5Unsigned,
                            "receipt says waived, but no POLICY_WAIVED is in the ledger",
                        )
                        .pkg(id),
                    );
                }
            } else if cfg.require_signatures {
                errors.push(
                    GateIssue::new(GateCode::G5Unsigned, "installed unsigned, and the plane now requires signatures")
                        .pkg(id),
                );
            }
        }
        Ok(GateReport::new(
            GateId::G5,
            format!("{} packages: {signed} signed, {pinned} pinned, {waived} waived", receipts.len()),
            errors,
        ))
    }
}
