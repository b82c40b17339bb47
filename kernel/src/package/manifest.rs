//! The package manifest (`manifest.json`, schema_version 1.2): typed model, parsing with
//! machine-readable refusal codes, dependency specs and a small semver.
//!
//! Never does: read archives or touch the plane.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hashing;
use crate::plane::normalize_relative;
use crate::schema::SchemaSet;

/// Name of the schema manifests are validated against.
pub const MANIFEST_SCHEMA: &str = "package_manifest";

/// The manifest format version this kernel writes and reads.
pub const MANIFEST_SCHEMA_VERSION: &str = "1.2";

/// A package manifest. Unknown keys are kept in the raw bytes the installer copies, and judged
/// by the schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `1.2`.
    pub schema_version: String,
    /// `PKG-[A-Z0-9-]+`.
    pub package_id: String,
    /// Semver version.
    pub version: String,
    /// Title (optional; empty when absent, and then not written back: the schema wants a
    /// non-empty title or none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Spec the package implements.
    pub spec_id: String,
    /// Framework governing the package.
    pub framework_id: String,
    /// Plane the package targets.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub plane_id: String,
    /// Install layer (0 = genesis).
    pub layer: u32,
    /// Dependencies: `PKG-X` or `PKG-X>=1.2.0`.
    #[serde(default)]
    pub dependencies: Vec<String>,
    /// Declared files.
    pub assets: Vec<Asset>,
    /// Packages whose files this one may take over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<String>,
    /// Informational signature data (the detached `.sig` file is what G5 checks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Value>,
}

/// A declared file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    /// Plane-relative path (`HOT/schemas/x.json`).
    pub path: String,
    /// `sha256:` + 64 lowercase hex; optional in package sources (filled by the packer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Classification (`schema`, `config`, `library`, `test`, `kernel`, …).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub classification: String,
}

/// A parsed dependency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// Package id.
    pub package_id: String,
    /// Lowest acceptable version, if any.
    pub min_version: Option<Version>,
}

/// A semantic version `MAJOR.MINOR.PATCH[-PRE][+BUILD]` (build metadata ignored in ordering).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
    /// Pre-release identifiers (empty for a release).
    pub pre: Vec<String>,
}

/// Why a manifest is refused (G0A maps each kind to its gate code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not JSON.
    #[error("manifest.json is not valid JSON: line {line} column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Parser message.
        message: String,
    },
    /// The manifest names another package than the one requested.
    #[error("manifest declares {found}, but {expected} was requested")]
    IdMismatch {
        /// Requested id.
        expected: String,
        /// Id in the manifest.
        found: String,
    },
    /// An asset hash is not `sha256:` + 64 lowercase hex.
    #[error("asset {path}: sha256 {value:?} is not sha256: followed by 64 lowercase hex digits")]
    BadHashFormat {
        /// Asset path.
        path: String,
        /// The value found.
        value: String,
    },
    /// An asset path is not a safe plane-relative path.
    #[error("asset path {path:?} is unsafe: {why}")]
    UnsafePath {
        /// Asset path.
        path: String,
        /// Why.
        why: String,
    },
    /// Schema or model violations.
    #[error("manifest is invalid: {}", problems.join("; "))]
    Invalid {
        /// Every problem found (field path: message).
        problems: Vec<String>,
    },
}

/// Whether `id` matches `^PKG-[A-Z0-9-]+$`.
pub(crate) fn is_package_id(id: &str) -> bool {
    id.strip_prefix("PKG-")
        .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-'))
}

impl Version {
    /// Parses a semver string.
    pub fn parse(s: &str) -> Option<Self> {
        let core_pre = s.split_once('+').map_or(s, |(c, _)| c);
        let (core, pre) = match core_pre.split_once('-') {
            Some((c, p)) => (c, p.split('.').map(str::to_string).collect::<Vec<_>>()),
            None => (core_pre, Vec::new()),
        };
        if pre.iter().any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')) {
            return None;
        }
        let mut it = core.split('.');
        let num = |x: Option<&str>| -> Option<u64> {
            let x = x?;
            if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) || (x.len() > 1 && x.starts_with('0')) {
                return None;
            }
            x.parse().ok()
        };
        let v = Self { major: num(it.next())?, minor: num(it.next())?, patch: num(it.next())?, pre };
        if it.next().is_some() {
            return None;
        }
        Some(v)
    }
}

impl Ord for Version {
    fn cmp(&self, o: &Self) -> Ordering {
        (self.major, self.minor, self.patch).cmp(&(o.major, o.minor, o.patch)).then_with(|| {
            match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(&o.pre) {
                        let c = match (a.parse::<u64>(), b.parse::<u64>()) {
                            (Ok(x), Ok(y)) => x.cmp(&y),
                            (Ok(_), Err(_)) => Ordering::Less,
                            (Err(_), Ok(_)) => Ordering::Greater,
                            _ => a.cmp(b),
                        };
                        if c != Ordering::Equal {
                            return c;
                        }
                    }
                    self.pre.len().cmp(&o.pre.len())
                }
            }
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre.join("."))?;
        }
        Ok(())
    }
}

