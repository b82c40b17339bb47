//! Install transaction: the hostile-archive corpus, ownership, versions, uninstall, Python-made
//! packages, fault injection at every step, and install atomicity (proptest).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cp_installer::{InstallAction, InstallOptions, Installer, testkit::plane_with_fixture_framework, write_signature};
use cp_kernel::{
    KeyPairFile, LedgerName, LedgerQuery, LedgerSet, TrustedKey, event, testkit::FixturePackage, testkit::TempPlane,
    testkit::tree_hash,
};
use serde_json::{Value, json};

/// Small caps so that every cap can be tripped cheaply (installed as a package, like the real
/// config).
const SMALL_CAPS: &str = r#"{
  "schema_version": "1.0",
  "archive": { "max_member_bytes": 8192, "max_total_bytes": 200000, "max_members": 60,
               "max_compression_ratio": 20, "ratio_check_min_bytes": 100000 },
  "staging_dir": ".staging",
  "pending_framework_policy": "defer_pinned"
}
"#;

fn opts() -> InstallOptions {
    InstallOptions::default()
}

pub(crate) fn packages_ledger(tp: &TempPlane) -> Vec<cp_kernel::LedgerEntry> {
    LedgerSet::new(&tp.plane).open(LedgerName::PACKAGES).unwrap().query(&LedgerQuery::default()).unwrap()
}

/// Fixture framework + small caps config + a base package owning HOT/schemas/base.json.
fn base_plane() -> TempPlane {
    let tp = plane_with_fixture_framework();
    let store = tp.dir.path().join("base-store");
    let inst = Installer::new(&tp.plane);
    let cfg = FixturePackage::new("PKG-CFG-001").file("HOT/config/install_config.json", SMALL_CAPS);
    inst.install_archive(&cfg.write(&store), Some("PKG-CFG-001"), &opts()).unwrap();
    let base = FixturePackage::new("PKG-BASE-001").file("HOT/schemas/base.json", "{\"base\":1}\n");
    inst.install_archive(&base.write(&store), Some("PKG-BASE-001"), &opts()).unwrap();
    tp
}

// ---- raw archive crafting (what the deterministic writer refuses to make) -------------------

struct Raw(Vec<(tar::Header, Vec<u8>)>);

impl Raw {
    fn new() -> Self {
        Self(Vec::new())
    }
    fn entry(mut self, name: &[u8], kind: tar::EntryType, data: &[u8], link: Option<&[u8]>) -> Self {
        let mut h = tar::Header::new_gnu();
        {
            let old = h.as_old_mut();
            old.name[..name.len()].copy_from_slice(name);
            if let Some(l) = link {
                old.linkname[..l.len()].copy_from_slice(l);
            }
        }
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        self.0.push((h, data.to_vec()));
        self
    }
    fn file(self, name: &str, data: &[u8]) -> Self {
        self.entry(name.as_bytes(), tar::EntryType::Regular, data, None)
    }
    fn pax_size(mut self, name: &str, header_size: u64, pax_size: u64, data: &[u8]) -> Self {
        let rec = format!("size={pax_size}\n");
        let len = rec.len() + 3;
        let rec = format!("{len} {rec}");
        let mut x = tar::Header::new_ustar();
        x.set_path("PaxHeaders/x").unwrap();
        x.set_entry_type(tar::EntryType::XHeader);
        x.set_size(rec.len() as u64);
        x.set_cksum();
        self.0.push((x, rec.into_bytes()));
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_size(header_size);
        h.set_mode(0o644);
        h.set_cksum();
        self.0.push((h, data.to_vec()));
        self
    }
    fn write(self, path: &Path) -> PathBuf {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let mut b = tar::Builder::new(gz);
        for (h, d) in &self.0 {
            b.append(h, d.as_slice()).unwrap();
        }
        let bytes = b.into_inner().unwrap().finish().unwrap();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
        path.to_path_buf()
    }
}

fn manifest_for(p: &FixturePackage) -> Vec<u8> {
    serde_json::to_vec_pretty(&p.manifest_value()).unwrap()
}

