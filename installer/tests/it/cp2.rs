//! Control Plane v2 archives install (issue 17): a v2-shaped set (manifests 1.2 without
//! `layer`/`framework_id`, `external_deps`, shipped registry CSVs, FMWK-000 not authorising its
//! own framework files, a Python `layout.json`) installs with `--cp2-compat`, gates pass
//! afterwards, and every compatibility decision is on the ledger; without `--cp2-compat` and
//! with a missing dependency it is refused with a clear reason.

use cp_installer::cp2::testkit::{Cp2FixturePackage, write_cp2_set};
use cp_installer::cp2::{Cp2Options, LayerSource, install_cp2_set};
use cp_kernel::{
    GateStatus, LedgerEntry, LedgerName, LedgerQuery, LedgerSet, PlaneConfig, run_gates, testkit::TempPlane,
};

fn plane() -> TempPlane {
    TempPlane::with_config(PlaneConfig { require_signatures: false, ..PlaneConfig::default() })
}

fn compat() -> Cp2Options {
    Cp2Options { compat: true, ..Cp2Options::default() }
}

fn entries(tp: &TempPlane, ev: &str) -> Vec<LedgerEntry> {
    let l = LedgerSet::new(&tp.plane).open(LedgerName::PACKAGES).unwrap();
    l.query(&LedgerQuery::default()).unwrap().into_iter().filter(|e| e.event_type == ev).collect()
}

#[test]
fn a_v2_set_installs_with_cp2_compat_and_gates_pass() {
    let tp = plane();
    let archives = write_cp2_set(&tp.dir.path().join("v2"));
    let r = install_cp2_set(&tp.plane, &archives, &compat()).unwrap();
    let order: Vec<(&str, u32, LayerSource)> =
        r.packages.iter().map(|p| (p.package_id.as_str(), p.layer, p.layer_source)).collect();
    assert_eq!(
        order,
        vec![
            ("PKG-GENESIS-000", 0, LayerSource::Sequence),
            ("PKG-KERNEL-001", 1, LayerSource::Sequence),
            ("PKG-FRAMEWORK-WIRING-001", 2, LayerSource::Sequence),
            ("PKG-REG-001", 2, LayerSource::Sequence),
            ("PKG-LAYOUT-001", 2, LayerSource::Sequence),
        ]
    );
    let kernel = &r.packages[1];
    assert_eq!(kernel.external_deps, vec![serde_json::json!("pyyaml>=6.0")]);
    assert_eq!(kernel.record["framework_id_derived"], "FMWK-000");
    // The framework's own files were accepted as waivers, and only those.
    let wiring = &r.packages[2];
    assert_eq!(wiring.waived_paths.len(), 5, "{:?}", wiring.waived_paths);
    assert!(wiring.waived_paths.iter().all(|p| p.starts_with("HOT/FMWK-000_") || p.starts_with("HOT/spec_packs/")));
    assert!(r.packages[0].waived_paths.is_empty());
    // Shipped registries merged: their rows are in the derived registries.
    assert_eq!(r.registry_rows_merged["HOT/registries/frameworks_registry.csv"], vec!["FMWK-000"]);
    assert_eq!(r.registry_rows_merged["HOT/registries/specs_registry.csv"], vec!["SPEC-REG-001"]);
    assert!(r.registry_rows_left.is_empty(), "{:?}", r.registry_rows_left);
    // The Python layout is installed as what it is, beside (not as) the native layout.
    assert!(tp.plane.root().join("HOT/cp2/config/layout.json").is_file());
    assert!(!tp.plane.root().join("HOT/config/layout.json").exists());
    cp_kernel::Plane::open(tp.plane.root()).unwrap();
    for g in run_gates(&tp.plane, &[]).unwrap() {
        assert_eq!(g.status, GateStatus::Pass, "{g:#?}");
    }
    assert!(cp_installer::verify_registries(&tp.plane).unwrap().is_empty());
    // Every decision is on the ledger.
    let waived = entries(&tp, "POLICY_WAIVED");
    let w: Vec<_> = waived.iter().filter(|e| e.metadata["policy_id"] == "cp2.path_authorization").collect();
    assert_eq!(w.len(), 2, "wiring and layout: {waived:#?}");
    assert_eq!(w[0].decision.as_deref(), Some("WAIVED"));
    let installed = entries(&tp, "INSTALLED");
    let k = installed.iter().find(|e| e.provenance().package_id.as_deref() == Some("PKG-KERNEL-001")).unwrap();
    assert_eq!(k.metadata["cp2"]["external_deps"], serde_json::json!(["pyyaml>=6.0"]));
    assert_eq!(k.metadata["cp2"]["layer_source"], "bootstrap_sequence");
    let reg = installed.iter().find(|e| e.provenance().package_id.as_deref() == Some("PKG-REG-001")).unwrap();
    assert_eq!(reg.metadata["cp2"]["registries_merged"][0]["shipped_by"], "PKG-REG-001");
}

