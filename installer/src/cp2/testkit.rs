//! Test support (feature `testkit`): Control Plane v2-shaped archive sets, built the way the
//! Python packer built them (`cp_kernel::testkit::python_style_archive`).
//!
//! The set ([`write_cp2_set`]) has the shapes that stopped v2 archives installing: manifests
//! 1.2 without `layer` (layers in `bootstrap_sequence.json`), genesis and kernel without
//! `framework_id`, `external_deps` on the kernel, `package_type` and `metadata` everywhere,
//! registry CSVs shipped by PKG-REG-001, FMWK-000 whose `path_authorizations` do not cover the
//! framework and spec pack paths of PKG-FRAMEWORK-WIRING-001, and a Python-format
//! `HOT/config/layout.json` in PKG-LAYOUT-001.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use cp_kernel::testkit::python_style_archive;
use cp_kernel::{fsx, sha256_prefixed};

/// A v2 package source: manifest fields and files.
#[derive(Debug, Clone)]
pub struct Cp2FixturePackage {
    /// `package_id`.
    pub id: String,
    /// `spec_id`.
    pub spec: String,
    /// `framework_id` (absent when `None`).
    pub framework: Option<String>,
    /// `layer` (absent when `None`, as the Python manifests have it).
    pub layer: Option<u32>,
    /// `dependencies`.
    pub deps: Vec<String>,
    /// `external_deps` (absent when empty).
    pub external_deps: Vec<String>,
    /// Files: path, content, classification.
    pub files: Vec<(String, Vec<u8>, String)>,
}

impl Cp2FixturePackage {
    /// A package with no files, no framework, no layer.
    pub fn new(id: &str, spec: &str) -> Self {
        Self {
            id: id.into(),
            spec: spec.into(),
            framework: None,
            layer: None,
            deps: Vec::new(),
            external_deps: Vec::new(),
            files: Vec::new(),
        }
    }

    /// Sets `framework_id`.
    pub fn framework(mut self, fw: &str) -> Self {
        self.framework = Some(fw.into());
        self
    }

    /// Adds a dependency.
    pub fn dep(mut self, id: &str) -> Self {
        self.deps.push(id.into());
        self
    }

    /// Adds a file.
    pub fn file(mut self, path: &str, content: impl AsRef<[u8]>, class: &str) -> Self {
        self.files.push((path.into(), content.as_ref().to_vec(), class.into()));
        self
    }

    /// The v1.2 manifest as the Python packer wrote it.
    pub fn manifest(&self) -> Value {
        let mut m = json!({
            "package_id": self.id,
            "package_type": "standard",
            "version": "1.0.0",
            "schema_version": "1.2",
            "title": format!("{} (v2 fixture)", self.id),
            "description": "Control Plane v2 shaped fixture",
            "spec_id": self.spec,
            "plane_id": "hot",
            "dependencies": self.deps,
            "assets": self.files.iter().map(|(p, d, c)| json!({
                "path": p, "sha256": sha256_prefixed(d), "classification": c
            })).collect::<Vec<_>>(),
            "metadata": {"created_at": "2026-02-10T00:00:00+00:00", "author": "builder"}
        });
        if let Some(fw) = &self.framework {
            m["framework_id"] = json!(fw);
        }
        if let Some(l) = self.layer {
            m["layer"] = json!(l);
        }
        if !self.external_deps.is_empty() {
            m["external_deps"] = json!(self.external_deps);
        }
        m
    }

    /// Writes the package as a Python-style archive `dir/<id>.tar.gz` and returns its path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let src = dir.join(format!("{}.src", self.id));
        for (p, d, _) in &self.files {
            let f = src.join(p);
            fsx::create_dir_all(f.parent().unwrap_or(&src)).unwrap_or_else(|e| panic!("{e}"));
            fsx::write(f, d).unwrap_or_else(|e| panic!("{e}"));
        }
        fsx::create_dir_all(&src).unwrap_or_else(|e| panic!("{e}"));
        let m = serde_json::to_vec_pretty(&self.manifest()).unwrap_or_else(|e| panic!("{e}"));
        fsx::write(src.join("manifest.json"), m).unwrap_or_else(|e| panic!("{e}"));
        let out = dir.join(format!("{}.tar.gz", self.id));
        fsx::write(&out, python_style_archive(&src)).unwrap_or_else(|e| panic!("{e}"));
        fsx::remove_dir_all(&src).unwrap_or_else(|e| panic!("{e}"));
        out
    }
}

/// The specs FMWK-000 expects in the fixture set.
pub const CP2_SPECS: [&str; 4] = ["SPEC-GENESIS-001", "SPEC-CORE-001", "SPEC-REG-001", "SPEC-PLANE-001"];