impl Dependency {
    /// Parses `PKG-X` or `PKG-X>=1.2.0`.
    pub fn parse(s: &str) -> Option<Self> {
        let (id, min) = match s.split_once(">=") {
            Some((id, v)) => (id.trim(), Some(Version::parse(v.trim())?)),
            None => (s.trim(), None),
        };
        is_package_id(id).then(|| Self { package_id: id.to_string(), min_version: min })
    }
}

impl Manifest {
    /// The version, parsed (validated by [`parse_manifest`]).
    pub fn semver(&self) -> Version {
        Version::parse(&self.version).unwrap_or(Version { major: 0, minor: 0, patch: 0, pre: Vec::new() })
    }

    /// The dependencies, parsed (invalid ones were refused by [`parse_manifest`]).
    pub fn deps(&self) -> Vec<Dependency> {
        self.dependencies.iter().filter_map(|d| Dependency::parse(d)).collect()
    }
}

/// How strictly [`parse_manifest`] checks asset hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashRequirement {
    /// Every asset carries a well-formed hash (archives).
    Required,
    /// Hashes may be absent (package sources; the packer fills them).
    Optional,
}

/// Parses and checks manifest bytes, in the order that gives each defect its own code:
/// JSON → requested id → hash formats → asset paths → schema (when the plane has it) and model.
pub fn parse_manifest(
    bytes: &[u8],
    expected_id: Option<&str>,
    hashes: HashRequirement,
    schemas: Option<&SchemaSet>,
) -> Result<Manifest, ManifestError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| ManifestError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    if let (Some(exp), Some(found)) = (expected_id, value.get("package_id").and_then(Value::as_str))
        && exp != found
    {
        return Err(ManifestError::IdMismatch { expected: exp.to_string(), found: found.to_string() });
    }
    if let Some(assets) = value.get("assets").and_then(Value::as_array) {
        for a in assets {
            let path = a.get("path").and_then(Value::as_str).unwrap_or_default().to_string();
            match a.get("sha256") {
                Some(Value::String(h)) if hashing::is_sha256_prefixed(h) => {}
                None if hashes == HashRequirement::Optional => {}
                Some(other) => {
                    let value = other.as_str().map_or_else(|| other.to_string(), str::to_string);
                    return Err(ManifestError::BadHashFormat { path, value });
                }
                None => return Err(ManifestError::BadHashFormat { path, value: "(absent)".into() }),
            }
            if let Some(p) = a.get("path").and_then(Value::as_str) {
                check_asset_path(p)?;
            }
        }
    }
    let mut problems = Vec::new();
    if let Some(s) = schemas.filter(|s| s.names().any(|n| n == MANIFEST_SCHEMA)) {
        let mut v = value.clone();
        if hashes == HashRequirement::Optional {
            fill_placeholder_hashes(&mut v);
        }
        if let Err(crate::schema::DocumentError::Invalid { violations, .. }) = s.validate(MANIFEST_SCHEMA, &v) {
            problems.extend(violations.iter().map(|v| v.to_string()));
        }
    }
    let m: Manifest = match serde_json::from_value(value) {
        Ok(m) => m,
        Err(e) => {
            problems.push(e.to_string());
            return Err(ManifestError::Invalid { problems });
        }
    };
    model_problems(&m, &mut problems);
    if problems.is_empty() { Ok(m) } else { Err(ManifestError::Invalid { problems }) }
}

fn fill_placeholder_hashes(v: &mut Value) {
    if let Some(assets) = v.get_mut("assets").and_then(Value::as_array_mut) {
        for a in assets {
            if let Some(o) = a.as_object_mut() {
                o.entry("sha256").or_insert_with(|| Value::String(format!("sha256:{}", "0".repeat(64))));
            }
        }
    }
}

/// Checks that an asset path is a plain plane-relative path inside a tier.
pub(crate) fn check_asset_path(p: &str) -> Result<(), ManifestError> {
    let unsafe_ = |why: String| ManifestError::UnsafePath { path: p.to_string(), why };
    let n = normalize_relative(p).map_err(|e| unsafe_(e.to_string()))?;
    if n != p.trim_start_matches("./") {
        return Err(unsafe_("not in normal form".into()));
    }
    let tier = n.split('/').next().unwrap_or_default();
    if !matches!(tier, "HOT" | "HO2" | "HO1") || !n.contains('/') {
        return Err(unsafe_("must lie inside a tier directory (HOT/, HO2/, HO1/)".into()));
    }
    Ok(())
}

