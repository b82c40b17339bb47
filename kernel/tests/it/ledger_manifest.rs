//! A deleted ledger is noticed (issue 9 §3): the plane's manifest of ledgers, saved checkpoints
//! and `CHECKPOINT` entries name every ledger the plane had; `verify_plane` and G6 fail when one
//! is gone, and a listed ledger is never re-created empty.

use cp_kernel::{
    Checkpoint, DefectKind, GateId, KeyPairFile, LEDGER_MANIFEST_FILE, LedgerBackend, LedgerError, LedgerSet, NewEntry,
    PlaneConfig, missing_ledgers, record_checkpoint, run_gates, save_checkpoint, testkit::TempPlane, verify_plane,
};

fn plane(backend: LedgerBackend) -> TempPlane {
    TempPlane::with_config(PlaneConfig {
        require_signatures: false,
        ledger_backend: Some(backend),
        ..PlaneConfig::default()
    })
}

fn two_ledgers(tp: &TempPlane) -> LedgerSet {
    let set = LedgerSet::new(&tp.plane);
    set.open("HOT/governance").unwrap().append(NewEntry::new("NOTE")).unwrap();
    set.open("HO2/prompts").unwrap().append(NewEntry::new("NOTE")).unwrap();
    set
}

fn g6_codes(tp: &TempPlane) -> Vec<(String, Option<String>)> {
    run_gates(&tp.plane, &[GateId::G6]).unwrap()[0]
        .errors
        .iter()
        .map(|e| (e.code.to_string(), e.path.clone()))
        .collect()
}

#[test]
fn a_deleted_ledger_fails_verify_and_g6_on_both_backends() {
    for backend in [LedgerBackend::Sqlite, LedgerBackend::Jsonl] {
        let tp = plane(backend);
        let set = two_ledgers(&tp);
        let manifest = std::fs::read_to_string(set.manifest_path()).unwrap();
        assert!(manifest.lines().any(|l| l.starts_with("HO2/prompts.")), "{manifest}");
        assert!(set.manifest_path().ends_with(format!("HOT/ledger/{LEDGER_MANIFEST_FILE}")));
        assert!(verify_plane(&set).unwrap().iter().all(|r| r.ok));
        assert!(g6_codes(&tp).is_empty());

        let file = set.path_of(&cp_kernel::LedgerName::parse("HO2/prompts").unwrap());
        std::fs::remove_file(&file).unwrap();
        let reports = verify_plane(&set).unwrap();
        let r = reports.iter().find(|r| r.ledger == "HO2/prompts").expect("a report for the missing ledger");
        assert!(!r.ok);
        assert_eq!(r.first_bad.as_ref().unwrap().kind, DefectKind::Missing);
        assert_eq!(g6_codes(&tp), vec![("G6_LEDGER_MISSING".to_string(), Some("HO2/prompts".to_string()))]);

        // A fresh process (a new set) must not re-create it empty.
        let fresh = LedgerSet::new(&tp.plane);
        assert!(matches!(fresh.open("HO2/prompts"), Err(LedgerError::Missing { .. })), "{backend:?}");
        assert!(!file.exists());
    }
}

#[test]
fn deleting_the_manifest_too_is_noticed_through_the_checkpoint_entries() {
    let tp = plane(LedgerBackend::Sqlite);
    let set = two_ledgers(&tp);
    let key = KeyPairFile::from_seed(&[5; 32]);
    let gov = set.open("HOT/governance").unwrap();
    record_checkpoint(&set, &Checkpoint::create(&*gov, &key).unwrap()).unwrap();
    std::fs::remove_file(set.manifest_path()).unwrap();
    std::fs::remove_file(set.path_of(&cp_kernel::LedgerName::parse("HO2/prompts").unwrap())).unwrap();
    let fresh = LedgerSet::new(&tp.plane);
    let missing = missing_ledgers(&fresh).unwrap();
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0].ledger, "HO2/prompts");
    assert!(missing[0].known_from.contains("CHECKPOINT entry"), "{}", missing[0].known_from);
    assert_eq!(g6_codes(&tp), vec![("G6_LEDGER_MISSING".to_string(), Some("HO2/prompts".to_string()))]);
}

#[test]
fn deleting_governance_and_the_manifest_is_noticed_through_a_saved_checkpoint() {
    let tp = plane(LedgerBackend::Jsonl);
    let set = two_ledgers(&tp);
    let key = KeyPairFile::from_seed(&[5; 32]);
    let gov = set.open("HOT/governance").unwrap();
    save_checkpoint(&tp.plane, &Checkpoint::create(&*gov, &key).unwrap()).unwrap();
    std::fs::remove_file(set.manifest_path()).unwrap();
    std::fs::remove_file(set.path_of(&cp_kernel::LedgerName::parse("HOT/governance").unwrap())).unwrap();
    let codes = g6_codes(&tp);
    assert!(codes.contains(&("G6_LEDGER_MISSING".to_string(), Some("HOT/governance".to_string()))), "{codes:?}");
}
