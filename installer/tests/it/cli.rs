//! `cp-install` as a process: bootstrap from any working directory, dependency resolution
//! from the built-in set, gates after every package, signing and trust, pins.

use std::path::Path;
use std::process::{Command, Output};

use cp_kernel::{Plane, run_gates};

use crate::fixture_repo::{IDS, make_repo};

pub(crate) fn cp_install(packages: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cp-install"))
        .args(args)
        .env("CP_PACKAGES_DIR", packages)
        .env_remove("CONTROL_PLANE_ROOT")
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap()
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn assert_gates_pass(root: &Path) {
    let plane = Plane::open(root).unwrap();
    for r in run_gates(&plane, &[]).unwrap() {
        assert!(r.passed(), "{r:#?}");
    }
    assert!(cp_installer::verify_registries(&plane).unwrap().is_empty());
}

#[test]
fn install_by_id_resolves_dependencies_from_the_builtin_set() {
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("repo");
    make_repo(&repo, 0);
    let root = d.path().join("plane");
    let o = cp_install(&repo, &["--root", root.to_str().unwrap(), "--dev", "--json", "PKG-TOP-001"]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let got: Vec<&str> = v.as_array().unwrap().iter().map(|x| x["package_id"].as_str().unwrap()).collect();
    assert_eq!(got, IDS);
    assert_gates_pass(&root);
    // Uninstall is refused while a dependent is installed.
    let o = cp_install(&repo, &["--root", root.to_str().unwrap(), "uninstall", "PKG-MID-001"]);
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("DEPENDENT_INSTALLED"));
}

#[test]
fn bootstrap_then_gates_pass_after_every_package() {
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("repo");
    make_repo(&repo, 0);
    let store = d.path().join("store");
    ok(&cp_install(&repo, &["pack", repo.to_str().unwrap(), "--out", store.to_str().unwrap()]));
    let root = d.path().join("plane");
    for id in IDS {
        ok(&cp_install(&repo, &["--root", root.to_str().unwrap(), "--store", store.to_str().unwrap(), "--dev", id]));
        assert_gates_pass(&root);
    }
    // The whole set on a second plane with --bootstrap and no other source argument.
    let root2 = d.path().join("plane2");
    let o = cp_install(&repo, &["--root", root2.to_str().unwrap(), "--bootstrap", "--dev"]);
    ok(&o);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().filter(|l| l.starts_with("installed")).count(), IDS.len());
    assert_gates_pass(&root2);
    // Running it again is a no-op.
    let o = cp_install(&repo, &["--root", root2.to_str().unwrap(), "--bootstrap", "--dev", "--json"]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.as_array().unwrap().iter().all(|x| x["action"] == "already_installed"), "{v}");
}

#[test]
fn unsigned_is_refused_then_signed_by_a_trusted_key_installs() {
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("repo");
    make_repo(&repo, 0);
    let store = d.path().join("store");
    let o = cp_install(
        &repo,
        &["pack", repo.join("packages/PKG-FW-001").to_str().unwrap(), "--out", store.to_str().unwrap()],
    );
    ok(&o);
    // A labelled result, not bare numbers.
    let packed = String::from_utf8_lossy(&o.stdout);
    assert!(packed.starts_with("packed PKG-FW-001 1.0.0 → ") && packed.contains("layer "), "{packed}");
    let archive = store.join("PKG-FW-001-1.0.0.tar.gz");
    let root = d.path().join("plane");
    let r = root.to_str().unwrap();
    let o = cp_install(&repo, &["--root", r, "--archive", archive.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("G5_UNSIGNED"), "{err}");
    assert!(err.contains("hint: sign it") && err.contains("--dev"), "{err}");
    // --json: the error is one JSON object with its code.
    let o = cp_install(&repo, &["--root", r, "--json", "--archive", archive.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((v["error"]["code"].as_str(), v["error"]["exit_code"].as_u64()), (Some("G5_UNSIGNED"), Some(2)));
    assert!(v["error"]["hint"].as_str().unwrap().contains("sign it"));
    // keygen creates the directory it is asked to write into.
    let key = d.path().join("keys/release/k.json");
    ok(&cp_install(&repo, &["keygen", "--out", key.to_str().unwrap()]));
    ok(&cp_install(&repo, &["sign", archive.to_str().unwrap(), "--key", key.to_str().unwrap()]));
    ok(&cp_install(&repo, &["--root", r, "trust", "add", d.path().join("keys/release/k.pub.json").to_str().unwrap()]));
    let o = cp_install(&repo, &["--root", r, "--archive", archive.to_str().unwrap()]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("trust signature:"));
    assert_gates_pass(&root);
}

#[test]
fn compiled_in_pins_match_a_fresh_pack_of_the_sources() {
    let repo = Path::new(cp_installer::BUILT_FROM);
    let work = tempfile::tempdir().unwrap();
    let fresh = cp_installer::compute_pins(repo, &work.path().join("w")).unwrap();
    assert_eq!(
        fresh,
        cp_installer::builtin_pins().unwrap(),
        "packages/bootstrap_pins.json is stale: run `cargo run -p cp-installer --bin cp-install -- pins --write`"
    );
}

#[test]
fn real_bootstrap_set_installs_without_dev_and_gates_pass() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("plane");
    let repo = Path::new(cp_installer::BUILT_FROM);
    let o = cp_install(repo, &["--root", root.to_str().unwrap(), "--bootstrap", "--json"]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 12, "{v}");
    assert_gates_pass(&root);
    let d2 = tempfile::tempdir().unwrap();
    let root2 = d2.path().join("plane");
    ok(&cp_install(repo, &["--root", root2.to_str().unwrap(), "PKG-ATTENTION-001"]));
    assert_gates_pass(&root2);
}
