//! The seams between the framework module's governed config files and their readers: the
//! installer and `cpctl gates --all` follow `HOT/config/governance_policy.yaml`.

use cp_installer::{InstallOptions, Installer};
use cp_kernel::{
    GateId, PlaneConfig, plane_gate_ids, run_plane_gates, testkit::FixturePackage, testkit::TempPlane,
    testkit::fixture_framework_package,
};

fn unsigned_plane() -> TempPlane {
    TempPlane::with_config(PlaneConfig { require_signatures: false, ..PlaneConfig::default() })
}

fn at_layer(id: &str, layer: u32, path: &str) -> FixturePackage {
    let mut p = FixturePackage::new(id).file(path, "{}\n");
    p.layer = layer;
    p
}

fn install(tp: &TempPlane, p: &FixturePackage) -> Result<(), String> {
    let a = p.write(&tp.dir.path().join("store"));
    Installer::new(&tp.plane)
        .install_archive(&a, Some(&p.id), &InstallOptions::default())
        .map(|_| ())
        .map_err(|e| e.code().to_string())
}

/// A policy whose layer 7 skips G1 and whose plane gates are G0B and G6 only.
const POLICY: &str = r#"schema_version: "1.0"
policy_id: POL-TEST-001
version: "1.0.0"
install_gates: [G0A, G0B, G1, G1-COMPLETE, G5]
layer_overrides:
  - layers: [7]
    install_gates: [G0A, G0B, G5]
genesis:
  layers: [0, 1]
  exempt_checks: [framework_registered, spec_registered, path_authorized, expected_specs]
  only_while_no_framework_registered: true
self_registration: true
plane_gates: [G0B, G6]
"#;

#[test]
fn genesis_layers_skip_framework_checks_only_while_no_framework_is_registered() {
    let tp = unsigned_plane();
    let mut genesis = at_layer("PKG-GEN-001", 0, "HOT/schemas/gen.json");
    genesis.framework_id = "FMWK-000".into();
    genesis.spec_id = "SPEC-GENESIS-001".into();
    install(&tp, &genesis).expect("layer 0 installs under genesis with no framework registered");
    let mut later = at_layer("PKG-LATER-001", 2, "HOT/schemas/later.json");
    later.framework_id = "FMWK-000".into();
    later.spec_id = "SPEC-GENESIS-001".into();
    assert_eq!(install(&tp, &later).unwrap_err(), "G1_SPEC_MISSING", "layer 2 is not a genesis layer");
    // Once a framework is registered, genesis is over even for layer 0.
    install(&tp, &fixture_framework_package()).unwrap();
    let mut late_genesis = at_layer("PKG-GEN-002", 0, "HO2/unauthorized/x.json");
    late_genesis.framework_id = "FMWK-000".into();
    assert_eq!(install(&tp, &late_genesis).unwrap_err(), "G1_FRAMEWORK_MISSING");
}

#[test]
fn installed_governance_policy_selects_the_install_gates_per_layer_and_the_plane_gates() {
    let tp = unsigned_plane();
    let default_ids = plane_gate_ids(&tp.plane).unwrap();
    assert_eq!(default_ids, vec![GateId::G0a, GateId::G0b, GateId::G1, GateId::G1Complete, GateId::G5, GateId::G6]);
    // Layer 1 under genesis: the policy's own path is not authorised by FMWK-900, and is exempt.
    let fw = fixture_framework_package().file("HOT/config/governance_policy.yaml", POLICY);
    install(&tp, &fw).unwrap();
    // Layer 6 runs G1: the path lies outside FMWK-900's authorisations.
    assert_eq!(install(&tp, &at_layer("PKG-L6-001", 6, "HO2/elsewhere/x.json")).unwrap_err(), "G1_PATH_UNAUTHORIZED");
    // Layer 7's override drops G1.
    install(&tp, &at_layer("PKG-L7-001", 7, "HO2/elsewhere/y.json")).expect("layer 7 skips G1");
    assert_eq!(plane_gate_ids(&tp.plane).unwrap(), vec![GateId::G0b, GateId::G6]);
    let reports = run_plane_gates(&tp.plane).unwrap();
    assert_eq!(reports.iter().map(|r| r.gate).collect::<Vec<_>>(), vec![GateId::G0b, GateId::G6]);
}

/// G6 reports through `ledger::verify::verify_store`: the defect kind and seq of the first bad
/// record, under the stable code.
#[test]
fn g6_reports_the_verify_store_defect_kind_and_seq() {
    use cp_kernel::{DefectKind, LedgerBackend, LedgerName, LedgerSet, run_gates};
    let tp = TempPlane::with_config(PlaneConfig {
        require_signatures: false,
        ledger_backend: Some(LedgerBackend::Jsonl),
        ..PlaneConfig::default()
    });
    install(&tp, &fixture_framework_package()).unwrap();
    assert!(run_gates(&tp.plane, &[GateId::G6]).unwrap()[0].passed());
    let path = LedgerSet::new(&tp.plane).path_of(&LedgerName::parse("HOT/packages").unwrap());
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 2, "{text}");
    lines.insert(1, "this is not a ledger record");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let r = run_gates(&tp.plane, &[GateId::G6]).unwrap();
    assert!(!r[0].passed());
    let issue = &r[0].errors[0];
    assert_eq!(issue.code, "G6_CHAIN_BROKEN");
    assert_eq!(issue.path.as_deref(), Some("HOT/packages"));
    let want = format!("seq 1: {}:", DefectKind::JunkLine.describe());
    assert!(issue.message.starts_with(&want), "{}", issue.message);
}