/// The FMWK-000 manifest of the set: it authorises the Python code paths only, as the v2 one did.
pub fn cp2_fmwk000() -> String {
    format!(
        "framework_id: FMWK-000\ntitle: Control Plane Governance\nversion: \"1.0.0\"\nstatus: active\n\
         ring: kernel\nplane_id: hot\nassets: []\nexpected_specs: [{}]\n\
         path_authorizations:\n  - \"HOT/kernel/*.py\"\n  - \"HOT/scripts/*\"\n  - \"HOT/schemas/*.json\"\n\
         \x20 - \"HOT/config/*.json\"\n  - \"HOT/tests/test_*.py\"\nrequired_gates: [G0, G1]\ndependencies: []\n",
        CP2_SPECS.join(", ")
    )
}

fn spec_pack(spec: &str) -> String {
    format!(
        "spec_id: {spec}\ntitle: {spec}\nframework_id: FMWK-000\nstatus: active\nversion: \"1.0.0\"\n\
         plane_id: hot\nassets: []\n"
    )
}

/// The Python-format layout document PKG-LAYOUT-001 shipped (tiers as an object, ledger paths).
pub const CP2_LAYOUT_JSON: &str = r#"{
  "schema_version": "1.0",
  "tiers": {"HOT": {"path": "HOT"}, "HO2": {"path": "HO2"}, "HO1": {"path": "HO1"}},
  "hot_dirs": {"kernel": "kernel", "registries": "registries", "ledger": "ledger", "installed": "installed"},
  "ledger_files": {"governance": "HOT/ledger/governance.jsonl", "packages": "HOT/ledger/packages.jsonl"}
}
"#;

/// The packages of the v2 fixture set, in the order of its `bootstrap_sequence.json`, with
/// their layers there.
pub fn cp2_packages() -> Vec<(Cp2FixturePackage, u32)> {
    let genesis = Cp2FixturePackage::new("PKG-GENESIS-000", "SPEC-GENESIS-001")
        .file("HOT/kernel/genesis.py", "def bootstrap():\n    return 0\n", "kernel")
        .file("HOT/scripts/install.sh", "#!/bin/sh\nexit 0\n", "script");
    let mut kernel = Cp2FixturePackage::new("PKG-KERNEL-001", "SPEC-CORE-001")
        .dep("PKG-GENESIS-000")
        .file("HOT/kernel/ledger_client.py", "class LedgerClient:\n    pass\n", "library")
        .file("HOT/tests/test_ledger_client.py", "def test_ok():\n    assert True\n", "test");
    kernel.external_deps = vec!["pyyaml>=6.0".into()];
    let mut wiring = Cp2FixturePackage::new("PKG-FRAMEWORK-WIRING-001", "SPEC-GENESIS-001")
        .framework("FMWK-000")
        .dep("PKG-KERNEL-001");
    wiring = wiring.file("HOT/FMWK-000_Control_Plane_Governance/manifest.yaml", cp2_fmwk000(), "framework");
    for s in CP2_SPECS {
        wiring = wiring.file(&format!("HOT/spec_packs/{s}/manifest.yaml"), spec_pack(s), "spec");
    }
    let reg = Cp2FixturePackage::new("PKG-REG-001", "SPEC-REG-001")
        .framework("FMWK-000")
        .dep("PKG-KERNEL-001")
        .file(
            "HOT/registries/frameworks_registry.csv",
            "framework_id,title,status,version,plane_id,created_at\nFMWK-000,Control Plane Governance,active,1.0.0,hot,2026-02-10\n",
            "registry",
        )
        .file(
            "HOT/registries/specs_registry.csv",
            "spec_id,title,framework_id,status,version,plane_id,created_at\nSPEC-REG-001,Registries,FMWK-000,active,1.0.0,hot,2026-02-10\n",
            "registry",
        )
        .file("HOT/kernel/registry.py", "def load():\n    return []\n", "library");
    let layout = Cp2FixturePackage::new("PKG-LAYOUT-001", "SPEC-PLANE-001")
        .framework("FMWK-000")
        .dep("PKG-KERNEL-001")
        .file("HOT/config/layout.json", CP2_LAYOUT_JSON, "config");
    vec![(genesis, 0), (kernel, 1), (wiring, 2), (reg, 2), (layout, 2)]
}

/// Writes the v2 fixture set into `dir` (one Python-style archive per package and
/// `bootstrap_sequence.json`) and returns the archive paths in sequence order.
pub fn write_cp2_set(dir: &Path) -> Vec<PathBuf> {
    fsx::create_dir_all(dir).unwrap_or_else(|e| panic!("{e}"));
    let pkgs = cp2_packages();
    let seq: Vec<Value> = pkgs.iter().map(|(p, l)| json!({"package_id": p.id, "layer": l})).collect();
    let text = serde_json::to_vec_pretty(&json!({ "sequence": seq })).unwrap_or_else(|e| panic!("{e}"));
    fsx::write(dir.join(super::SEQUENCE_FILE), text).unwrap_or_else(|e| panic!("{e}"));
    pkgs.iter().map(|(p, _)| p.write(dir)).collect()
}