fn model_problems(m: &Manifest, out: &mut Vec<String>) {
    if m.schema_version != MANIFEST_SCHEMA_VERSION {
        out.push(format!("/schema_version: expected {MANIFEST_SCHEMA_VERSION:?}, got {:?}", m.schema_version));
    }
    if !is_package_id(&m.package_id) {
        out.push(format!("/package_id: {:?} does not match ^PKG-[A-Z0-9-]+$", m.package_id));
    }
    if Version::parse(&m.version).is_none() {
        out.push(format!("/version: {:?} is not a semantic version", m.version));
    }
    for (i, d) in m.dependencies.iter().enumerate() {
        if Dependency::parse(d).is_none() {
            out.push(format!("/dependencies/{i}: {d:?} is not PKG-ID or PKG-ID>=VERSION"));
        }
    }
    for (i, r) in m.replaces.iter().enumerate() {
        if !is_package_id(r) {
            out.push(format!("/replaces/{i}: {r:?} is not a package id"));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, a) in m.assets.iter().enumerate() {
        if !seen.insert(a.path.trim_start_matches("./").to_ascii_lowercase()) {
            out.push(format!("/assets/{i}/path: {:?} is declared twice (or differs only in case)", a.path));
        }
        if a.path.trim_start_matches("./") == "manifest.json" {
            out.push(format!("/assets/{i}/path: manifest.json cannot be an asset"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_order() {
        let v = |s| Version::parse(s).unwrap();
        assert!(v("1.0.0") > v("1.0.0-rc.1"));
        assert!(v("1.0.0-rc.2") > v("1.0.0-rc.1"));
        assert!(v("1.10.0") > v("1.9.9"));
        assert!(Version::parse("1.0").is_none());
        assert!(Version::parse("01.0.0").is_none());
        assert_eq!(Dependency::parse("PKG-A>=1.2.0").unwrap().min_version, Some(v("1.2.0")));
        assert!(Dependency::parse("pkg-a").is_none());
    }

    /// Found by the `kernel_manifest` fuzz target: a manifest without a title was accepted, but
    /// written back with `"title": ""`, which the schema refuses.
    #[test]
    fn a_manifest_without_a_title_round_trips() {
        let schemas = crate::package::config::embedded_schemas().unwrap();
        let src = br#"{"schema_version":"1.2","package_id":"PKG-A","version":"1.0.0","spec_id":"SPEC-X","framework_id":"FMWK-000","layer":1,"dependencies":[],"assets":[]}"#;
        let m = parse_manifest(src, None, HashRequirement::Required, Some(&schemas)).unwrap();
        let again = serde_json::to_vec(&m).unwrap();
        let back = parse_manifest(&again, Some("PKG-A"), HashRequirement::Required, Some(&schemas));
        assert!(back.is_ok(), "{:?}", back.err().map(|e| e.to_string()));
    }

    #[test]
    fn errors_by_kind() {
        let base = |assets: &str| {
            format!(
                r#"{{"schema_version":"1.2","package_id":"PKG-A","version":"1.0.0","spec_id":"SPEC-X","framework_id":"FMWK-000","layer":1,"assets":{assets}}}"#
            )
        };
        let good = base(&format!(
            r#"[{{"path":"HOT/x.json","sha256":"sha256:{}","classification":"config"}}]"#,
            "a".repeat(64)
        ));
        parse_manifest(good.as_bytes(), Some("PKG-A"), HashRequirement::Required, None).unwrap();
        let e = parse_manifest(good.as_bytes(), Some("PKG-B"), HashRequirement::Required, None).unwrap_err();
        assert!(matches!(e, ManifestError::IdMismatch { .. }), "{e}");
        let e = parse_manifest(b"{nope", None, HashRequirement::Required, None).unwrap_err();
        assert!(matches!(e, ManifestError::Json { .. }), "{e}");
        let bad = base(r#"[{"path":"HOT/x.json","sha256":"sha256:ABC","classification":"config"}]"#);
        assert!(matches!(
            parse_manifest(bad.as_bytes(), None, HashRequirement::Required, None).unwrap_err(),
            ManifestError::BadHashFormat { .. }
        ));
        let unsafe_ = base(&format!(r#"[{{"path":"HOT/../x","sha256":"sha256:{}"}}]"#, "a".repeat(64)));
        assert!(matches!(
            parse_manifest(unsafe_.as_bytes(), None, HashRequirement::Required, None).unwrap_err(),
            ManifestError::UnsafePath { .. }
        ));
        let inv = good.replace("\"1.0.0\"", "\"one\"");
        assert!(matches!(
            parse_manifest(inv.as_bytes(), None, HashRequirement::Required, None).unwrap_err(),
            ManifestError::Invalid { .. }
        ));
        let nohash = base(r#"[{"path":"HOT/x.json","classification":"config"}]"#);
        parse_manifest(nohash.as_bytes(), None, HashRequirement::Optional, None).unwrap();
        assert!(parse_manifest(nohash.as_bytes(), None, HashRequirement::Required, None).is_err());
    }
}
