//! Signed checkpoints over a plane's ledgers: save, load, verify, detect truncation/rewrite.

use cp_kernel::{
    Checkpoint, CheckpointError, DefectKind, Durability, JsonlStore, KeyPairFile, LedgerSet, LedgerStore, NewEntry,
    PublicKeyFile, testkit::TempPlane, verify_against_checkpoint, verify_plane,
};

#[test]
fn plane_ledgers_checkpoint_round_trip() {
    let tp = TempPlane::new();
    let set = LedgerSet::new(&tp.plane);
    let gov = set.open("HOT/governance").unwrap();
    let pkgs = set.open("HOT/packages").unwrap();
    for i in 0..10 {
        gov.append(NewEntry::new("EVENT").meta("i", i)).unwrap();
    }
    pkgs.append(NewEntry::new("INSTALLED")).unwrap();
    let reports = verify_plane(&set).unwrap();
    let names: Vec<&str> = reports.iter().map(|r| r.ledger.as_str()).collect();
    assert!(names.contains(&"HOT/governance") && names.contains(&"HOT/packages"), "{names:?}");
    assert!(reports.iter().all(|r| r.ok));

    let key = KeyPairFile::from_seed(&[1u8; 32]);
    let dir = tempfile::tempdir().unwrap();
    key.public().save(&dir.path().join("pub.json")).unwrap();
    let cp = Checkpoint::create(&*gov, &key).unwrap();
    cp.save(&dir.path().join("cp.json")).unwrap();

    let cp = Checkpoint::load(&dir.path().join("cp.json")).unwrap();
    let public = PublicKeyFile::load(&dir.path().join("pub.json")).unwrap();
    assert_eq!(cp.size, 10);
    gov.append(NewEntry::new("EVENT")).unwrap();
    assert!(verify_against_checkpoint(&*gov, &cp, &public).unwrap().ok);

    // The checkpoint of one ledger does not vouch for another.
    assert!(matches!(verify_against_checkpoint(&*pkgs, &cp, &public), Err(CheckpointError::WrongOrigin { .. })));

    // A forged checkpoint file (size edited) fails its signature.
    let text = std::fs::read_to_string(dir.path().join("cp.json")).unwrap().replace("\"size\": 10", "\"size\": 11");
    std::fs::write(dir.path().join("forged.json"), text).unwrap();
    let forged = Checkpoint::load(&dir.path().join("forged.json")).unwrap();
    assert_eq!(forged.size, 11);
    assert!(matches!(verify_against_checkpoint(&*gov, &forged, &public), Err(CheckpointError::BadSignature { .. })));
}

#[test]
fn rewritten_plane_ledger_is_detected() {
    let key = KeyPairFile::from_seed(&[2u8; 32]);
    let first = TempPlane::new();
    let set = LedgerSet::new(&first.plane);
    let gov = set.open("HOT/governance").unwrap();
    for i in 0..5 {
        gov.append(NewEntry::new("EVENT").meta("i", i)).unwrap();
    }
    let cp = Checkpoint::create(&*gov, &key).unwrap();
    // A rebuilt chain of the same name and length, consistent on its own.
    let second = TempPlane::new();
    let set2 = LedgerSet::new(&second.plane);
    let forged = set2.open("HOT/governance").unwrap();
    for i in 0..5 {
        forged.append(NewEntry::new("EVENT").meta("i", i)).unwrap();
    }
    let r = verify_against_checkpoint(&*forged, &cp, &key.public()).unwrap();
    let d = r.first_bad.unwrap();
    assert_eq!((d.seq, d.kind), (4, DefectKind::Rewritten));
}

#[test]
fn broken_ledger_is_not_checkpointed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("governance.jsonl");
    let open = || JsonlStore::open(&path, "HOT/governance", Durability::Full).unwrap();
    let gov = open();
    for i in 0..3 {
        gov.append(NewEntry::new("EVENT").meta("i", i)).unwrap();
    }
    let data = std::fs::read(&path).unwrap();
    let lines: Vec<&[u8]> = data.split_inclusive(|b| *b == b'\n').collect();
    std::fs::write(&path, [lines[1], lines[2]].concat()).unwrap();
    let err = Checkpoint::create(&open(), &KeyPairFile::from_seed(&[1u8; 32])).unwrap_err();
    match err {
        CheckpointError::Broken { defect, .. } => assert_eq!((defect.seq, defect.kind), (0, DefectKind::SeqGap)),
        other => panic!("{other}"),
    }
}
