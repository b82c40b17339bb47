//! `cpctl gates`, `cpctl registries rebuild` and `cpctl plane recover` as processes.

use cp_installer::testkit::plane_with_fixture_framework;
use cp_installer::{InstallOptions, Installer};
use cp_kernel::testkit::{FixturePackage, TempPlane};

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

/// `cpctl gates`, `registries rebuild --verify` and `plane recover` as processes: output
/// shape and exit codes (0 all pass, 2 a gate fails).
#[test]
fn cpctl_gates_registries_and_recover() {
    use std::process::Command;
    let tp = plane_with_files();
    let cpctl = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_cpctl"))
            .arg("--root")
            .arg(tp.plane.root())
            .args(args)
            .env_remove("CONTROL_PLANE_ROOT")
            .output()
            .unwrap()
    };
    let o = cpctl(&["gates", "--all"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(0), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    // `--all` runs the governance policy's plane_gates: G0A, G0B, G1, G1-COMPLETE, G5, G6.
    assert_eq!(lines.len(), 6, "{out}");
    assert!(lines[1].starts_with("G0B: PASS  ") && lines[1].ends_with("files owned, 0 orphans"), "{out}");
    std::fs::write(tp.plane.root().join("HO2/schemas/stray.json"), "{}").unwrap();
    let o = cpctl(&["gates", "--gate", "G0B", "G1"]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.starts_with("G0B: FAIL"), "{out}");
    assert!(out.contains("G0B_ORPHAN") && out.contains("HO2/schemas/stray.json"), "{out}");
    let o = cpctl(&["gates", "--gate", "G0B", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["passed"], false);
    assert_eq!(v["gates"][0]["gate"], "G0B");
    assert_eq!(v["gates"][0]["status"], "FAIL");
    assert_eq!(v["gates"][0]["errors"][0]["code"], "G0B_ORPHAN");
    std::fs::remove_file(tp.plane.root().join("HO2/schemas/stray.json")).unwrap();

    assert_eq!(cpctl(&["registries", "rebuild", "--verify"]).status.code(), Some(0));
    let f = tp.plane.root().join("HOT/registries/packages_state.csv");
    let text = std::fs::read_to_string(&f).unwrap();
    std::fs::write(&f, text.lines().take(2).collect::<Vec<_>>().join("\n") + "\n").unwrap();
    let o = cpctl(&["registries", "rebuild", "--verify"]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stdout));
    assert_eq!(cpctl(&["registries", "rebuild"]).status.code(), Some(0));
    assert_eq!(cpctl(&["registries", "rebuild", "--verify"]).status.code(), Some(0));
    let o = cpctl(&["plane", "recover"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "nothing to recover");
}