fn pseudo_random(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

type Build = Box<dyn Fn(&Path) -> (PathBuf, Option<String>)>;

struct Case {
    name: &'static str,
    code: &'static str,
    /// Builds the hostile input in `dir`; returns (archive, requested id). `None` id with
    /// `store = true` means: install the requested ids from the store `dir`.
    build: Build,
    from_store: Option<Vec<String>>,
}

fn case(name: &'static str, code: &'static str, build: impl Fn(&Path) -> (PathBuf, Option<String>) + 'static) -> Case {
    Case { name, code, build: Box::new(build), from_store: None }
}

fn simple(id: &str) -> FixturePackage {
    FixturePackage::new(id).file("HOT/schemas/evil.json", "{}\n")
}

fn with_manifest(p: FixturePackage, f: impl Fn(&mut Value)) -> impl Fn(&Path) -> (PathBuf, Option<String>) {
    move |d: &Path| {
        let mut v = p.manifest_value();
        f(&mut v);
        let bytes = serde_json::to_vec_pretty(&v).unwrap();
        (p.write_with_manifest(d, &bytes), Some(p.id.clone()))
    }
}

fn raw_case(id: &'static str, extra: impl Fn(Raw) -> Raw + 'static) -> impl Fn(&Path) -> (PathBuf, Option<String>) {
    move |d: &Path| {
        let p = simple(id);
        let raw = Raw::new().file("manifest.json", &manifest_for(&p)).file("HOT/schemas/evil.json", b"{}\n");
        (extra(raw).write(&d.join(format!("{id}.tar.gz"))), Some(id.to_string()))
    }
}

fn corpus() -> Vec<Case> {
    use tar::EntryType as E;
    let mut v = vec![
        case("dotdot path", "ARCHIVE_PATH_UNSAFE", raw_case("PKG-H1", |r| r.file("HOT/../../evil", b"x"))),
        case("absolute path", "ARCHIVE_PATH_UNSAFE", raw_case("PKG-H2", |r| r.file("/tmp/evil", b"x"))),
        case(
            "symlink",
            "ARCHIVE_LINK",
            raw_case("PKG-H3", |r| r.entry(b"HOT/schemas/l", E::Symlink, b"", Some(b"/etc/passwd"))),
        ),
        case(
            "hardlink",
            "ARCHIVE_LINK",
            raw_case("PKG-H4", |r| r.entry(b"HOT/schemas/h", E::Link, b"", Some(b"manifest.json"))),
        ),
        case("fifo", "ARCHIVE_SPECIAL_FILE", raw_case("PKG-H5", |r| r.entry(b"HOT/schemas/f", E::Fifo, b"", None))),
        case(
            "char device",
            "ARCHIVE_SPECIAL_FILE",
            raw_case("PKG-H6", |r| r.entry(b"HOT/schemas/c", E::Char, b"", None)),
        ),
        case("duplicate member", "ARCHIVE_DUPLICATE", raw_case("PKG-H7", |r| r.file("HOT/schemas/evil.json", b"{}\n"))),
        case(
            "case-fold collision",
            "ARCHIVE_CASE_COLLISION",
            raw_case("PKG-H8", |r| r.file("HOT/schemas/EVIL.json", b"{}\n")),
        ),
        case(
            "member over the size cap",
            "ARCHIVE_MEMBER_TOO_LARGE",
            raw_case("PKG-H9", |r| r.file("HOT/schemas/big", &pseudo_random(9000, 1))),
        ),
        case(
            "too many members",
            "ARCHIVE_TOO_MANY_MEMBERS",
            raw_case("PKG-H10", |mut r| {
                for i in 0..70 {
                    r = r.file(&format!("HOT/schemas/m{i}.json"), b"1");
                }
                r
            }),
        ),
        case(
            "total over the cap",
            "ARCHIVE_TOTAL_TOO_LARGE",
            raw_case("PKG-H11", |mut r| {
                for i in 0..30 {
                    r = r.file(&format!("HOT/schemas/t{i}"), &pseudo_random(8000, i + 2));
                }
                r
            }),
        ),
        case(
            "gzip bomb",
            "ARCHIVE_RATIO_EXCEEDED",
            raw_case("PKG-H12", |mut r| {
                for i in 0..14 {
                    r = r.file(&format!("HOT/schemas/z{i}"), &[0u8; 8000]);
                }
                r
            }),
        ),
        case(
            "PAX size mismatch",
            "ARCHIVE_SIZE_MISMATCH",
            raw_case("PKG-H13", |r| r.pax_size("HOT/schemas/p", 5, 700, b"hello")),
        ),
        case(
            "GNU long name record over the cap (refused before it is read)",
            "ARCHIVE_HEADER_TOO_LARGE",
            raw_case("PKG-H40", |r| {
                r.entry(b"././@LongLink", E::GNULongName, &pseudo_random(70_000, 40), None)
                    .file("HOT/schemas/after.json", b"{}\n")
            }),
        ),
        case(
            "PAX header over the cap",
            "ARCHIVE_HEADER_TOO_LARGE",
            raw_case("PKG-H41", |r| {
                let value = "a".repeat(70_000);
                let rec = format!("path={value}\n");
                let rec = format!("{} {rec}", rec.len() + 6);
                r.entry(b"PaxHeaders/x", E::XHeader, rec.as_bytes(), None).file("HOT/schemas/after.json", b"{}\n")
            }),
        ),
        case(
            "escape and newline in a member name",
            "ARCHIVE_PATH_UNSAFE",
            raw_case("PKG-H42", |r| r.file("HOT/schemas/a\u{1b}[2J\nb.json", b"{}\n")),
        ),
        case(
            "manifest declaring more members than the cap",
            "ARCHIVE_TOO_MANY_MEMBERS",
            with_manifest(simple("PKG-H43"), |v| {
                v["assets"] = json!(vec![json!({"path": "a"}); 70]);
            }),
        ),
        case("corrupt gzip", "ARCHIVE_CORRUPT", |d: &Path| {
            let a = simple("PKG-H14").write(d);
            let b = std::fs::read(&a).unwrap();
            std::fs::write(&a, &b[..b.len() / 2]).unwrap();
            (a, Some("PKG-H14".into()))
        }),
        case("manifest missing", "G0A_MANIFEST_MISSING", |d: &Path| {
            (
                Raw::new().file("HOT/schemas/evil.json", b"{}\n").write(&d.join("nomanifest.tar.gz")),
                Some("PKG-H15".into()),
            )
        }),
        case("invalid JSON", "G0A_MANIFEST_JSON", |d: &Path| {
            (simple("PKG-H16").write_with_manifest(d, b"{\"package_id\": "), Some("PKG-H16".into()))
        }),
        case("manifest id differs from the requested id", "G0A_ID_MISMATCH", |d: &Path| {
            (simple("PKG-H17").write(d), Some("PKG-OTHER".into()))
        }),
        case(
            "manifest schema violation",
            "G0A_MANIFEST_INVALID",
            with_manifest(simple("PKG-H18"), |v| v["version"] = json!("one")),
        ),
        case(
            "bad hash format",
            "G0A_BAD_HASH_FORMAT",
            with_manifest(simple("PKG-H19"), |v| v["assets"][0]["sha256"] = json!("md5:abc")),
        ),
        case(
            "unsafe asset path",
            "G0A_UNSAFE_PATH",
            with_manifest(simple("PKG-H20"), |v| v["assets"][0]["path"] = json!("HOT/../etc/x")),
        ),
        case(
            "undeclared file",
            "G0A_UNDECLARED",
            with_manifest(simple("PKG-H21").file("HOT/schemas/extra.json", "{}"), |v| {
                v["assets"].as_array_mut().unwrap().pop();
            }),
        ),
        case(
            "declared asset missing",
            "G0A_MISSING_ASSET",
            with_manifest(simple("PKG-H22"), |v| {
                v["assets"].as_array_mut().unwrap().push(json!({"path": "HOT/schemas/ghost.json", "sha256": format!("sha256:{}", "0".repeat(64)), "classification": "schema"}));
            }),
        ),
        case(
            "hash mismatch",
            "G0A_HASH_MISMATCH",
            with_manifest(simple("PKG-H23"), |v| {
                v["assets"][0]["sha256"] = json!(format!("sha256:{}", "1".repeat(64)))
            }),
        ),
        case("missing dependency", "G1_DEPENDENCY_MISSING", |d: &Path| {
            (simple("PKG-H24").dep("PKG-NOPE").write(d), Some("PKG-H24".into()))
        }),
        case("ownership conflict", "OWNERSHIP_CONFLICT", |d: &Path| {
            (
                FixturePackage::new("PKG-H25").file("HOT/schemas/base.json", "{\"mine\":1}\n").write(d),
                Some("PKG-H25".into()),
            )
        }),
        case("downgrade", "DOWNGRADE_REFUSED", |d: &Path| {
            (
                FixturePackage::new("PKG-BASE-001")
                    .version("0.9.0")
                    .file("HOT/schemas/base.json", "{\"base\":0}\n")
                    .write(d),
                Some("PKG-BASE-001".into()),
            )
        }),
        case("path outside the framework's authorizations", "G1_PATH_UNAUTHORIZED", |d: &Path| {
            (
                FixturePackage::new("PKG-H27").file("HO2/attention_templates/x.md", "a: 1\n").write(d),
                Some("PKG-H27".into()),
            )
        }),
        case(
            "framework not registered",
            "G1_FRAMEWORK_MISSING",
            with_manifest(simple("PKG-H28"), |v| v["framework_id"] = json!("FMWK-999")),
        ),
        case(
            "spec not registered",
            "G1_SPEC_MISSING",
            with_manifest(simple("PKG-H29"), |v| v["spec_id"] = json!("SPEC-NOPE-001")),
        ),
        case("framework expects a missing spec", "G1C_SPEC_MISSING", |d: &Path| {
            let fw = "framework_id: FMWK-901\ntitle: Incomplete\nstatus: active\nversion: \"1.0.0\"\nexpected_specs: [SPEC-GONE-001]\npath_authorizations: [\"HOT/FMWK-901_Incomplete/*\"]\n";
            (
                FixturePackage::new("PKG-H30").file("HOT/FMWK-901_Incomplete/manifest.yaml", fw).write(d),
                Some("PKG-H30".into()),
            )
        }),
    ];
    let mut cyc = case("dependency cycle", "G1_DEPENDENCY_CYCLE", |d: &Path| {
        simple("PKG-CA").dep("PKG-CB").write(d);
        FixturePackage::new("PKG-CB").file("HOT/schemas/cb.json", "{}").dep("PKG-CA").write(d);
        (d.to_path_buf(), None)
    });
    cyc.from_store = Some(vec!["PKG-CA".into()]);
    v.push(cyc);
    let mut miss = case("missing dependency in the store", "G1_DEPENDENCY_MISSING", |d: &Path| {
        simple("PKG-MA").dep("PKG-MISSING").write(d);
        (d.to_path_buf(), None)
    });
    miss.from_store = Some(vec!["PKG-MA".into()]);
    v.push(miss);
    v
}

fn assert_refused_unchanged(
    tp: &TempPlane,
    name: &str,
    code: &str,
    run: impl FnOnce() -> Result<(), cp_installer::InstallError>,
) {
    let before = tree_hash(tp.plane.root(), &["HOT/ledger/packages"]);
    let n = packages_ledger(tp).len();
    let err = match run() {
        Ok(()) => panic!("case {name:?}: accepted"),
        Err(e) => e,
    };
    assert_eq!(err.code(), code, "case {name:?}: wrong code ({err})");
    let after = tree_hash(tp.plane.root(), &["HOT/ledger/packages"]);
    assert_eq!(before, after, "case {name:?}: plane changed");
    let entries = packages_ledger(tp);
    assert_eq!(entries.len(), n + 1, "case {name:?}: expected exactly one new ledger entry");
    let last = entries.last().unwrap();
    assert_eq!(last.event_type, event::INSTALL_FAILED, "case {name:?}");
    assert_eq!(last.metadata["code"], json!(code), "case {name:?}");
    // Archive input never reaches the ledger unbounded, nor a control character from a name.
    let reason = last.reason.as_deref().unwrap_or_default();
    assert!(reason.len() < 65_536 + 200, "case {name:?}: reason of {} bytes", reason.len());
    assert!(!reason.contains('\u{1b}'), "case {name:?}: escape in the reason");
}

#[test]
fn hostile_archive_corpus_is_refused_with_its_own_code_and_leaves_the_plane_unchanged() {
    let tp = base_plane();
    let inst = Installer::new(&tp.plane);
    let cases = corpus();
    assert!(cases.len() >= 24);
    for (i, c) in cases.iter().enumerate() {
        let dir = tp.dir.path().join(format!("hostile-{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let (archive, id) = (c.build)(&dir);
        assert_refused_unchanged(&tp, c.name, c.code, || match &c.from_store {
            Some(ids) => inst.install_ids(&archive, ids, &opts()).map(|_| ()),
            None => inst.install_archive(&archive, id.as_deref(), &opts()).map(|_| ()),
        });
    }
    // Signature cases: the plane now requires signatures and trusts one key.
    let trusted = KeyPairFile::from_seed(&[1u8; 32]);
    let stranger = KeyPairFile::from_seed(&[2u8; 32]);
    let mut plane = tp.plane.clone();
    let mut cfg = plane.config().clone();
    cfg.require_signatures = true;
    cfg.trusted_keys.push(TrustedKey {
        key_id: trusted.key_id.clone(),
        public_key: trusted.public_key.clone(),
        note: "test".into(),
    });
    plane.save_config(cfg).unwrap();
    let dir = tp.dir.path().join("sig");
    let signed = |p: &FixturePackage, key: &KeyPairFile| {
        let a = p.write(&dir);
        let m = manifest_for(p);
        write_signature(&a, &cp_kernel::sha256_prefixed(&m), key).unwrap();
        a
    };
    let p = simple("PKG-S1");
    let a = p.write(&dir);
    assert_refused_unchanged(&tp, "unsigned", "G5_UNSIGNED", || {
        inst.install_archive(&a, Some("PKG-S1"), &opts()).map(|_| ())
    });
    let p = simple("PKG-S2");
    let a = signed(&p, &stranger);
    assert_refused_unchanged(&tp, "untrusted key", "G5_UNTRUSTED_KEY", || {
        inst.install_archive(&a, Some("PKG-S2"), &opts()).map(|_| ())
    });
    let p = simple("PKG-S3");
    let a = signed(&p, &trusted);
    // Changed after signing: new content with a consistent manifest, old signature kept.
    let tampered = FixturePackage::new("PKG-S3").file("HOT/schemas/evil.json", "{\"evil\":true}\n");
    assert_eq!(tampered.write(&dir), a);
    assert_refused_unchanged(&tp, "changed after signing", "G5_BAD_SIGNATURE", || {
        inst.install_archive(&a, Some("PKG-S3"), &opts()).map(|_| ())
    });
    // The properly signed package installs.
    let p = simple("PKG-S4");
    let a = signed(&p, &trusted);
    let out = inst.install_archive(&a, Some("PKG-S4"), &opts()).unwrap();
    assert_eq!(out.trust, format!("signature:{}", trusted.key_id));
}

/// Long member names (GNU long-name records written by the tar builder) within the cap are
/// applied to the member that follows them.
#[test]
fn long_member_names_within_the_cap_install() {
    let tp = base_plane();
    let long = format!("HOT/schemas/{}.json", "n".repeat(150));
    let p = FixturePackage::new("PKG-LONG-001").file(&long, "{}\n");
    let a = p.write(&tp.dir.path().join("s"));
    Installer::new(&tp.plane).install_archive(&a, None, &opts()).unwrap();
    assert_eq!(std::fs::read_to_string(tp.plane.root().join(&long)).unwrap(), "{}\n");
}

#[test]
fn orphan_in_a_governed_root_blocks_installs() {
    let tp = base_plane();
    std::fs::write(tp.plane.root().join("HO1/contracts/stray.json"), "{}").unwrap();
    let d = tp.dir.path().join("s");
    let a = simple("PKG-X").write(&d);
    assert_refused_unchanged(&tp, "orphan", "G0B_ORPHAN", || {
        Installer::new(&tp.plane).install_archive(&a, Some("PKG-X"), &opts()).map(|_| ())
    });
}

#[test]
fn dev_waives_unsigned_and_logs_the_waiver() {
    let tp = TempPlane::new();
    let d = tp.dir.path().join("s");
    let a = cp_kernel::testkit::fixture_framework_package().write(&d);
    let inst = Installer::new(&tp.plane);
    let e = inst.install_archive(&a, None, &opts()).unwrap_err();
    assert_eq!(e.code(), "G5_UNSIGNED");
    let out = inst.install_archive(&a, None, &InstallOptions { dev: true, ..opts() }).unwrap();
    assert_eq!(out.trust, "waived");
    let l = packages_ledger(&tp);
    let kinds: Vec<&str> = l.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(kinds, [event::INSTALL_FAILED, event::POLICY_WAIVED, event::INSTALL_STARTED, event::INSTALLED]);
    let g5 = cp_kernel::run_gates(&tp.plane, &[cp_kernel::GateId::G5]).unwrap();
    assert!(g5[0].passed(), "{g5:#?}");
    // A receipt claiming a waiver that the ledger does not record fails G5.
    let r = tp.plane.root().join("HOT/installed/PKG-FW-001/receipt.json");
    let text = std::fs::read_to_string(&r).unwrap();
    let other = TempPlane::new();
    let dir = other.plane.root().join("HOT/installed/PKG-FW-001");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("receipt.json"), text).unwrap();
    let g5 = cp_kernel::run_gates(&other.plane, &[cp_kernel::GateId::G5]).unwrap();
    assert_eq!(g5[0].first_code(), Some("G5_UNSIGNED"), "{g5:#?}");
}

#[test]
fn pinned_digest_is_trusted_without_signature() {
    let tp = TempPlane::new();
    let d = tp.dir.path().join("s");
    let p = cp_kernel::testkit::fixture_framework_package();
    let a = p.write(&d);
    let sha = cp_kernel::sha256_prefixed(&manifest_for(&p));
    let mut pinned = BTreeMap::new();
    pinned.insert(p.id.clone(), sha);
    let out = Installer::new(&tp.plane).install_archive(&a, None, &InstallOptions { pinned, ..opts() }).unwrap();
    assert_eq!(out.trust, "pinned");
}

#[test]
fn reinstall_is_noop_upgrade_transfers_and_force_downgrade_keeps_ownership() {
    let tp = base_plane();
    let inst = Installer::new(&tp.plane);
    let d = tp.dir.path().join("s");
    let base = FixturePackage::new("PKG-BASE-001").file("HOT/schemas/base.json", "{\"base\":1}\n");
    let n = packages_ledger(&tp).len();
    let out = inst.install_archive(&base.write(&d), Some("PKG-BASE-001"), &opts()).unwrap();
    assert_eq!(out.action, InstallAction::AlreadyInstalled);
    assert_eq!(packages_ledger(&tp).len(), n, "no-op logs nothing");

    // Upgrade drops a file and adds one.
    let v2 = FixturePackage::new("PKG-BASE-001").version("2.0.0").file("HOT/schemas/base2.json", "{\"base\":2}\n");
    assert_eq!(inst.install_archive(&v2.write(&d), None, &opts()).unwrap().action, InstallAction::Upgraded);
    assert!(!tp.plane.root().join("HOT/schemas/base.json").exists());
    assert!(tp.plane.root().join("HOT/schemas/base2.json").exists());

    // A package that lists the owner in `replaces` takes the file over; the transfer is recorded.
    let mut taker = FixturePackage::new("PKG-TAKE-001").file("HOT/schemas/base2.json", "{\"taken\":1}\n");
    taker.replaces.push("PKG-BASE-001".into());
    let out = inst.install_archive(&taker.write(&d), None, &opts()).unwrap();
    assert_eq!(out.transfers.len(), 1);
    let owners = cp_kernel::current_owners(&tp.plane).unwrap();
    assert_eq!(owners["HOT/schemas/base2.json"].package_id, "PKG-TAKE-001");

    // Forced downgrade of the base keeps every other ownership row.
    let rows_before = std::fs::read_to_string(tp.plane.root().join("HOT/registries/file_ownership.csv")).unwrap();
    let v1 = FixturePackage::new("PKG-BASE-001").version("1.5.0").file("HOT/schemas/base15.json", "{}\n");
    assert_eq!(inst.install_archive(&v1.write(&d), None, &opts()).unwrap_err().code(), "DOWNGRADE_REFUSED");
    let out = inst.install_archive(&v1.write(&d), None, &InstallOptions { force: true, ..opts() }).unwrap();
    assert_eq!(out.action, InstallAction::Forced);
    let rows_after = std::fs::read_to_string(tp.plane.root().join("HOT/registries/file_ownership.csv")).unwrap();
    assert!(rows_after.starts_with(&rows_before), "ownership registry is append-only, never wiped");
    let owners = cp_kernel::current_owners(&tp.plane).unwrap();
    assert_eq!(owners["HOT/schemas/base2.json"].package_id, "PKG-TAKE-001");
    let reports = cp_kernel::run_gates(&tp.plane, &[]).unwrap();
    assert!(reports.iter().all(|r| r.passed()), "{reports:#?}");
    assert!(cp_installer::verify_registries(&tp.plane).unwrap().is_empty());
}

#[test]
fn uninstall_refuses_with_dependents_and_removes_only_owned_files() {
    let tp = base_plane();
    let inst = Installer::new(&tp.plane);
    let d = tp.dir.path().join("s");
    let child = FixturePackage::new("PKG-CHILD-001").file("HOT/schemas/child.json", "{}\n").dep("PKG-BASE-001");
    inst.install_archive(&child.write(&d), None, &opts()).unwrap();
    let e = inst.uninstall("PKG-BASE-001", &opts()).unwrap_err();
    assert_eq!(e.code(), "DEPENDENT_INSTALLED");
    assert!(e.to_string().contains("PKG-CHILD-001"));
    let out = inst.uninstall("PKG-CHILD-001", &opts()).unwrap();
    assert_eq!(out.action, InstallAction::Uninstalled);
    assert!(!tp.plane.root().join("HOT/schemas/child.json").exists());
    assert!(tp.plane.root().join("HOT/schemas/base.json").exists());
    assert!(!tp.plane.root().join("HOT/installed/PKG-CHILD-001").exists());
    assert_eq!(packages_ledger(&tp).last().unwrap().event_type, event::UNINSTALLED);
    let reports = cp_kernel::run_gates(&tp.plane, &[]).unwrap();
    assert!(reports.iter().all(|r| r.passed()), "{reports:#?}");
    assert_eq!(inst.uninstall("PKG-CHILD-001", &opts()).unwrap_err().code(), "NOT_INSTALLED");
}

#[test]
fn python_made_package_installs() {
    let tp = plane_with_fixture_framework();
    let d = tp.dir.path().join("py");
    // Python tarfile shape: directory entries, `./` prefixes, library/test/kernel classes.
    let files: Vec<(&str, &[u8], &str)> = vec![
        ("HOT/kernel/attention_service.py", b"def assemble():\n    return 1\n", "library"),
        ("HOT/kernel/__init__.py", b"", "kernel"),
        ("HOT/tests/test_attention_service.py", b"def test_x():\n    assert True\n", "test"),
    ];
    let assets: Vec<Value> = files
        .iter()
        .map(|(p, d, c)| json!({"path": p, "sha256": cp_kernel::sha256_prefixed(d), "classification": c}))
        .collect();
    let manifest = json!({
        "schema_version": "1.2", "package_id": "PKG-PY-001", "version": "1.0.0", "title": "py",
        "description": "made by the Python system", "spec_id": "SPEC-T-001", "framework_id": "FMWK-900",
        "plane_id": "hot", "layer": 3, "dependencies": ["PKG-FW-001"], "assets": assets,
    });
    let mut raw = Raw::new()
        .entry(b"./", tar::EntryType::Directory, b"", None)
        .file("./manifest.json", &serde_json::to_vec_pretty(&manifest).unwrap())
        .entry(b"./HOT/", tar::EntryType::Directory, b"", None)
        .entry(b"./HOT/kernel/", tar::EntryType::Directory, b"", None)
        .entry(b"./HOT/tests/", tar::EntryType::Directory, b"", None);
    for (p, data, _) in &files {
        raw = raw.file(&format!("./{p}"), data);
    }
    let a = raw.write(&d.join("PKG-PY-001.tar.gz"));
    let out = Installer::new(&tp.plane).install_archive(&a, Some("PKG-PY-001"), &opts()).unwrap();
    assert_eq!(out.files, 3);
    assert_eq!(std::fs::read(tp.plane.root().join("HOT/kernel/attention_service.py")).unwrap(), files[0].1);
    let reports = cp_kernel::run_gates(&tp.plane, &[]).unwrap();
    assert!(reports.iter().all(|r| r.passed()), "{reports:#?}");
}

#[test]
fn pack_is_deterministic_and_fills_hashes() {
    let d = tempfile::tempdir().unwrap();
    let repo = d.path();
    std::fs::create_dir_all(repo.join("packages/PKG-DEMO-001")).unwrap();
    std::fs::create_dir_all(repo.join("schemas")).unwrap();
    std::fs::write(repo.join("schemas/demo.schema.json"), "{\"type\":\"object\"}\n").unwrap();
    std::fs::create_dir_all(repo.join("packages/PKG-DEMO-001/HOT/config")).unwrap();
    std::fs::write(repo.join("packages/PKG-DEMO-001/HOT/config/demo.json"), "{}\n").unwrap();
    std::fs::write(
        repo.join("packages/sources.json"),
        r#"{"mappings":[{"prefix":"HOT/schemas/","source":"schemas/"}]}"#,
    )
    .unwrap();
    let src = json!({"schema_version":"1.2","package_id":"PKG-DEMO-001","version":"1.0.0","title":"d","description":"d",
        "spec_id":"SPEC-T-001","framework_id":"FMWK-900","plane_id":"hot","layer":1,"dependencies":[],
        "assets":[{"path":"HOT/schemas/demo.schema.json","classification":"schema"},{"path":"HOT/config/demo.json","classification":"config"}]});
    std::fs::write(repo.join("packages/PKG-DEMO-001/manifest.json"), serde_json::to_vec_pretty(&src).unwrap()).unwrap();
    let a = cp_installer::pack_package(repo, "PKG-DEMO-001", &repo.join("out1")).unwrap();
    let b = cp_installer::pack_package(repo, "PKG-DEMO-001", &repo.join("out2")).unwrap();
    assert_eq!(std::fs::read(&a.path).unwrap(), std::fs::read(&b.path).unwrap());
    assert_eq!(a.manifest_sha256, b.manifest_sha256);
    let caps = cp_kernel::InstallConfig::builtin().unwrap().archive;
    let read = cp_kernel::read_archive(&a.path, &caps, None).unwrap();
    let m: Value = serde_json::from_slice(read.manifest_bytes.as_ref().unwrap()).unwrap();
    assert_eq!(m["assets"][0]["sha256"], json!(cp_kernel::sha256_prefixed(b"{\"type\":\"object\"}\n")));
    assert_eq!(read.files.len(), 2);
    // A present hash that does not match is refused.
    let mut bad = src.clone();
    bad["assets"][1]["sha256"] = json!(format!("sha256:{}", "2".repeat(64)));
    std::fs::write(repo.join("packages/PKG-DEMO-001/manifest.json"), serde_json::to_vec_pretty(&bad).unwrap()).unwrap();
    let e = cp_installer::pack_package(repo, "PKG-DEMO-001", &repo.join("out3")).unwrap_err();
    assert!(e.to_string().contains("HOT/config/demo.json"), "{e}");
}

#[test]
fn failure_at_every_step_leaves_the_plane_unchanged_or_recoverable() {
    let mut step = 1;
    loop {
        let tp = base_plane();
        let inst = Installer::new(&tp.plane);
        let d = tp.dir.path().join("s");
        let p = FixturePackage::new("PKG-F-001")
            .file("HOT/schemas/f1.json", "{}\n")
            .file("HOT/schemas/f2.json", "[]\n")
            .file("HO1/contracts/f3.md", "{\"c\":1}\n")
            .file("HOT/kernel/pkg_f/mod.py", "x = 1\n");
        let a = p.write(&d);
        let before = tree_hash(tp.plane.root(), &["HOT/ledger/"]);
        let dirs_before = cp_kernel::testkit::dir_set(tp.plane.root(), &["HOT/ledger", "HOT/.staging"]);
        let r = inst.install_archive(&a, None, &InstallOptions { fail_at_step: Some(step), ..opts() });
        match r {
            Ok(_) => break, // past the last step: the install completed.
            Err(e) => assert_eq!(e.code(), "FAULT_INJECTED"),
        }
        let last = packages_ledger(&tp).last().unwrap().event_type.clone();
        if last == event::INSTALL_FAILED {
            assert_eq!(tree_hash(tp.plane.root(), &["HOT/ledger/"]), before, "step {step}: plane changed");
            let dirs = cp_kernel::testkit::dir_set(tp.plane.root(), &["HOT/ledger", "HOT/.staging"]);
            assert_eq!(dirs, dirs_before, "step {step}: a directory the install created was left behind");
        } else {
            // Committed: recovery completes it.
            let acts = inst.recover().unwrap();
            assert_eq!(acts.len(), 1, "step {step}");
            assert_eq!(acts[0].action, "completed");
            assert!(tp.plane.root().join("HOT/installed/PKG-F-001/receipt.json").exists());
            assert_eq!(packages_ledger(&tp).last().unwrap().event_type, event::INSTALLED);
        }
        let reports = cp_kernel::run_gates(&tp.plane, &[]).unwrap();
        assert!(reports.iter().all(|r| r.passed()), "step {step}: {reports:#?}");
        step += 1;
        assert!(step < 50, "never completed");
    }
    assert!(step > 5, "too few steps exercised: {step}");
}

#[test]
fn recover_discards_a_staging_directory_without_journal() {
    // A crash before the journal is written leaves only staged bytes: nothing moved, so
    // recovery drops them (journaled crashes are covered by the SIGKILL trials in cp-installer).
    let tp = base_plane();
    let inst = Installer::new(&tp.plane);
    let d = tp.dir.path().join("s");
    let p = FixturePackage::new("PKG-R-001").file("HOT/schemas/r1.json", "{}\n").file("HOT/schemas/r2.json", "{}\n");
    let a = p.write(&d);
    let before = tree_hash(tp.plane.root(), &["HOT/ledger/"]);
    let stray = tp.plane.root().join("HOT/.staging/0000-stray/files/HOT/schemas");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("x.json"), "{}").unwrap();
    let acts = inst.recover().unwrap();
    assert_eq!(acts.len(), 1);
    assert_eq!(acts[0].action, "discarded");
    assert_eq!(tree_hash(tp.plane.root(), &["HOT/ledger/"]), before);
    assert!(!tp.plane.root().join("HOT/.staging").exists());
    inst.install_archive(&a, None, &opts()).unwrap();
}

mod atomicity {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]
        /// Whatever step fails, the package is either fully installed (after recovery) or
        /// fully absent, and the plane gates pass.
        #[test]
        fn install_is_atomic(nfiles in 1usize..6, fail in 1u32..16) {
            let tp = base_plane();
            let inst = Installer::new(&tp.plane);
            let d = tp.dir.path().join("s");
            let mut p = FixturePackage::new("PKG-P-001");
            for i in 0..nfiles {
                p = p.file(&format!("HOT/schemas/p{i}.json"), format!("{{\"i\":{i}}}\n"));
            }
            let a = p.write(&d);
            let _ = inst.install_archive(&a, None, &InstallOptions { fail_at_step: Some(fail), ..opts() });
            inst.recover().unwrap();
            let present: Vec<bool> = (0..nfiles).map(|i| tp.plane.root().join(format!("HOT/schemas/p{i}.json")).exists()).collect();
            let installed = tp.plane.root().join("HOT/installed/PKG-P-001/receipt.json").exists();
            prop_assert!(present.iter().all(|&x| x == installed), "partial install: {present:?} receipt={installed}");
            let reports = cp_kernel::run_gates(&tp.plane, &[]).unwrap();
            prop_assert!(reports.iter().all(|r| r.passed()), "{reports:#?}");
        }
    }
}

