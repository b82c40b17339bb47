//! The stable codes of gate issues: one enum, each variant with its printed form, so that no
//! list of strings is kept by hand anywhere else (the installer's refusal codes are these).

use serde::{Deserialize, Serialize};

macro_rules! gate_codes {
    ($($(#[doc = $doc:expr])* $variant:ident = $text:literal,)*) => {
        /// A gate issue's stable, machine-readable code (`G0B_ORPHAN`). Documented with the
        /// gates in `docs/PACKAGES.md`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum GateCode {
            $($(#[doc = $doc])* #[serde(rename = $text)] $variant,)*
        }

        impl GateCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [GateCode] = &[$(Self::$variant,)*];

            /// The printed form (`G0B_ORPHAN`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }
    };
}

gate_codes! {
    /// An install journal is unresolved (an install was interrupted): run `cp-install recover`.
    G0InstallPending = "G0_INSTALL_PENDING",
    /// The archive has no `manifest.json` (or the installed manifest copy is missing).
    G0aManifestMissing = "G0A_MANIFEST_MISSING",
    /// `manifest.json` is not valid JSON.
    G0aManifestJson = "G0A_MANIFEST_JSON",
    /// The manifest fails its schema or model.
    G0aManifestInvalid = "G0A_MANIFEST_INVALID",
    /// The manifest names another package than the one requested.
    G0aIdMismatch = "G0A_ID_MISMATCH",
    /// A file in the archive (or installed) is not declared by the manifest.
    G0aUndeclared = "G0A_UNDECLARED",
    /// A declared asset is not in the archive (or not recorded as installed).
    G0aMissingAsset = "G0A_MISSING_ASSET",
    /// A file's hash differs from the declared one.
    G0aHashMismatch = "G0A_HASH_MISMATCH",
    /// A declared hash is not `sha256:` + 64 lowercase hex digits.
    G0aBadHashFormat = "G0A_BAD_HASH_FORMAT",
    /// An asset path is not a safe plane-relative path.
    G0aUnsafePath = "G0A_UNSAFE_PATH",
    /// A governed document (config, template, contract, schema, framework manifest, spec pack)
    /// fails its schema or the loader that reads it.
    G0aDocumentInvalid = "G0A_DOCUMENT_INVALID",
    /// A file under a governed root is owned by no installed package (or is a symlink or
    /// special file).
    G0bOrphan = "G0B_ORPHAN",
    /// An owned file is missing.
    G0bMissing = "G0B_MISSING",
    /// An owned file differs from its recorded hash.
    G0bHashMismatch = "G0B_HASH_MISMATCH",
    /// The package's spec is not registered.
    G1SpecMissing = "G1_SPEC_MISSING",
    /// The package's framework is not registered.
    G1FrameworkMissing = "G1_FRAMEWORK_MISSING",
    /// The spec names another framework than the manifest.
    G1FrameworkMismatch = "G1_FRAMEWORK_MISMATCH",
    /// A dependency is not installed (or too old).
    G1DependencyMissing = "G1_DEPENDENCY_MISSING",
    /// Dependencies form a cycle.
    G1DependencyCycle = "G1_DEPENDENCY_CYCLE",
    /// An asset lies outside its framework's `path_authorizations`.
    G1PathUnauthorized = "G1_PATH_UNAUTHORIZED",
    /// A framework expects a spec that does not exist.
    G1cSpecMissing = "G1C_SPEC_MISSING",
    /// An expected spec names another framework.
    G1cSpecMismatch = "G1C_SPEC_MISMATCH",
    /// The package carries no signature.
    G5Unsigned = "G5_UNSIGNED",
    /// The signing key is not in the plane's trust store.
    G5UntrustedKey = "G5_UNTRUSTED_KEY",
    /// The signature does not verify.
    G5BadSignature = "G5_BAD_SIGNATURE",
    /// A ledger chain does not verify.
    G6ChainBroken = "G6_CHAIN_BROKEN",
    /// A ledger disagrees with its latest saved checkpoint.
    G6CheckpointMismatch = "G6_CHECKPOINT_MISMATCH",
    /// A stored index column (tenant, event type, session, previous hash, time, …) disagrees
    /// with the hashed entry body.
    G6ColumnMismatch = "G6_COLUMN_MISMATCH",
    /// A ledger the plane's ledger manifest lists is missing.
    G6LedgerMissing = "G6_LEDGER_MISSING",
}

impl std::fmt::Display for GateCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for GateCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for GateCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use super::GateCode;

    #[test]
    fn every_code_round_trips_through_its_printed_form() {
        for c in GateCode::ALL {
            let json = serde_json::to_string(c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<GateCode>(&json).unwrap(), *c);
            assert!(c.as_str().starts_with('G'), "{c}");
        }
    }
}
