//! Read-only commands on a plane installed by Control Plane v2 (the Python system) say what it
//! is and print the migrate command; they change nothing (issue 17).

use std::process::Command;

use cp_installer::cp2::testkit::write_cp2_plane;
use cp_kernel::testkit::tree_hash;

#[test]
fn read_only_commands_on_a_v2_plane_name_it_and_the_migrate_command() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("old");
    write_cp2_plane(&root);
    let before = tree_hash(&root, &[]);
    for args in [&["gates", "--all"][..], &["ledger", "verify"], &["plane", "info"], &["--json", "plane", "info"]] {
        let o = Command::new(env!("CARGO_BIN_EXE_cpctl"))
            .arg("--root")
            .arg(&root)
            .args(args)
            .env_remove("CONTROL_PLANE_ROOT")
            .output()
            .unwrap();
        let err = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("is a Control Plane v2 (Python) plane"), "{args:?}: {err}");
        assert!(err.contains("HOT/ledger/packages.jsonl with index.jsonl"), "{args:?}: {err}");
        let migrate = format!("cpctl plane migrate --from-cp2 {} --root NEW_ROOT", root.display());
        assert!(err.contains(&migrate), "{args:?}: {err}");
        assert!(!err.contains("does not match schema"), "{args:?}: {err}");
    }
    assert_eq!(tree_hash(&root, &[]), before, "the v2 plane was modified");
}

#[test]
fn the_json_error_carries_the_cp2_plane_code() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("old");
    write_cp2_plane(&root);
    let o = Command::new(env!("CARGO_BIN_EXE_cpctl"))
        .arg("--root")
        .arg(&root)
        .args(["--json", "gates", "--all"])
        .env_remove("CONTROL_PLANE_ROOT")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(text.contains("\"CP2_PLANE\""), "{text}");
}

#[test]
fn cpctl_plane_migrate_gives_a_native_plane_and_leaves_the_old_one_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old");
    write_cp2_plane(&old);
    let before = tree_hash(&old, &[]);
    let new = dir.path().join("new");
    let cpctl = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cpctl"))
            .arg("--root")
            .arg(&new)
            .args(args)
            .env_remove("CONTROL_PLANE_ROOT")
            .output()
            .unwrap()
    };
    let o = cpctl(&["plane", "migrate", "--from-cp2", old.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("ledger HOT/ledger/packages.jsonl → HOT/cp2_packages: 12 entries"), "{out}");
    assert!(out.contains("carried 8 files as PKG-CP2-MIGRATED-001 1.0.0"), "{out}");
    assert!(out.contains("left HOT/kernel/genesis.py: Python code"), "{out}");
    assert_eq!(tree_hash(&old, &[]), before, "the v2 plane was modified");
    let g = cpctl(&["gates", "--all"]);
    assert_eq!(g.status.code(), Some(0), "{}", String::from_utf8_lossy(&g.stdout));
    let v = cpctl(&["ledger", "verify"]);
    assert_eq!(v.status.code(), Some(0), "{}", String::from_utf8_lossy(&v.stdout));
    // Migrating again into the same (now non-empty) root is refused.
    let again = cpctl(&["plane", "migrate", "--from-cp2", old.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists and is not empty"));
}