#[test]
fn without_cp2_compat_uncovered_paths_are_refused_and_logged() {
    let tp = plane();
    let archives = write_cp2_set(&tp.dir.path().join("v2"));
    let e = install_cp2_set(&tp.plane, &archives, &Cp2Options::default()).unwrap_err();
    let msg = e.to_string();
    assert_eq!(e.code(), "G1_PATH_UNAUTHORIZED", "{msg}");
    assert!(msg.starts_with("PKG-FRAMEWORK-WIRING-001"), "{msg}");
    let failed = entries(&tp, "INSTALL_FAILED");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].metadata["code"], "G1_PATH_UNAUTHORIZED");
    assert!(entries(&tp, "POLICY_WAIVED").iter().all(|e| e.metadata["policy_id"] != "cp2.path_authorization"));
}

#[test]
fn layers_come_from_dependency_depth_without_a_sequence_file() {
    let tp = plane();
    let d = tp.dir.path().join("v2");
    let archives = write_cp2_set(&d);
    std::fs::remove_file(d.join("bootstrap_sequence.json")).unwrap();
    let r = install_cp2_set(&tp.plane, &archives, &compat()).unwrap();
    let layers: Vec<(&str, u32, LayerSource)> =
        r.packages.iter().map(|p| (p.package_id.as_str(), p.layer, p.layer_source)).collect();
    assert_eq!(layers[0], ("PKG-GENESIS-000", 0, LayerSource::DependencyDepth));
    assert_eq!(layers[1], ("PKG-KERNEL-001", 1, LayerSource::DependencyDepth));
    assert!(layers[2..].iter().all(|l| l.1 == 2), "{layers:?}");
}

#[test]
fn a_set_missing_a_dependency_is_refused_before_anything_installs() {
    let tp = plane();
    let d = tp.dir.path().join("v2");
    let mut archives = write_cp2_set(&d);
    archives.push(
        Cp2FixturePackage::new("PKG-ORPHAN-001", "SPEC-CORE-001")
            .framework("FMWK-000")
            .dep("PKG-ABSENT-001")
            .file("HOT/kernel/orphan.py", "x = 1\n", "library")
            .write(&d),
    );
    let e = install_cp2_set(&tp.plane, &archives, &compat()).unwrap_err();
    assert_eq!(e.code(), "G1_DEPENDENCY_MISSING");
    assert!(
        e.to_string().contains("PKG-ORPHAN-001 depends on PKG-ABSENT-001, which is neither in the set nor installed"),
        "{e}"
    );
    assert!(cp_kernel::load_receipts(&tp.plane).unwrap().is_empty());
}

#[test]
fn framework_id_may_be_absent_only_in_the_genesis_layers() {
    let tp = plane();
    let d = tp.dir.path().join("v2");
    let mut archives = write_cp2_set(&d);
    archives.push(
        Cp2FixturePackage::new("PKG-NOFW-001", "SPEC-CORE-001")
            .dep("PKG-LAYOUT-001")
            .file("HOT/kernel/nofw.py", "x = 1\n", "library")
            .write(&d),
    );
    let e = install_cp2_set(&tp.plane, &archives, &compat()).unwrap_err();
    assert_eq!(e.code(), "CP2_FRAMEWORK_REQUIRED");
    assert!(e.to_string().contains("PKG-NOFW-001: manifest has no framework_id"), "{e}");
}

#[test]
fn a_shipped_registry_installed_as_a_plain_archive_names_the_reason() {
    let tp = plane();
    let d = tp.dir.path().join("v2");
    let archives = write_cp2_set(&d);
    install_cp2_set(&tp.plane, &archives[..3], &compat()).unwrap();
    // The same v2 registry package through the native path: its registry file is refused with a
    // message that says why, not "(unowned file)".
    let native = cp_kernel::testkit::FixturePackage::new("PKG-SHIPREG-001")
        .file("HOT/registries/frameworks_registry.csv", "framework_id\n");
    let e = cp_installer::Installer::new(&tp.plane)
        .install_archive(&native.write(&d.join("n")), None, &cp_installer::InstallOptions::default())
        .unwrap_err();
    assert_eq!(e.code(), "OWNERSHIP_CONFLICT");
    assert!(e.to_string().contains("the installer maintains this registry itself"), "{e}");
}

