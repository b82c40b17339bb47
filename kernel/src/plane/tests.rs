use super::*;

fn plane() -> (tempfile::TempDir, Plane) {
    let dir = tempfile::tempdir().unwrap();
    let p = Plane::init(&dir.path().join("root"), PlaneConfig::default()).unwrap();
    (dir, p)
}

#[test]
fn builtin_layout_parses() {
    let l = Layout::default_layout();
    assert_eq!(l.tiers, vec!["HOT", "HO2", "HO1"]);
}

#[test]
fn init_creates_tiers_and_is_idempotent() {
    let (_d, p) = plane();
    for t in Tier::ALL {
        assert!(p.dir(t, "schemas").is_dir(), "{t}");
        assert!(p.dir(t, "ledger").is_dir(), "{t}");
    }
    Plane::init(p.root(), PlaneConfig::default()).unwrap();
}

#[test]
fn resolve_refuses_escapes() {
    let (_d, p) = plane();
    for bad in ["", "../x", "HOT/../../x", "/etc/passwd", "HOT/./x", "a\\b"] {
        assert!(p.resolve(bad).is_err(), "{bad:?} accepted");
    }
    assert_eq!(p.resolve("./HOT/schemas/x.json").unwrap(), p.root().join("HOT/schemas/x.json"));
}

#[test]
fn resolve_refuses_symlink_out_of_root() {
    let (d, p) = plane();
    let outside = d.path().join("outside");
    crate::fsx::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, p.root().join("HOT/evil")).unwrap();
    let err = p.resolve("HOT/evil/secret").unwrap_err();
    assert!(err.to_string().contains("symlink"), "{err}");
    // A symlink that stays inside is fine.
    std::os::unix::fs::symlink(p.root().join("HOT/schemas"), p.root().join("HOT/alias")).unwrap();
    p.resolve("HOT/alias/x").unwrap();
}

#[test]
fn not_a_plane() {
    let d = tempfile::tempdir().unwrap();
    assert!(matches!(Plane::open(d.path()), Err(PlaneError::NotAPlane { .. })));
}
