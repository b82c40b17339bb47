//! Repairing a plane whose layout or plane config is invalid on disk (issue 8 §2): `cp-install
//! recover` and `cp-install uninstall` still run, on the built-in layout / default config, and
//! say what is wrong and how to repair it; every other command still refuses the plane.

use std::path::Path;
use std::process::{Command, Output};

use cp_installer::testkit::plane_with_fixture_framework;
use cp_installer::{InstallOptions, Installer};
use cp_kernel::testkit::{FixturePackage, TempPlane};
use cp_kernel::{DEFAULT_LAYOUT_JSON, LedgerName, LedgerQuery, LedgerSet, Plane, event, run_gates};

/// The package that owns `HOT/config/layout.json` in these tests.
pub(crate) const LAYOUT_OWNER: &str = "PKG-LAYOUT-X";

/// A plane whose layout is owned by [`LAYOUT_OWNER`] (installed valid), then made invalid on
/// disk the way a package could before install-time validation existed.
pub(crate) fn plane_with_broken_layout() -> TempPlane {
    let tp = plane_with_fixture_framework();
    let p = FixturePackage::new(LAYOUT_OWNER).file("HOT/config/layout.json", DEFAULT_LAYOUT_JSON);
    let a = p.write(&tp.dir.path().join("s"));
    Installer::new(&tp.plane).install_archive(&a, None, &InstallOptions::default()).unwrap();
    let f = tp.plane.root().join("HOT/config/layout.json");
    let text = std::fs::read_to_string(&f).unwrap().replacen("\"backend\": \"sqlite\"", "\"backend\": \"oracle\"", 1);
    std::fs::write(&f, text).unwrap();
    assert!(Plane::open(tp.plane.root()).is_err(), "the layout should now be refused");
    tp
}

fn cp_install(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cp-install"))
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("CONTROL_PLANE_ROOT")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn recover_and_uninstall_run_on_the_builtin_layout_and_say_how_to_repair() {
    let tp = plane_with_broken_layout();
    let root = tp.plane.root();
    // A leftover staging directory for recover to clean.
    std::fs::create_dir_all(root.join("HOT/.staging/0000-stray/files")).unwrap();
    let o = cp_install(root, &["recover"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    for want in [
        "warning: HOT/config/layout.json is invalid; running on the built-in layout",
        "HOT/config/layout.json:35:16: /ledger/backend",
        "\"oracle\" is not one of",
        &format!("`cp-install uninstall {LAYOUT_OWNER}`"),
    ] {
        assert!(err.contains(want), "{want:?} missing:\n{}", text(&o));
    }
    assert!(String::from_utf8_lossy(&o.stdout).contains("discarded"), "{}", text(&o));
    assert!(!root.join("HOT/.staging").exists());
    // An install is still refused on such a plane.
    let pkg = FixturePackage::new("PKG-OTHER-001").file("HOT/schemas/o.json", "{}\n").write(&tp.dir.path().join("s2"));
    let o = cp_install(root, &["--archive", pkg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("invalid plane document"), "{}", text(&o));
    // The repair the notice names works: uninstalling the owner removes the file.
    let o = cp_install(root, &["uninstall", LAYOUT_OWNER]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("warning: HOT/config/layout.json is invalid"));
    assert!(!root.join("HOT/config/layout.json").exists());
    let plane = Plane::open(root).expect("the plane opens again");
    let reports = run_gates(&plane, &[]).unwrap();
    assert!(reports.iter().all(|r| r.passed()), "{reports:#?}");
    let last = LedgerSet::new(&plane).open(LedgerName::PACKAGES).unwrap().query(&LedgerQuery::default()).unwrap();
    assert_eq!(last.last().unwrap().event_type, event::UNINSTALLED);
}

#[test]
fn an_invalid_plane_config_falls_back_to_the_default_and_keeps_the_ledgers_in_use() {
    let tp = plane_with_fixture_framework();
    let p = FixturePackage::new("PKG-P-001").file("HOT/schemas/p.json", "{}\n");
    Installer::new(&tp.plane)
        .install_archive(&p.write(&tp.dir.path().join("s")), None, &InstallOptions::default())
        .unwrap();
    let cfg = tp.plane.root().join("HOT/plane/plane.json");
    let good = std::fs::read_to_string(&cfg).unwrap();
    let bad = good.replacen("\"require_signatures\": false", "\"require_signatures\": \"no\"", 1);
    assert_ne!(good, bad);
    std::fs::write(&cfg, &bad).unwrap();
    let o = cp_install(tp.plane.root(), &["uninstall", "PKG-P-001"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("warning: HOT/plane/plane.json is invalid; running on the default plane config"),
        "{}",
        text(&o)
    );
    assert!(err.contains("/require_signatures") && err.contains("correct it by hand"), "{}", text(&o));
    // The uninstall was logged to the ledger the plane already had.
    std::fs::write(&cfg, &good).unwrap();
    let plane = Plane::open(tp.plane.root()).unwrap();
    let l = LedgerSet::new(&plane).open(LedgerName::PACKAGES).unwrap().query(&LedgerQuery::default()).unwrap();
    assert_eq!(l.last().unwrap().event_type, event::UNINSTALLED);
    assert!(l.iter().any(|e| e.event_type == event::INSTALLED), "one ledger holds both");
}
