//! Signed checkpoints over a plane's ledgers: save, load, verify, detect truncation/rewrite.

use cp_kernel::ledger::checkpoint::{Checkpoint, CheckpointError, verify_against_checkpoint};
use cp_kernel::ledger::verify::{DefectKind, verify_plane};
use cp_kernel::ledger::{JsonlStore, LedgerSet, LedgerStore, NewEntry};
use cp_kernel::plane::Durability;
use cp_kernel::signing::{KeyPairFile, PublicKeyFile};
use cp_kernel::testkit::TempPlane;

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

/// `cpctl ledger import|verify|checkpoint|export` end to end (real processes, exit codes).
#[cfg(feature = "cli")]
mod cli {
    use std::path::Path;
    use std::process::Command;

    use cp_kernel::signing::KeyPairFile;

    fn cpctl(root: &Path, args: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_cpctl")).arg("--root").arg(root).args(args).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        (out.status.code().unwrap_or(-1), text)
    }

    #[test]
    fn import_verify_checkpoint_export() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("plane");
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cp2/ledger_raw.jsonl");
        let fixture = fixture.to_str().unwrap();
        assert_eq!(cpctl(&root, &["plane", "init"]).0, 0);
        let (rc, out) =
            cpctl(&root, &["ledger", "import", "--format", "cp2-jsonl", fixture, "--ledger", "HOT/governance"]);
        assert_eq!(rc, 0, "{out}");
        let (rc, out) = cpctl(&root, &["ledger", "verify"]);
        assert_eq!((rc, out.trim()), (0, "HOT/governance: OK 5 entries"));
        let (rc, out) = cpctl(&root, &["ledger", "verify", "--format", "cp2-jsonl", fixture, "--json"]);
        assert_eq!(rc, 0, "{out}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["ok"], true);

        let key = KeyPairFile::from_seed(&[7u8; 32]);
        key.save(&d.path().join("k.json")).unwrap();
        key.public().save(&d.path().join("k.pub.json")).unwrap();
        let (k, p, cp) = (d.path().join("k.json"), d.path().join("k.pub.json"), d.path().join("cp.json"));
        let (k, p, cp) = (k.to_str().unwrap(), p.to_str().unwrap(), cp.to_str().unwrap());
        let (rc, out) = cpctl(&root, &["ledger", "checkpoint", "--ledger", "HOT/governance", "--key", k, "--out", cp]);
        assert_eq!(rc, 0, "{out}");
        let (rc, out) = cpctl(&root, &["ledger", "verify", "--checkpoint", cp, "--pubkey", p]);
        // The checkpoint (size 5) covers the import; its CHECKPOINT entry is the 6th.
        assert_eq!((rc, out.trim()), (0, "HOT/governance: OK 6 entries"));

        // A forged checkpoint (size edited) is a verified "no": exit 2.
        let forged = std::fs::read_to_string(cp).unwrap().replace("\"size\": 5", "\"size\": 4");
        std::fs::write(cp, forged).unwrap();
        let (rc, out) = cpctl(&root, &["ledger", "verify", "--checkpoint", cp, "--pubkey", p]);
        assert_eq!(rc, 2, "{out}");

        // A broken Python file: exit 2, and the first bad line is named.
        let data = std::fs::read(fixture).unwrap();
        let broken = d.path().join("broken.jsonl");
        let lines: Vec<&[u8]> = data.split_inclusive(|b| *b == b'\n').collect();
        std::fs::write(&broken, [lines[0], lines[2]].concat()).unwrap();
        let (rc, out) = cpctl(&root, &["ledger", "verify", "--format", "cp2-jsonl", broken.to_str().unwrap()]);
        assert_eq!(rc, 2, "{out}");
        assert!(out.contains("FAIL at seq 1: link broken"), "{out}");
        let (rc, _) =
            cpctl(&root, &["ledger", "import", "--format", "cp2-jsonl", broken.to_str().unwrap(), "--ledger", "HOT/x"]);
        assert_eq!(rc, 2);

        let exp = d.path().join("exp.jsonl");
        let (rc, out) =
            cpctl(&root, &["ledger", "export", "--ledger", "HOT/governance", "--out", exp.to_str().unwrap()]);
        assert_eq!(rc, 0, "{out}");
        assert_eq!(std::fs::read_to_string(&exp).unwrap().lines().count(), 6);
    }
}
