//! Interrupted installs (issue 9 §4): while an install journal is unresolved the gates fail with
//! `G0_INSTALL_PENDING` ("run cp-install recover"), and `recover` (and every later install)
//! removes the leftovers of killed processes — temporary package stores `HOT/.staging/pack-*`
//! and `.tmp-<pid>` siblings — but never those of a live process.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cp_installer::{InstallOptions, Installer};
use cp_kernel::testkit::FixturePackage;
use cp_kernel::{GateCode, GateId, Plane, PlaneConfig, run_gates};

use crate::fixture_repo::make_repo;

/// Files of the big package: enough that its commit phase outlasts the test's polling.
const NBIG: usize = 120;
/// Kill attempts before giving up on catching a journal.
const ATTEMPTS: usize = 40;

fn journals(root: &Path) -> Vec<PathBuf> {
    let staging = root.join("HOT/.staging");
    let Ok(rd) = std::fs::read_dir(&staging) else { return Vec::new() };
    rd.filter_map(Result::ok).map(|e| e.path().join("journal.json")).filter(|p| p.is_file()).collect()
}

/// Every file or directory below `root` whose name contains `needle`.
fn named(root: &Path, needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().filter_map(Result::ok) {
            let p = e.path();
            if e.file_name().to_string_lossy().contains(needle) {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The pid of a process that has exited.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

/// Leftovers of the (dead) process `pid`: a pack directory, a receipt temporary, a registry
/// temporary.
fn leave_leftovers(root: &Path, pid: u32) -> Vec<PathBuf> {
    let pack = root.join(format!("HOT/.staging/pack-p{pid}-0192f3a4-7b1c-7000-8000-000000000000/store"));
    std::fs::create_dir_all(&pack).unwrap();
    std::fs::write(pack.join("PKG-X-1.0.0.tar.gz"), b"x").unwrap();
    let files = [
        root.join(format!("HOT/installed/PKG-FW-001/.receipt.json.tmp-{pid}")),
        root.join(format!("HOT/registries/.packages_state.csv.tmp-{pid}")),
    ];
    for f in &files {
        std::fs::write(f, b"partial").unwrap();
    }
    vec![pack.parent().unwrap().to_path_buf(), files[0].clone(), files[1].clone()]
}

/// Installs PKG-BIG-001 from the repository (packed into the staging area first) with a real
/// `cp-install`, killed as soon as its journal appears. `Some(root)` when a journal was left.
fn killed_mid_install(base: &Path, repo: &Path, attempt: usize) -> Option<PathBuf> {
    let root = base.join(format!("plane{attempt}"));
    let plane = Plane::init(&root, PlaneConfig { require_signatures: false, ..PlaneConfig::default() }).unwrap();
    Installer::new(&plane)
        .install_ids_from(repo, &["PKG-FW-001".to_string()], &InstallOptions::default(), &mut |_| {})
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cp-install"))
        .args(["--root", root.to_str().unwrap(), "--store", repo.to_str().unwrap(), "PKG-BIG-001"])
        .env_remove("CONTROL_PLANE_ROOT")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    loop {
        if !journals(&root).is_empty() {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        std::thread::yield_now();
    }
    (!journals(&root).is_empty()).then_some(root)
}

#[test]
fn gates_fail_while_a_journal_is_pending_and_recover_cleans_every_leftover() {
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("repo");
    make_repo(&repo, NBIG);
    let root = (0..ATTEMPTS)
        .find_map(|i| killed_mid_install(d.path(), &repo, i))
        .expect("cp-install was never caught with its journal written");
    let plane = Plane::open(&root).unwrap();
    let reports = run_gates(&plane, &[GateId::G0a, GateId::G0b]).unwrap();
    for r in &reports {
        let pending: Vec<_> = r.errors.iter().filter(|i| i.code == GateCode::G0InstallPending).collect();
        assert_eq!(pending.len(), 1, "{} does not report the pending journal: {r:#?}", r.gate);
        assert!(pending[0].message.contains("run cp-install recover"), "{}", pending[0].message);
        assert!(pending[0].path.as_deref().is_some_and(|p| p.starts_with("HOT/.staging/")), "{:?}", pending[0].path);
    }
    assert!(!named(&root, "pack-").is_empty(), "the killed process packed its store in the staging area");
    // Leftovers of another dead process, and one of a live process (this test) that must stay.
    let dead = leave_leftovers(&root, dead_pid());
    let live = root.join(format!("HOT/installed/PKG-FW-001/.receipt.json.tmp-{}", std::process::id()));
    std::fs::write(&live, b"in use").unwrap();

    let o = Command::new(env!("CARGO_BIN_EXE_cp-install"))
        .args(["--root", root.to_str().unwrap(), "recover"])
        .env_remove("CONTROL_PLANE_ROOT")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(journals(&root).is_empty());
    for p in &dead {
        assert!(!p.exists(), "{} was left behind", p.display());
    }
    assert!(live.exists(), "a live process's temporary was removed");
    assert_eq!(named(&root, "pack-"), Vec::<String>::new());
    let tmp = named(&root, ".tmp-");
    assert_eq!(tmp, [format!("HOT/installed/PKG-FW-001/.receipt.json.tmp-{}", std::process::id())]);
    std::fs::remove_file(&live).unwrap();
    for r in run_gates(&plane, &[GateId::G0a, GateId::G0b, GateId::G6]).unwrap() {
        assert!(r.passed(), "{r:#?}");
    }

    // A later install cleans them too (it recovers first).
    let dead = leave_leftovers(&root, dead_pid());
    let p = FixturePackage::new("PKG-LATER-001").file("HOT/schemas/later.json", "{}\n");
    Installer::new(&plane).install_archive(&p.write(&d.path().join("s")), None, &InstallOptions::default()).unwrap();
    for p in &dead {
        assert!(!p.exists(), "{} was left behind by the next install", p.display());
    }
}