#[test]
fn registries_verify_checks_live_headers_against_the_catalogue() {
    use cp_installer::verify_registries;
    let tp = unsigned_plane();
    install(&tp, &fixture_framework_package()).unwrap();
    assert!(verify_registries(&tp.plane).unwrap().is_empty());
    let f = tp.plane.root().join("HOT/registries/packages_state.csv");
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.starts_with("package_id,version,layer,"), "{text}");
    std::fs::write(&f, text.replacen("layer", "tier", 1)).unwrap();
    let diffs = verify_registries(&tp.plane).unwrap();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert_eq!((diffs[0].registry.as_str(), diffs[0].key.as_str()), ("HOT/registries/packages_state.csv", "(header)"));
    assert!(diffs[0].message.contains("tier"), "{}", diffs[0].message);
}

#[test]
fn installer_rebuild_refuses_a_catalogue_that_disagrees_with_the_written_columns() {
    let tp = unsigned_plane();
    let catalogue = cp_kernel::DEFAULT_REGISTRIES_YAML.replace(
        "columns: [package_id, version, layer, status, manifest_sha256, installed_date]",
        "columns: [package_id, version, tier, status, manifest_sha256, installed_date]",
    );
    assert_ne!(catalogue, cp_kernel::DEFAULT_REGISTRIES_YAML);
    // Under genesis (no framework yet) the catalogue path needs no authorisation.
    let p = fixture_framework_package().file("HOT/config/registries.yaml", &catalogue);
    assert_eq!(install(&tp, &p).unwrap_err(), "REGISTRY");
    assert!(!tp.plane.root().join("HOT/config/registries.yaml").exists(), "the install was rolled back");
    // The shipped catalogue agrees with what the kernel writes.
    let ok = fixture_framework_package().file("HOT/config/registries.yaml", cp_kernel::DEFAULT_REGISTRIES_YAML);
    install(&tp, &ok).unwrap();
}

/// G6 verifies each ledger against its latest saved checkpoint with the signer's key from the
/// plane trust store; `record_checkpoint` logs a CHECKPOINT entry on HOT/governance.
#[test]
fn g6_checks_saved_checkpoints_with_the_trusted_signer() {
    use cp_kernel::{
        Checkpoint, KeyPairFile, LedgerBackend, LedgerName, LedgerQuery, LedgerSet, TrustedKey, event,
        record_checkpoint, run_gates, save_checkpoint,
    };
    let key = KeyPairFile::from_seed(&[7; 32]);
    let stranger = KeyPairFile::from_seed(&[9; 32]);
    let pk = key.public();
    let tp = TempPlane::with_config(PlaneConfig {
        require_signatures: false,
        ledger_backend: Some(LedgerBackend::Jsonl),
        trusted_keys: vec![TrustedKey {
            key_id: pk.key_id.clone(),
            public_key: pk.public_key.clone(),
            note: String::new(),
        }],
        ..PlaneConfig::default()
    });
    install(&tp, &fixture_framework_package()).unwrap();
    let set = LedgerSet::new(&tp.plane);
    let store = set.open(LedgerName::PACKAGES).unwrap();
    let cp = Checkpoint::create(&*store, &key).unwrap();
    let saved = save_checkpoint(&tp.plane, &cp).unwrap();
    assert!(saved.starts_with(tp.plane.root().join("HOT/ledger/checkpoints")), "{}", saved.display());
    let logged = record_checkpoint(&set, &cp).unwrap();
    let gov = set.open(LedgerName::GOVERNANCE).unwrap().query(&LedgerQuery::default()).unwrap();
    let e = gov.iter().find(|e| e.id == logged.id).unwrap();
    assert_eq!(e.event_type, event::CHECKPOINT);
    assert_eq!(
        (&e.metadata["origin"], &e.metadata["size"], &e.metadata["root"], &e.metadata["key_id"]),
        (
            &serde_json::json!("HOT/packages"),
            &serde_json::json!(cp.size),
            &serde_json::json!(cp.root),
            &serde_json::json!(pk.key_id)
        )
    );
    drop(store);
    drop(set);
    let g6 = |tp: &TempPlane| run_gates(&tp.plane, &[GateId::G6]).unwrap().remove(0);
    assert!(g6(&tp).passed(), "{:?}", g6(&tp).errors);
    // Drop the last entry: the chain is still valid, the checkpoint says it was truncated.
    let path = LedgerSet::new(&tp.plane).path_of(&LedgerName::parse("HOT/packages").unwrap());
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&path, lines[..lines.len() - 1].join("\n") + "\n").unwrap();
    let r = g6(&tp);
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    assert_eq!(r.errors[0].code, "G6_CHECKPOINT_MISMATCH");
    assert!(r.errors[0].message.contains("truncated"), "{}", r.errors[0].message);
    std::fs::write(&path, &text).unwrap();
    assert!(g6(&tp).passed());
    // A newer checkpoint signed by a key outside the trust store is refused.
    let store = LedgerSet::new(&tp.plane).open(LedgerName::PACKAGES).unwrap();
    install(&tp, &FixturePackage::new("PKG-MORE-001").file("HOT/schemas/more.json", "{}\n")).unwrap();
    let cp2 = Checkpoint::create(&*store, &stranger).unwrap();
    drop(store);
    assert!(cp2.size > cp.size);
    save_checkpoint(&tp.plane, &cp2).unwrap();
    let r = g6(&tp);
    assert_eq!(r.errors[0].code, "G6_CHECKPOINT_MISMATCH");
    assert!(r.errors[0].message.contains("trust store"), "{}", r.errors[0].message);
}
