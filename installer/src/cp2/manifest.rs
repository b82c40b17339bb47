//! The v1.2 manifest as the Control Plane v2 (Python) packer wrote it.
//!
//! It differs from the native manifest in exactly these ways: `layer` may be absent (the
//! Python installer took layers from `bootstrap_sequence.json`); `framework_id` may be absent
//! (genesis and kernel); `package_type`, `metadata` and `external_deps` (Python packages the
//! code needs) are present. Everything else is read as the native schema reads it, later, when
//! the converted manifest passes G0A.

use std::path::Path;

use serde_json::{Map, Value};

use super::Cp2Error;

/// Keys the Python system wrote that the native manifest does not have; they are carried into
/// the install record, not into the native manifest.
pub(crate) const PYTHON_ONLY_KEYS: &[&str] = &["package_type", "metadata", "external_deps"];

/// A v1.2 manifest read from a v2 archive.
#[derive(Debug, Clone, PartialEq)]
pub struct Cp2Manifest {
    /// `package_id`.
    pub package_id: String,
    /// `version`.
    pub version: String,
    /// `layer`, when the manifest has one.
    pub layer: Option<u32>,
    /// `framework_id`, when the manifest has one.
    pub framework_id: Option<String>,
    /// The ids of `dependencies` (version requirements stripped).
    pub dependencies: Vec<String>,
    /// `external_deps`, recorded (not installed, not refused).
    pub external_deps: Vec<Value>,
    /// The whole manifest object.
    pub raw: Map<String, Value>,
}

fn field_err(archive: &Path, field: &str, message: impl Into<String>) -> Cp2Error {
    Cp2Error::Manifest { archive: archive.to_path_buf(), field: field.into(), message: message.into() }
}

fn string(raw: &Map<String, Value>, archive: &Path, field: &str) -> Result<Option<String>, Cp2Error> {
    match raw.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(other) => Err(field_err(archive, field, format!("is {other}, expected a non-empty string"))),
    }
}

/// The package id of one `dependencies` item (`PKG-X`, `PKG-X>=1.0.0` or
/// `{"package_id": "PKG-X", …}`).
fn dependency_id(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.as_str(),
        Value::Object(o) => o.get("package_id")?.as_str()?,
        _ => return None,
    };
    let end = s.find(['>', '<', '=', '~', '^', ' ']).unwrap_or(s.len());
    (end > 0).then(|| s[..end].to_string())
}

/// Reads the manifest bytes of the v2 archive `archive`.
pub fn read_cp2_manifest(bytes: &[u8], archive: &Path) -> Result<Cp2Manifest, Cp2Error> {
    let raw = match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(field_err(archive, "(root)", "is not a JSON object")),
        Err(e) => return Err(field_err(archive, "(root)", format!("not JSON: {e}"))),
    };
    let package_id =
        string(&raw, archive, "package_id")?.ok_or_else(|| field_err(archive, "package_id", "is missing"))?;
    let version = string(&raw, archive, "version")?.ok_or_else(|| field_err(archive, "version", "is missing"))?;
    let layer = match raw.get("layer") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| field_err(archive, "layer", format!("is {v}, expected a non-negative integer")))?,
        ),
    };
    let framework_id = string(&raw, archive, "framework_id")?;
    let dependencies = match raw.get("dependencies") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, d)| {
                dependency_id(d).ok_or_else(|| {
                    field_err(archive, &format!("dependencies[{i}]"), format!("is {d}, expected PKG-ID[>=VERSION]"))
                })
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(field_err(archive, "dependencies", format!("is {other}, expected an array"))),
    };
    let external_deps = match raw.get("external_deps") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(other) => return Err(field_err(archive, "external_deps", format!("is {other}, expected an array"))),
    };
    Ok(Cp2Manifest { package_id, version, layer, framework_id, dependencies, external_deps, raw })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(v: Value) -> Result<Cp2Manifest, Cp2Error> {
        read_cp2_manifest(&serde_json::to_vec(&v).unwrap(), Path::new("a.tar.gz"))
    }

    #[test]
    fn reads_a_manifest_without_layer_and_framework() {
        let m = read(serde_json::json!({
            "package_id": "PKG-KERNEL-001", "version": "1.0.0", "schema_version": "1.2",
            "dependencies": ["PKG-GENESIS-000>=1.0.0", {"package_id": "PKG-X-001"}],
            "external_deps": ["pyyaml>=6.0"], "assets": []
        }))
        .unwrap();
        assert_eq!(m.layer, None);
        assert_eq!(m.framework_id, None);
        assert_eq!(m.dependencies, vec!["PKG-GENESIS-000", "PKG-X-001"]);
        assert_eq!(m.external_deps, vec![Value::from("pyyaml>=6.0")]);
    }

    #[test]
    fn names_the_bad_field() {
        let e = read(serde_json::json!({"package_id": "PKG-A-001", "version": "1.0.0", "layer": "two"})).unwrap_err();
        assert_eq!(e.to_string(), "a.tar.gz: manifest.json: layer: is \"two\", expected a non-negative integer");
        let e =
            read(serde_json::json!({"package_id": "PKG-A-001", "version": "1.0.0", "dependencies": [3]})).unwrap_err();
        assert!(e.to_string().contains("dependencies[0]: is 3"), "{e}");
        let e = read(serde_json::json!({"version": "1.0.0"})).unwrap_err();
        assert!(e.to_string().contains("package_id: is missing"), "{e}");
    }
}