#[test]
fn cp_install_cp2_refuses_by_default_and_installs_with_cp2_compat() {
    let dir = tempfile::tempdir().unwrap();
    let archives = write_cp2_set(&dir.path().join("v2"));
    let root = dir.path().join("plane");
    let mut args: Vec<String> = vec!["--root".into(), root.display().to_string(), "cp2".into(), "--dev".into()];
    args.extend(archives.iter().map(|a| a.display().to_string()));
    let run = |extra: &[&str]| {
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.extend_from_slice(extra);
        crate::cli::cp_install(dir.path(), &a)
    };
    let refused = run(&[]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{err}");
    assert!(err.contains("G1_PATH_UNAUTHORIZED") && err.contains("PKG-FRAMEWORK-WIRING-001"), "{err}");
    let done = run(&["--cp2-compat"]);
    let out = String::from_utf8_lossy(&done.stdout);
    assert!(done.status.success(), "{out}\n{}", String::from_utf8_lossy(&done.stderr));
    assert!(out.contains("PKG-KERNEL-001") && out.contains("external_deps recorded: 1"), "{out}");
    assert!(out.contains("5 paths waived (--cp2-compat)"), "{out}");
    let plane = cp_kernel::Plane::open(&root).unwrap();
    for g in run_gates(&plane, &[]).unwrap() {
        assert_eq!(g.status, GateStatus::Pass, "{g:#?}");
    }
}

mod migrate {
    use cp_installer::cp2::testkit::{CP2_CONTRACTS, write_cp2_plane};
    use cp_installer::cp2::{MIGRATED_PACKAGE, MIGRATION_REPORT, migrate_cp2_plane};
    use cp_kernel::testkit::{test_secret, tree_hash};
    use cp_kernel::{
        GateStatus, LedgerQuery, LedgerSet, LimitConfig, Plane, PromptRouter, RequestFile, RouterOptions, ScopeKey,
        ScopeKind, run_gates, verify_store,
    };
    use serde_json::json;

    #[test]
    fn a_v2_plane_migrates_into_a_native_plane_whose_gates_pass_history_verifies_and_contracts_route() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old");
        let (packages_head, governance_head) = write_cp2_plane(&old);
        let before = tree_hash(&old, &[]);
        let new = dir.path().join("new");
        let r = migrate_cp2_plane(&old, &new).unwrap();
        assert_eq!(tree_hash(&old, &[]), before, "the v2 plane was modified");

        // Gates pass on the new plane.
        let plane = Plane::open(&new).unwrap();
        for g in run_gates(&plane, &[]).unwrap() {
            assert_eq!(g.status, GateStatus::Pass, "{g:#?}");
        }
        // History: imported, verifiable, linked to the Python chain's last hash.
        let heads: Vec<(&str, &str)> = r.ledgers.iter().map(|l| (l.ledger.as_str(), l.source.as_str())).collect();
        assert_eq!(
            heads,
            vec![
                ("HOT/cp2_governance", "HOT/ledger/governance.jsonl"),
                ("HOT/cp2_packages", "HOT/ledger/packages.jsonl")
            ]
        );
        for (l, head) in r.ledgers.iter().zip([&governance_head, &packages_head]) {
            assert_eq!(l.source_head.as_deref(), Some(head.as_str()));
            let store = LedgerSet::new(&plane).open(&l.ledger).unwrap();
            assert!(verify_store(&*store).unwrap().ok);
            let entries = store.query(&LedgerQuery::default()).unwrap();
            assert_eq!(entries.len() as u64, l.imported + 1);
            // The Python chain, end to end, inside the native one.
            let mut prev = String::new();
            for e in &entries[..entries.len() - 1] {
                assert_eq!(e.metadata["cp2"]["previous_hash"], json!(prev));
                prev = e.metadata["cp2"]["entry_hash"].as_str().unwrap().to_string();
            }
            let link = entries.last().unwrap();
            assert_eq!(link.event_type, "CP2_IMPORTED");
            assert_eq!(link.seq, l.link_seq);
            assert_eq!(link.metadata["source_head"], json!(prev));
        }
        // Carried and left, with reasons.
        for (file, _, pack) in CP2_CONTRACTS {
            assert!(r.carried.contains(&format!("HO1/contracts/{file}")), "{:?}", r.carried);
            assert!(r.carried.contains(&format!("HO1/prompt_packs/{pack}.txt")), "{:?}", r.carried);
        }
        let reason = |p: &str| r.left.iter().find(|l| l.path == p).map(|l| l.reason.clone()).unwrap_or_default();
        assert!(reason("HOT/kernel/genesis.py").starts_with("Python code"));
        assert!(reason("HOT/FMWK-000_Control_Plane_Governance/manifest.yaml").contains("native plane's FMWK-000"));
        assert!(reason("HOT/config/layout.json").starts_with("Python layout"));
        assert!(reason("HOT/installed/PKG-KERNEL-001/receipt.json").starts_with("Python receipt"));
        assert_eq!(r.package.as_ref().unwrap().package_id, MIGRATED_PACKAGE);
        assert!(new.join(MIGRATION_REPORT).is_file());

        // A carried v2 contract routes through the mock with its prompt pack.
        let router = PromptRouter::open(&plane, RouterOptions::new().auth_secret(test_secret())).unwrap();
        let (token, _) = router.issue_token("migrator", &["operator".into()], "acme", None).unwrap();
        let scope = ScopeKey::new(ScopeKind::Session, "acme", "s1");
        let limit: LimitConfig = router.budgeter().config().defaults.session;
        router.allocate(&token, &scope, limit).unwrap();
        let req = json!({"contract": "HO1/contracts/classify.json", "context": "migrated", "input": {"text": "hi"},
                         "provenance": {"tenant_id": "acme", "session_id": "s1"}});
        let path = dir.path().join("req.json");
        std::fs::write(&path, serde_json::to_vec(&req).unwrap()).unwrap();
        let doc = RequestFile::read(&plane, &path).unwrap();
        let routed = router.authorize_route_request(&plane, doc, Some(token)).unwrap();
        assert!(routed.contract_source.governed);
        router.route(routed.prompt).unwrap();
        let sent = router
            .store()
            .query(&LedgerQuery::default())
            .unwrap()
            .into_iter()
            .rfind(|e| e.event_type == "PROMPT_SENT")
            .unwrap();
        assert_eq!(sent.metadata["prompt_pack_id"], "PRM-CLASSIFY-001");
    }

    #[test]
    fn a_broken_v2_ledger_is_reported_with_line_and_id_and_nothing_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old");
        write_cp2_plane(&old);
        let f = old.join("HOT/ledger/packages.jsonl");
        let text = std::fs::read_to_string(&f).unwrap().replacen("install PKG-KERNEL-001", "install PKG-EVIL-001", 1);
        std::fs::write(&f, text).unwrap();
        let new = dir.path().join("new");
        let e = migrate_cp2_plane(&old, &new).unwrap_err();
        assert_eq!(e.code(), "CP2_LEDGER_BROKEN");
        assert!(e.to_string().contains("HOT/ledger/packages.jsonl does not verify: line 3 (id LED-00001002)"), "{e}");
        assert!(!new.exists());
    }
}

