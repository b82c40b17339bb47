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

/// The prompt contracts (file name, contract id, prompt pack id) of the v2 HO1 tier.
pub const CP2_CONTRACTS: [(&str, &str, &str); 4] = [
    ("classify.json", "PRC-CLASSIFY-001", "PRM-CLASSIFY-001"),
    ("consolidate.json", "PRC-CONSOLIDATE-001", "PRM-CONSOLIDATE-001"),
    ("execute.json", "PRC-EXECUTE-001", "PRM-EXECUTE-001"),
    ("synthesize.json", "PRC-SYNTHESIZE-001", "PRM-SYNTHESIZE-001"),
];

/// The v2 HO1 package: four prompt contracts (classify, consolidate, execute, synthesize)
/// with their prompt packs.
pub fn cp2_ho1_package() -> Cp2FixturePackage {
    let mut ho1 = Cp2FixturePackage::new("PKG-HO1-001", "SPEC-CORE-001").framework("FMWK-000").dep("PKG-KERNEL-001");
    for (file, contract, pack) in CP2_CONTRACTS {
        ho1 = ho1.file(&format!("HO1/contracts/{file}"), cp2_contract(contract, pack), "contract").file(
            &format!("HO1/prompt_packs/{pack}.txt"),
            cp2_prompt_pack(pack),
            "prompt_pack",
        );
    }
    ho1
}

/// A v2 prompt contract: `prompt_pack_id` instead of an inline template.
pub fn cp2_contract(contract_id: &str, pack_id: &str) -> String {
    let v = json!({
        "contract_id": contract_id,
        "version": "1.0.0",
        "description": format!("{contract_id} (v2 fixture)"),
        "prompt_pack_id": pack_id,
        "input_schema": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
        "boundary": {"max_tokens": 256, "temperature": 0.0}
    });
    serde_json::to_string_pretty(&v).unwrap_or_else(|e| panic!("{e}")) + "\n"
}

/// The text of a v2 prompt pack (`HO1/prompt_packs/<id>.txt`).
pub fn cp2_prompt_pack(pack_id: &str) -> String {
    format!("[{pack_id}] Do the task for: {{{{input.text}}}}\nContext:\n{{{{context}}}}\n")
}

/// One line of a Python ledger, hashed as the Python system hashed it.
fn python_line(prev: &str, n: usize, event_type: &str, reason: &str, metadata: Value) -> (String, String) {
    let mut m = serde_json::Map::new();
    m.insert("event_type".into(), json!(event_type));
    m.insert("submission_id".into(), json!(format!("SUB-{n:03}")));
    m.insert("decision".into(), json!("PASS"));
    m.insert("reason".into(), json!(reason));
    m.insert("prompts_used".into(), json!([]));
    m.insert("metadata".into(), metadata);
    m.insert("id".into(), json!(format!("LED-{:08x}", 0x1000 + n)));
    m.insert("timestamp".into(), json!(format!("2026-02-10T10:{:02}:00.000000+00:00", n % 60)));
    m.insert("previous_hash".into(), json!(prev));
    let hash = cp_kernel::cp2::python_entry_hash(&m);
    m.insert("entry_hash".into(), json!(hash));
    (serde_json::to_string(&Value::Object(m)).unwrap_or_else(|e| panic!("{e}")), hash)
}

/// Writes a Python ledger file from `(event_type, reason, metadata)` items; returns the last
/// `entry_hash`.
pub fn write_python_ledger(path: &Path, items: &[(&str, String, Value)]) -> String {
    let mut prev = String::new();
    let mut text = String::new();
    for (i, (ev, reason, meta)) in items.iter().enumerate() {
        let (line, hash) = python_line(&prev, i, ev, reason, meta.clone());
        text.push_str(&line);
        text.push('\n');
        prev = hash;
    }
    fsx::write(path, text).unwrap_or_else(|e| panic!("{e}"));
    prev
}

/// Writes a plane as the Python system installed it: the v2 set's files in place (plus HO1
/// contracts with their prompt packs and an attention template), its Python `layout.json`,
/// `HOT/installed/<PKG>/receipt.json` in the Python format, and the `packages.jsonl` /
/// `governance.jsonl` ledgers with `index.jsonl`. Returns the ledgers' last hashes
/// (packages, governance).
pub fn write_cp2_plane(root: &Path) -> (String, String) {
    let mut pkgs: Vec<Cp2FixturePackage> = cp2_packages().into_iter().map(|(p, _)| p).collect();
    let mut ho1 = Cp2FixturePackage::new("PKG-HO1-001", "SPEC-CORE-001").framework("FMWK-000").dep("PKG-KERNEL-001");
    for (file, contract, pack) in CP2_CONTRACTS {
        ho1 = ho1.file(&format!("HO1/contracts/{file}"), cp2_contract(contract, pack), "contract").file(
            &format!("HO1/prompt_packs/{pack}.txt"),
            cp2_prompt_pack(pack),
            "prompt_pack",
        );
    }
    pkgs.push(ho1);
    let mut events = Vec::new();
    for p in &pkgs {
        for (path, data, _) in &p.files {
            let f = root.join(path);
            fsx::create_dir_all(fsx::parent_dir(&f)).unwrap_or_else(|e| panic!("{e}"));
            fsx::write(&f, data).unwrap_or_else(|e| panic!("{e}"));
        }
        let receipt = json!({
            "package_id": p.id, "version": "1.0.0", "installed_at": "2026-02-10T10:00:00+00:00",
            "installer": "install.sh", "files": p.files.iter().map(|(path, d, _)| json!({
                "path": path, "sha256": sha256_prefixed(d)
            })).collect::<Vec<_>>()
        });
        let rdir = root.join("HOT/installed").join(&p.id);
        fsx::create_dir_all(&rdir).unwrap_or_else(|e| panic!("{e}"));
        let text = serde_json::to_vec_pretty(&receipt).unwrap_or_else(|e| panic!("{e}"));
        fsx::write(rdir.join("receipt.json"), text).unwrap_or_else(|e| panic!("{e}"));
        events.push(("INSTALL_STARTED", format!("install {}", p.id), json!({"package_id": p.id})));
        events.push(("INSTALLED", format!("{} installed", p.id), json!({"package_id": p.id, "files": p.files.len()})));
    }
    fsx::write(root.join(cp_kernel::LAYOUT_PATH), CP2_LAYOUT_JSON).unwrap_or_else(|e| panic!("{e}"));
    let ledger = root.join("HOT/ledger");
    fsx::create_dir_all(&ledger).unwrap_or_else(|e| panic!("{e}"));
    let packages = write_python_ledger(&ledger.join("packages.jsonl"), &events);
    let governance = write_python_ledger(
        &ledger.join("governance.jsonl"),
        &[
            ("GATE_PASSED", "G0 passed".into(), json!({"gate": "G0"})),
            ("WORK_ORDER_CREATED", "classify inbox".into(), json!({"work_order_id": "WO-001", "cost": 0.25})),
        ],
    );
    let index = format!(
        "{}\n{}\n",
        json!({"ledger": "packages.jsonl", "entries": events.len(), "last_hash": packages}),
        json!({"ledger": "governance.jsonl", "entries": 2, "last_hash": governance})
    );
    fsx::write(ledger.join("index.jsonl"), index).unwrap_or_else(|e| panic!("{e}"));
    (packages, governance)
}
