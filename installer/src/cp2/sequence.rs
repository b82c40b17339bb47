//! Layers and install order of a v2 set.
//!
//! The layer of a package is its manifest's `layer`; else its entry in the set's
//! `bootstrap_sequence.json`; else its dependency depth (0 without dependencies, else one more
//! than its deepest dependency; a dependency already installed counts with its receipt's
//! layer). The order is a topological order of the dependencies, ties broken by layer, then
//! by position in the sequence file, then by id.
//!
//! `bootstrap_sequence.json` (the Python installer's order file): an object whose
//! `sequence`, `packages`, `install_order` or `order` member is an array of package ids, or of
//! objects with `package_id` (or `id`) and optionally `layer`; or such an array at the top
//! level. An object `layers: {"0": [ids…], "1": […]}` is read as well.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::Cp2Error;
use cp_kernel::fsx;

/// File name of the Python installer's order file, looked for beside the archives.
pub const SEQUENCE_FILE: &str = "bootstrap_sequence.json";

/// Where a package's layer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerSource {
    /// The manifest's `layer`.
    Manifest,
    /// The set's `bootstrap_sequence.json`.
    Sequence,
    /// The dependency depth.
    DependencyDepth,
}

impl LayerSource {
    /// The name written to the record.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manifest => "manifest",
            Self::Sequence => "bootstrap_sequence",
            Self::DependencyDepth => "dependency_depth",
        }
    }
}

/// The parsed order file: package id → (position, layer if given).
#[derive(Debug, Clone, Default)]
pub(crate) struct Sequence {
    pub(crate) entries: BTreeMap<String, (usize, Option<u32>)>,
}

fn bad(path: &Path, message: impl Into<String>) -> Cp2Error {
    Cp2Error::Sequence { path: path.to_path_buf(), message: message.into() }
}

fn layer_of(v: &Value, path: &Path, at: &str) -> Result<Option<u32>, Cp2Error> {
    match v {
        Value::Null => Ok(None),
        v => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| bad(path, format!("{at}.layer: is {v}, expected a non-negative integer"))),
    }
}

impl Sequence {
    /// Reads `path`.
    pub(crate) fn load(path: &Path) -> Result<Self, Cp2Error> {
        let bytes = fsx::read(path)?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| bad(path, format!("not JSON: {e}")))?;
        let mut seq = Self::default();
        if let Some(Value::Object(layers)) = v.get("layers") {
            for (k, ids) in layers {
                let layer: u32 = k.parse().map_err(|_| bad(path, format!("layers.{k}: expected a layer number")))?;
                let Value::Array(ids) = ids else {
                    return Err(bad(path, format!("layers.{k}: expected an array of package ids")));
                };
                for (i, id) in ids.iter().enumerate() {
                    let id = id.as_str().ok_or_else(|| bad(path, format!("layers.{k}[{i}]: expected a package id")))?;
                    seq.add(id, Some(layer));
                }
            }
            return Ok(seq);
        }
        let (name, items) = match &v {
            Value::Array(a) => ("(root)", a),
            Value::Object(o) => ["sequence", "packages", "install_order", "order"]
                .into_iter()
                .find_map(|k| o.get(k).and_then(Value::as_array).map(|a| (k, a)))
                .ok_or_else(|| {
                    bad(
                        path,
                        "expected an array `sequence`, `packages`, `install_order`, `order` or an object `layers`",
                    )
                })?,
            _ => return Err(bad(path, "expected a JSON object or array")),
        };
        for (i, item) in items.iter().enumerate() {
            let at = format!("{name}[{i}]");
            match item {
                Value::String(id) => seq.add(id, None),
                Value::Object(o) => {
                    let id = o
                        .get("package_id")
                        .or_else(|| o.get("id"))
                        .and_then(Value::as_str)
                        .ok_or_else(|| bad(path, format!("{at}: expected package_id")))?;
                    let layer = layer_of(o.get("layer").unwrap_or(&Value::Null), path, &at)?;
                    seq.add(id, layer);
                }
                other => return Err(bad(path, format!("{at}: is {other}, expected a package id or object"))),
            }
        }
        Ok(seq)
    }

    fn add(&mut self, id: &str, layer: Option<u32>) {
        let pos = self.entries.len();
        self.entries.entry(id.to_string()).or_insert((pos, layer));
    }
}

/// One package to place: its id, manifest layer and dependencies.
pub(crate) struct Node<'a> {
    pub(crate) id: &'a str,
    pub(crate) layer: Option<u32>,
    pub(crate) deps: &'a [String],
}

