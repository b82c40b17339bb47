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
