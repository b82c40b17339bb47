//! `cpctl ledger` import, verify, checkpoint and export as processes: a Control Plane v2 ledger
//! imported and verified, a signed checkpoint saved in the plane and checked, a forged one
//! refused (exit 2).

use std::path::Path;
use std::process::Command;

use cp_kernel::KeyPairFile;

fn cpctl(root: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cpctl")).arg("--root").arg(root).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn import_verify_checkpoint_export() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("plane");
    let fixture = cp_kernel::testkit::fixture_path("cp2/ledger_raw.jsonl");
    let fixture = fixture.to_str().unwrap();
    assert_eq!(cpctl(&root, &["plane", "init"]).0, 0);
    let (rc, out) = cpctl(&root, &["ledger", "import", "--format", "cp2-jsonl", fixture, "--ledger", "HOT/governance"]);
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
    let (rc, out) = cpctl(&root, &["ledger", "export", "--ledger", "HOT/governance", "--out", exp.to_str().unwrap()]);
    assert_eq!(rc, 0, "{out}");
    assert_eq!(std::fs::read_to_string(&exp).unwrap().lines().count(), 6);
}

/// `cpctl ledger checkpoint --save` keeps the checkpoint in the plane and logs CHECKPOINT.
#[test]
fn cpctl_ledger_checkpoint_saves_in_the_plane_and_logs_checkpoint() {
    use cp_kernel::{KeyPairFile, LedgerName, LedgerQuery, LedgerSet, event};
    let tp = cp_installer::testkit::plane_with_fixture_framework();
    let key = KeyPairFile::from_seed(&[3; 32]);
    let kf = tp.dir.path().join("k.json");
    key.save(&kf).unwrap();
    trust(&tp.plane, &key);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cpctl"))
        .arg("--root")
        .arg(tp.plane.root())
        .args(["ledger", "checkpoint", "--ledger", "HOT/packages", "--save", "--key"])
        .arg(&kf)
        .env_remove("CONTROL_PLANE_ROOT")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = tp.plane.root().join("HOT/ledger/checkpoints");
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].to_string_lossy().starts_with("HOT_packages."), "{files:?}");
    let gov = LedgerSet::new(&tp.plane).open(LedgerName::GOVERNANCE).unwrap().query(&LedgerQuery::default()).unwrap();
    let last = gov.last().unwrap();
    assert_eq!(last.event_type, event::CHECKPOINT);
    assert_eq!(last.metadata["origin"], "HOT/packages");
    assert_eq!(last.metadata["key_id"], key.key_id.as_str());
}

/// Adds `key` to the plane trust store (what `cp-install trust add` does).
fn trust(plane: &cp_kernel::Plane, key: &KeyPairFile) {
    let mut plane = plane.clone();
    let mut cfg = plane.config().clone();
    cfg.trusted_keys.push(cp_kernel::TrustedKey {
        key_id: key.key_id.clone(),
        public_key: key.public_key.clone(),
        note: "test".into(),
    });
    plane.save_config(cfg).unwrap();
}

/// `checkpoint --save` with a key the plane does not trust is refused (exit 2, coded message)
/// before anything is saved or logged, instead of leaving G6 failing later.
#[test]
fn checkpoint_save_with_an_untrusted_key_is_refused() {
    use cp_kernel::{LedgerName, LedgerSet};
    let tp = cp_installer::testkit::plane_with_fixture_framework();
    let kf = tp.dir.path().join("k.json");
    KeyPairFile::from_seed(&[4; 32]).save(&kf).unwrap();
    let gov = || LedgerSet::new(&tp.plane).open(LedgerName::GOVERNANCE).unwrap().len().unwrap();
    let before = gov();
    let kf = kf.to_str().unwrap();
    let (rc, out) =
        cpctl(tp.plane.root(), &["ledger", "checkpoint", "--ledger", "HOT/packages", "--save", "--key", kf]);
    assert_eq!(rc, 2, "{out}");
    assert!(out.contains("CHECKPOINT_KEY_UNTRUSTED"), "{out}");
    assert!(!tp.plane.root().join("HOT/ledger/checkpoints").exists());
    assert_eq!(gov(), before);
    // Without --save (written elsewhere) the key need not be trusted.
    let cp = tp.dir.path().join("cp.json");
    let (rc, out) = cpctl(
        tp.plane.root(),
        &["ledger", "checkpoint", "--ledger", "HOT/packages", "--key", kf, "--out", cp.to_str().unwrap()],
    );
    assert_eq!(rc, 0, "{out}");
}

/// `rm` of a ledger after `checkpoint --save`: `ledger verify` and G6 fail naming it (exit 2),
/// and the next command that would write to it does not re-create it empty.
#[test]
fn a_removed_ledger_fails_verify_and_gates() {
    let tp = cp_installer::testkit::plane_with_fixture_framework();
    let key = KeyPairFile::from_seed(&[3; 32]);
    let kf = tp.dir.path().join("k.json");
    key.save(&kf).unwrap();
    trust(&tp.plane, &key);
    let root = tp.plane.root();
    let kf = kf.to_str().unwrap();
    let (rc, out) = cpctl(root, &["ledger", "checkpoint", "--ledger", "HOT/packages", "--save", "--key", kf]);
    assert_eq!(rc, 0, "{out}");
    let (rc, out) = cpctl(root, &["ledger", "verify"]);
    assert_eq!(rc, 0, "{out}");
    let gov = cp_kernel::LedgerSet::new(&tp.plane).path_of(&cp_kernel::LedgerName::parse("HOT/governance").unwrap());
    std::fs::remove_file(&gov).unwrap();
    let (rc, out) = cpctl(root, &["ledger", "verify"]);
    assert_eq!(rc, 2, "{out}");
    assert!(out.contains("HOT/governance: FAIL at seq 0: ledger missing"), "{out}");
    let (rc, out) = cpctl(root, &["gates", "--gate", "G6"]);
    assert_ne!(rc, 0, "{out}");
    assert!(out.contains("G6_LEDGER_MISSING"), "{out}");
    // Logging a new checkpoint would append to HOT/governance: refused, not re-created.
    let cp = tp.dir.path().join("cp.json");
    let (rc, out) =
        cpctl(root, &["ledger", "checkpoint", "--ledger", "HOT/packages", "--key", kf, "--out", cp.to_str().unwrap()]);
    assert_ne!(rc, 0, "{out}");
    assert!(out.contains("is missing"), "{out}");
    assert!(!gov.exists());
}