#[test]
fn the_v2_ho1_package_installs_and_its_pack_contract_routes_through_the_mock() {
    use cp_installer::cp2::testkit::cp2_ho1_package;
    use cp_kernel::testkit::{router_test_configs, test_secret, write_router_configs};
    use cp_kernel::{PromptRouter, RequestFile, RouterOptions};
    let tp = plane();
    let d = tp.dir.path().join("v2");
    let mut archives = write_cp2_set(&d);
    archives.push(cp2_ho1_package().write(&d));
    let r = install_cp2_set(&tp.plane, &archives, &compat()).unwrap();
    let ho1 = r.packages.iter().find(|p| p.package_id == "PKG-HO1-001").unwrap();
    assert_eq!(ho1.layer, 2, "dependency depth below PKG-KERNEL-001");
    for g in run_gates(&tp.plane, &[]).unwrap() {
        assert_eq!(g.status, GateStatus::Pass, "{g:#?}");
    }
    let (rc, b, p) = router_test_configs();
    write_router_configs(&tp, &rc, &b, &p);
    let router = PromptRouter::open(&tp.plane, RouterOptions::new().auth_secret(test_secret())).unwrap();
    let (token, _) = router.issue_token("agent", &["agent".into()], "acme", None).unwrap();
    let req = serde_json::json!({"contract": "HO1/contracts/execute.json", "context": "ctx", "input": {"text": "go"},
                                 "provenance": {"tenant_id": "acme", "session_id": "s1"}});
    let path = tp.dir.path().join("req.json");
    std::fs::write(&path, serde_json::to_vec(&req).unwrap()).unwrap();
    let routed =
        router.authorize_route_request(&tp.plane, RequestFile::read(&tp.plane, &path).unwrap(), Some(token)).unwrap();
    assert!(routed.contract_source.governed);
    assert!(routed.prompt.contract.prompt_template.starts_with("[PRM-EXECUTE-001]"));
    router.route(routed.prompt).unwrap();
    let sent = router
        .store()
        .query(&LedgerQuery::default())
        .unwrap()
        .into_iter()
        .rfind(|e| e.event_type == "PROMPT_SENT")
        .unwrap();
    assert_eq!(sent.metadata["prompt_pack_id"], "PRM-EXECUTE-001");
    assert!(sent.metadata["prompt_pack_sha256"].as_str().unwrap().starts_with("sha256:"));
}
