//! Plane-level gates: G0B names edited, added and deleted files under every governed root in
//! every tier; G6 names the tampered `seq`; registries rebuild verifies.

use cp_installer::{InstallOptions, Installer, testkit::plane_with_fixture_framework};
use cp_kernel::{GateId, GateStatus, Tier, run_gates, testkit::FixturePackage, testkit::TempPlane};

fn plane_with_files() -> TempPlane {
    let tp = plane_with_fixture_framework();
    let d = tp.dir.path().join("s");
    let p = FixturePackage::new("PKG-G-001")
        .file("HOT/schemas/g.json", "{}\n")
        .file("HO2/contracts/g.md", "{\"c\":2}\n")
        .file("HO1/contracts/g.md", "{\"c\":1}\n");
    Installer::new(&tp.plane).install_archive(&p.write(&d), None, &InstallOptions::default()).unwrap();
    tp
}

fn g0b_issue(tp: &TempPlane) -> Vec<(String, String)> {
    let r = run_gates(&tp.plane, &[GateId::G0b]).unwrap();
    r[0].errors.iter().map(|e| (e.code.to_string(), e.path.clone().unwrap_or_default())).collect()
}

#[test]
fn all_gates_pass_on_a_fresh_install() {
    let tp = plane_with_files();
    let reports = run_gates(&tp.plane, &[]).unwrap();
    assert_eq!(reports.len(), 6);
    for r in &reports {
        assert_eq!(r.status, GateStatus::Pass, "{r:#?}");
    }
    assert!(reports[1].summary.contains("files owned"), "{}", reports[1].summary);
    assert!(cp_installer::verify_registries(&tp.plane).unwrap().is_empty());
}

#[test]
fn g0b_names_added_files_under_every_governed_root_of_every_tier() {
    let tp = plane_with_files();
    let roots: Vec<String> = tp.plane.layout().governed_roots.clone();
    for tier in Tier::ALL {
        for root in &roots {
            let dir_name = root.replace('*', "999_Stray");
            let dir = tp.plane.tier_dir(tier).join(&dir_name);
            std::fs::create_dir_all(&dir).unwrap();
            let f = dir.join("stray.txt");
            std::fs::write(&f, "x").unwrap();
            let rel = format!("{}/{dir_name}/stray.txt", tier.dir_name());
            let issues = g0b_issue(&tp);
            assert!(issues.contains(&("G0B_ORPHAN".into(), rel.clone())), "{rel} not named: {issues:?}");
            std::fs::remove_file(&f).unwrap();
        }
    }
    assert!(g0b_issue(&tp).is_empty());
}

#[test]
fn g0b_names_edited_and_deleted_files_in_every_tier() {
    let tp = plane_with_files();
    for rel in ["HOT/schemas/g.json", "HO2/contracts/g.md", "HO1/contracts/g.md", "HOT/FMWK-900_Test/manifest.yaml"] {
        let f = tp.plane.root().join(rel);
        let orig = std::fs::read(&f).unwrap();
        std::fs::write(&f, b"tampered").unwrap();
        assert!(g0b_issue(&tp).contains(&("G0B_HASH_MISMATCH".into(), rel.into())), "{rel} edit");
        std::fs::remove_file(&f).unwrap();
        assert!(g0b_issue(&tp).contains(&("G0B_MISSING".into(), rel.into())), "{rel} delete");
        std::fs::write(&f, orig).unwrap();
    }
    assert!(g0b_issue(&tp).is_empty());
}

