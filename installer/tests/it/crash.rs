//! SIGKILL `cp-install` at random moments: afterwards (and after recovery by the next run)
//! the package is either fully installed or absent, and G0B and G6 pass.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cp_installer::{InstallOptions, Installer};
use cp_kernel::{GateId, Plane, PlaneConfig, run_gates};

use crate::fixture_repo::make_repo;

const NBIG: usize = 60;
const TRIALS: usize = 30;

fn spawn(root: &std::path::Path, store: &std::path::Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_cp-install"))
        .args(["--root", root.to_str().unwrap(), "--store", store.to_str().unwrap(), "PKG-BIG-001"])
        .env_remove("CONTROL_PLANE_ROOT")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn fresh_plane(dir: &std::path::Path, store: &std::path::Path) -> std::path::PathBuf {
    let root = dir.join("plane");
    let plane = Plane::init(&root, PlaneConfig { require_signatures: false, ..PlaneConfig::default() }).unwrap();
    Installer::new(&plane).install_ids(store, &["PKG-FW-001".to_string()], &InstallOptions::default()).unwrap();
    root
}

#[test]
fn sigkill_at_random_moments_leaves_the_package_installed_or_absent() {
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("repo");
    make_repo(&repo, NBIG);
    let store = d.path().join("store");
    cp_installer::pack_all(&repo, &store).unwrap();

    // Calibrate: how long one uninterrupted install takes (never asserted).
    let cal = d.path().join("cal");
    let root = fresh_plane(&cal, &store);
    let t = Instant::now();
    assert!(spawn(&root, &store).wait().unwrap().success());
    let full = t.elapsed().as_micros().max(1000) as u64;

    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(std::process::id());
    let (mut installed, mut absent) = (0, 0);
    for trial in 0..TRIALS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = seed % (full + full / 5);
        let dir = d.path().join(format!("t{trial}"));
        let root = fresh_plane(&dir, &store);
        let mut child = spawn(&root, &store);
        std::thread::sleep(Duration::from_micros(delay));
        let _ = child.kill();
        let _ = child.wait();

        // The next run (here: recovery through the library, as `cpctl plane recover`) settles it.
        let plane = Plane::open(&root).unwrap();
        Installer::new(&plane).recover().unwrap();
        let receipt = root.join("HOT/installed/PKG-BIG-001/receipt.json").exists();
        let present = (0..NBIG).filter(|i| root.join(format!("HOT/schemas/big{i:04}.json")).exists()).count();
        assert!(
            (receipt && present == NBIG) || (!receipt && present == 0),
            "trial {trial} (kill after {delay}us): receipt={receipt}, {present}/{NBIG} files"
        );
        if receipt {
            installed += 1
        } else {
            absent += 1
        }
        for r in run_gates(&plane, &[GateId::G0b, GateId::G6]).unwrap() {
            assert!(r.passed(), "trial {trial} (kill after {delay}us): {r:#?}");
        }
        // And the next install completes it.
        let o = spawn(&root, &store).wait().unwrap();
        assert!(o.success(), "trial {trial}: reinstall failed");
        assert!(root.join("HOT/installed/PKG-BIG-001/receipt.json").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
    eprintln!("crash trials: {installed} installed, {absent} absent (rolled back or never started)");
}
