//! `cpctl gates` and `cpctl plane recover` on a plane whose layout is invalid on disk (issue 8
//! §2): both run on the built-in layout, the gates name the invalid document, and a warning says
//! what is wrong and how to repair it; other commands still refuse the plane.

use std::process::{Command, Output};

use cp_installer::testkit::plane_with_fixture_framework;
use cp_installer::{InstallOptions, Installer};
use cp_kernel::DEFAULT_LAYOUT_JSON;
use cp_kernel::testkit::FixturePackage;

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn gates_and_plane_recover_run_on_a_plane_with_an_invalid_layout() {
    let tp = plane_with_fixture_framework();
    let p = FixturePackage::new("PKG-LAYOUT-X").file("HOT/config/layout.json", DEFAULT_LAYOUT_JSON);
    Installer::new(&tp.plane)
        .install_archive(&p.write(&tp.dir.path().join("s")), None, &InstallOptions::default())
        .unwrap();
    let f = tp.plane.root().join("HOT/config/layout.json");
    std::fs::write(&f, std::fs::read_to_string(&f).unwrap().replacen("\"tiers\"", "\"tierz\"", 1)).unwrap();
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
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("G0A: FAIL"), "{}", text(&o));
    assert!(out.contains("G0A_DOCUMENT_INVALID HOT/config/layout.json"), "{}", text(&o));
    assert!(out.contains("tierz"), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("warning: HOT/config/layout.json is invalid; running on the built-in layout"), "{}", text(&o));
    assert!(err.contains("`cp-install uninstall PKG-LAYOUT-X`"), "{}", text(&o));
    let o = cpctl(&["plane", "recover"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("nothing to recover"), "{}", text(&o));
    // Commands that are not repairs still refuse the plane, naming the document.
    let o = cpctl(&["ledger", "verify"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid plane document"), "{}", text(&o));
}