#[test]
fn g6_names_the_tampered_seq() {
    // JSONL ledgers, so that one line can be edited in place (the default backend is SQLite).
    let tp = TempPlane::with_config(cp_kernel::PlaneConfig {
        require_signatures: false,
        ledger_backend: Some(cp_kernel::LedgerBackend::Jsonl),
        ..cp_kernel::PlaneConfig::default()
    });
    let d = tp.dir.path().join("s");
    for p in [
        cp_kernel::testkit::fixture_framework_package(),
        FixturePackage::new("PKG-G-001").file("HOT/schemas/g.json", "{}\n"),
    ] {
        Installer::new(&tp.plane).install_archive(&p.write(&d), None, &InstallOptions::default()).unwrap();
    }
    let path = cp_kernel::LedgerSet::new(&tp.plane).path_of(&cp_kernel::LedgerName::parse("HOT/packages").unwrap());
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    assert!(lines.len() >= 3);
    assert!(lines[2].contains("\"tier\":\"hot\""), "{}", lines[2]);
    lines[2] = lines[2].replace("\"tier\":\"hot\"", "\"tier\":\"ho1\"");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let r = run_gates(&tp.plane, &[GateId::G6]).unwrap();
    assert_eq!(r[0].status, GateStatus::Fail);
    assert_eq!(r[0].errors[0].code, "G6_CHAIN_BROKEN");
    assert!(r[0].errors[0].message.starts_with("seq 2:"), "{}", r[0].errors[0].message);
    assert_eq!(r[0].errors[0].path.as_deref(), Some("HOT/packages"));
}

#[test]
fn g6_names_the_tampered_seq_in_a_sqlite_ledger() {
    let tp = plane_with_files();
    let path = cp_kernel::LedgerSet::new(&tp.plane).path_of(&cp_kernel::LedgerName::parse("HOT/packages").unwrap());
    // The store refuses the edit; an attacker with file access drops the trigger first.
    let db = rusqlite::Connection::open(&path).unwrap();
    let refused = db.execute("UPDATE entries SET body = body WHERE seq = 2", []);
    assert!(refused.unwrap_err().to_string().contains("append-only"));
    let body: Vec<u8> = db.query_row("SELECT body FROM entries WHERE seq = 2", [], |r| r.get(0)).unwrap();
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("\"tier\":\"hot\""), "{text}");
    db.execute_batch("DROP TRIGGER entries_no_update").unwrap();
    db.execute(
        "UPDATE entries SET body = ?1 WHERE seq = 2",
        [text.replace("\"tier\":\"hot\"", "\"tier\":\"ho1\"").into_bytes()],
    )
    .unwrap();
    drop(db);
    let r = run_gates(&tp.plane, &[GateId::G6]).unwrap();
    assert_eq!(r[0].status, GateStatus::Fail);
    assert_eq!(r[0].errors[0].code, "G6_CHAIN_BROKEN");
    assert!(r[0].errors[0].message.starts_with("seq 2:"), "{}", r[0].errors[0].message);
    assert_eq!(r[0].errors[0].path.as_deref(), Some("HOT/packages"));
}

#[test]
fn g6_reports_an_index_column_edited_behind_the_store() {
    let tp = plane_with_files();
    let path = cp_kernel::LedgerSet::new(&tp.plane).path_of(&cp_kernel::LedgerName::parse("HOT/packages").unwrap());
    let db = rusqlite::Connection::open(&path).unwrap();
    db.execute_batch("DROP TRIGGER entries_no_update; UPDATE entries SET tenant_id = 'victim' WHERE seq = 1").unwrap();
    drop(db);
    let r = run_gates(&tp.plane, &[GateId::G6]).unwrap();
    assert_eq!(r[0].status, GateStatus::Fail);
    assert_eq!(r[0].errors[0].code, "G6_COLUMN_MISMATCH");
    assert!(r[0].errors[0].message.starts_with("seq 1:"), "{}", r[0].errors[0].message);
    assert!(r[0].errors[0].message.contains("tenant_id"), "{}", r[0].errors[0].message);
    assert_eq!(r[0].errors[0].path.as_deref(), Some("HOT/packages"));
}

#[test]
fn registries_verify_detects_a_edited_derived_registry() {
    let tp = plane_with_files();
    let f = tp.plane.root().join("HOT/registries/frameworks_registry.csv");
    let text = std::fs::read_to_string(&f).unwrap();
    assert!(text.contains("FMWK-900"));
    std::fs::write(&f, text.replace("Test Framework", "Renamed")).unwrap();
    let diffs = cp_installer::verify_registries(&tp.plane).unwrap();
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert_eq!(diffs[0].key, "FMWK-900");
    cp_installer::rebuild_registries(&tp.plane, true).unwrap();
    assert!(cp_installer::verify_registries(&tp.plane).unwrap().is_empty());
}