#[test]
fn dry_run_checks_everything_and_changes_nothing() {
    let tp = base_plane();
    let inst = Installer::new(&tp.plane);
    let d = tp.dir.path().join("s");
    let before = tree_hash(tp.plane.root(), &[]);
    let good = FixturePackage::new("PKG-DRY-001").file("HOT/schemas/dry.json", "{}\n");
    let out = inst.install_archive(&good.write(&d), None, &InstallOptions { dry_run: true, ..opts() }).unwrap();
    assert_eq!(out.action, InstallAction::DryRun);
    assert_eq!(out.gates.len(), 5, "G0A, G0B, G1, G1-COMPLETE, G5 all ran");
    let bad = FixturePackage::new("PKG-DRY-002").file("HOT/schemas/base.json", "{}\n");
    let e = inst.install_archive(&bad.write(&d), None, &InstallOptions { dry_run: true, ..opts() }).unwrap_err();
    assert_eq!(e.code(), "OWNERSHIP_CONFLICT");
    assert_eq!(tree_hash(tp.plane.root(), &[]), before, "dry run changed the plane or the ledger");
}

#[test]
fn bench_reports_the_set_it_installed() {
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("store");
    cp_kernel::testkit::fixture_framework_package().write(&store);
    FixturePackage::new("PKG-B1").file("HOT/schemas/b1.json", "{}\n").dep("PKG-FW-001").write(&store);
    FixturePackage::new("PKG-B2").file("HO1/contracts/b2.md", "{}\n").dep("PKG-B1").write(&store);
    let r = cp_installer::bench::bench_install(&store, &d.path().join("work"), 1).unwrap();
    assert_eq!((r.packages, r.files, r.iterations), (3, 4, 1));
    assert!(r.archive_bytes > 0);
    assert!(!d.path().join("work").exists(), "work directory left behind");
}