/// Layers (with their source) and the install order of `nodes`. `installed` maps packages
/// already on the plane to their layer. Every dependency must be in `nodes` or `installed`.
pub(crate) fn order(
    nodes: &[Node<'_>],
    seq: &Sequence,
    installed: &BTreeMap<String, u32>,
) -> Result<Vec<(String, u32, LayerSource)>, Cp2Error> {
    let by_id: BTreeMap<&str, &Node<'_>> = nodes.iter().map(|n| (n.id, n)).collect();
    for n in nodes {
        if let Some(d) = n.deps.iter().find(|d| !by_id.contains_key(d.as_str()) && !installed.contains_key(*d)) {
            return Err(Cp2Error::MissingDependency { package: n.id.to_string(), dependency: d.clone() });
        }
    }
    // Topological order (Kahn), ties by (layer, sequence position, id); depth while going.
    let mut placed: BTreeMap<&str, (u32, LayerSource)> = BTreeMap::new();
    let mut out = Vec::new();
    let mut left: BTreeSet<&str> = by_id.keys().copied().collect();
    while !left.is_empty() {
        let ready: Vec<&str> =
            left.iter().copied().filter(|id| by_id[id].deps.iter().all(|d| !left.contains(d.as_str()))).collect();
        if ready.is_empty() {
            return Err(Cp2Error::Cycle { packages: left.iter().map(|s| s.to_string()).collect() });
        }
        let mut scored: Vec<(u32, usize, &str, LayerSource)> = ready
            .iter()
            .map(|id| {
                let n = by_id[id];
                let pos = seq.entries.get(*id).map_or(usize::MAX, |e| e.0);
                let (layer, src) = match (n.layer, seq.entries.get(*id).and_then(|e| e.1)) {
                    (Some(l), _) => (l, LayerSource::Manifest),
                    (None, Some(l)) => (l, LayerSource::Sequence),
                    (None, None) => (depth(n, &placed, installed), LayerSource::DependencyDepth),
                };
                (layer, pos, *id, src)
            })
            .collect();
        scored.sort();
        let (layer, _, id, src) = scored[0];
        placed.insert(id, (layer, src));
        left.remove(id);
        out.push((id.to_string(), layer, src));
    }
    Ok(out)
}

fn depth(n: &Node<'_>, placed: &BTreeMap<&str, (u32, LayerSource)>, installed: &BTreeMap<String, u32>) -> u32 {
    n.deps
        .iter()
        .filter_map(|d| placed.get(d.as_str()).map(|p| p.0).or_else(|| installed.get(d).copied()))
        .map(|l| l + 1)
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn layers_from_manifest_then_sequence_then_depth() {
        let (a, b, c) = (deps(&[]), deps(&["PKG-A"]), deps(&["PKG-B"]));
        let nodes = [
            Node { id: "PKG-C", layer: None, deps: &c },
            Node { id: "PKG-B", layer: None, deps: &b },
            Node { id: "PKG-A", layer: Some(0), deps: &a },
        ];
        let mut seq = Sequence::default();
        seq.add("PKG-B", Some(2));
        let got = order(&nodes, &seq, &BTreeMap::new()).unwrap();
        assert_eq!(
            got,
            vec![
                ("PKG-A".into(), 0, LayerSource::Manifest),
                ("PKG-B".into(), 2, LayerSource::Sequence),
                ("PKG-C".into(), 3, LayerSource::DependencyDepth),
            ]
        );
    }

    #[test]
    fn a_missing_dependency_and_a_cycle_are_refused() {
        let (x, y) = (deps(&["PKG-Y"]), deps(&["PKG-X"]));
        let nodes = [Node { id: "PKG-X", layer: None, deps: &x }];
        let e = order(&nodes, &Sequence::default(), &BTreeMap::new()).unwrap_err();
        assert_eq!(e.code(), "G1_DEPENDENCY_MISSING");
        assert!(e.to_string().contains("PKG-X depends on PKG-Y"), "{e}");
        let installed = BTreeMap::from([("PKG-Y".to_string(), 4)]);
        let got = order(&nodes, &Sequence::default(), &installed).unwrap();
        assert_eq!(got, vec![("PKG-X".into(), 5, LayerSource::DependencyDepth)]);
        let nodes = [Node { id: "PKG-X", layer: None, deps: &x }, Node { id: "PKG-Y", layer: None, deps: &y }];
        assert_eq!(order(&nodes, &Sequence::default(), &BTreeMap::new()).unwrap_err().code(), "G1_DEPENDENCY_CYCLE");
    }

    #[test]
    fn sequence_file_forms() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(SEQUENCE_FILE);
        for (text, want) in [
            (r#"{"sequence":[{"package_id":"PKG-A","layer":0},{"package_id":"PKG-B","layer":2}]}"#, Some(2)),
            (r#"["PKG-A","PKG-B"]"#, None),
            (r#"{"layers":{"0":["PKG-A"],"2":["PKG-B"]}}"#, Some(2)),
        ] {
            fsx::write(&p, text).unwrap();
            let s = Sequence::load(&p).unwrap();
            assert_eq!(s.entries["PKG-B"].1, want, "{text}");
        }
        fsx::write(&p, r#"{"sequence":[{"package_id":"PKG-A","layer":-1}]}"#).unwrap();
        let e = Sequence::load(&p).unwrap_err().to_string();
        assert!(e.contains("sequence[0].layer: is -1"), "{e}");
    }
}
