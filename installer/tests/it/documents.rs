//! Governed documents are validated before anything moves (issue 8 §2): hostile upgrades of the
//! real bootstrap packages, packed and signed with a test key inside the test, are refused with
//! `G0A_DOCUMENT_INVALID` naming file, line, column and field path; the plane stays
//! byte-for-byte as it was (also under `--dry-run`), and `INSTALL_FAILED` is logged. Plane-level
//! G0A names every invalid governed document already on the plane.

use std::path::{Path, PathBuf};

use cp_installer::{InstallOptions, Installer, pack_package, write_signature};
use cp_kernel::{
    GateCode, GateId, KeyPairFile, Plane, PlaneConfig, TrustedKey, event, run_gates, testkit::TempPlane,
    testkit::tree_hash,
};
use serde_json::{Value, json};

use crate::install::packages_ledger;

/// The seed of the test signing key.
const KEY_SEED: [u8; 32] = [42; 32];

fn key() -> KeyPairFile {
    KeyPairFile::from_seed(&KEY_SEED)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// A copy of the repository's package sources (packages, schemas, frameworks) to edit.
pub(crate) fn repo_copy(dir: &Path) -> PathBuf {
    let src = Path::new(cp_installer::BUILT_FROM);
    let repo = dir.join("repo");
    for d in ["packages", "schemas", "frameworks"] {
        copy_dir(&src.join(d), &repo.join(d));
    }
    repo
}

/// A plane that requires signatures and trusts the test key, with the bootstrap set installed
/// (trusted through the pinned digests).
pub(crate) fn bootstrapped() -> TempPlane {
    let k = key();
    let tp = TempPlane::with_config(PlaneConfig {
        trusted_keys: vec![TrustedKey {
            key_id: k.key_id.clone(),
            public_key: k.public_key.clone(),
            note: "test".into(),
        }],
        ..PlaneConfig::default()
    });
    let opts = InstallOptions { pinned: cp_installer::builtin_pins().unwrap(), ..InstallOptions::default() };
    Installer::new(&tp.plane)
        .install_bootstrap(Path::new(cp_installer::BUILT_FROM), &opts, &mut |_| {})
        .unwrap_or_else(|e| panic!("bootstrap: {e}"));
    tp
}

/// Bumps the patch version of package `id` in `repo`, packs and signs it with the test key.
pub(crate) fn pack_signed(repo: &Path, id: &str, version: &str, out: &Path) -> PathBuf {
    let mpath = repo.join("packages").join(id).join("manifest.json");
    let mut m: Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    m["version"] = json!(version);
    std::fs::write(&mpath, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let packed = pack_package(repo, id, out).unwrap_or_else(|e| panic!("pack {id}: {e}"));
    write_signature(&packed.path, &packed.manifest_sha256, &key()).unwrap();
    packed.path
}

fn edit(repo: &Path, rel: &str, f: impl FnOnce(String) -> String) {
    let p = repo.join(rel);
    let before = std::fs::read_to_string(&p).unwrap();
    let after = f(before.clone());
    assert_ne!(before, after, "the edit of {rel} changed nothing");
    std::fs::write(p, after).unwrap();
}

fn add_asset(repo: &Path, id: &str, rel: &str, content: &str, classification: &str) {
    let pkg = repo.join("packages").join(id);
    std::fs::create_dir_all(pkg.join(rel).parent().unwrap()).unwrap();
    std::fs::write(pkg.join(rel), content).unwrap();
    let mpath = pkg.join("manifest.json");
    let mut m: Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    m["assets"].as_array_mut().unwrap().push(json!({"path": rel, "classification": classification}));
    std::fs::write(&mpath, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}

struct Case {
    name: &'static str,
    package: &'static str,
    /// Makes the hostile change in the repository copy.
    hostile: fn(&Path),
    /// Plane path the refusal must name.
    path: &'static str,
    /// Text the refusal must contain (line:column, field path, expectation).
    says: &'static [&'static str],
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "attention template failing its schema",
            package: "PKG-ATTENTION-001",
            hostile: |r| {
                edit(r, "packages/PKG-ATTENTION-001/HOT/attention_templates/ATT-ADMIN-001.yaml", |t| {
                    t.replacen("max_rows: 50", "max_rows: fifty", 1)
                })
            },
            path: "HOT/attention_templates/ATT-ADMIN-001.yaml",
            says: &["HOT/attention_templates/ATT-ADMIN-001.yaml:18:17", "/pipeline/1/config/max_rows"],
        },
        Case {
            name: "layout failing the layout schema",
            package: "PKG-LAYOUT-001",
            hostile: |r| {
                edit(r, "packages/PKG-LAYOUT-001/HOT/config/layout.json", |t| {
                    t.replacen("\"backend\": \"sqlite\"", "\"backend\": \"oracle\"", 1)
                })
            },
            path: "HOT/config/layout.json",
            says: &["HOT/config/layout.json:35:16", "/ledger/backend"],
        },
        Case {
            name: "price book with an unknown key",
            package: "PKG-TOKEN-BUDGETER-001",
            hostile: |r| {
                edit(r, "packages/PKG-TOKEN-BUDGETER-001/HOT/config/price_book.yaml", |t| format!("surprise: 1\n{t}"))
            },
            path: "HOT/config/price_book.yaml",
            says: &["HOT/config/price_book.yaml:1:11", "surprise"],
        },
        Case {
            name: "prompt contract failing its schema",
            package: "PKG-PROMPT-ROUTER-001",
            hostile: |r| {
                edit(r, "packages/PKG-PROMPT-ROUTER-001/HOT/contracts/PRC-QUICKSTART-001.yaml", |t| {
                    t.lines().filter(|l| !l.starts_with("contract_id:")).map(|l| format!("{l}\n")).collect()
                })
            },
            path: "HOT/contracts/PRC-QUICKSTART-001.yaml",
            says: &["\"contract_id\" is a required property"],
        },
        Case {
            name: "a config no schema describes",
            package: "PKG-REG-001",
            hostile: |r| add_asset(r, "PKG-REG-001", "HOT/config/mystery.yaml", "a: 1\n", "config"),
            path: "HOT/config/mystery.yaml",
            says: &["no schema named \"mystery\""],
        },
        Case {
            name: "a schema that is not a valid JSON Schema",
            package: "PKG-REG-001",
            hostile: |r| edit(r, "schemas/registries.schema.json", |t| t.replacen("\"object\"", "\"objekt\"", 1)),
            path: "HOT/schemas/registries.schema.json",
            says: &["objekt"],
        },
        Case {
            name: "a schema the installed documents fail",
            package: "PKG-PHASE2-SCHEMAS-001",
            hostile: |r| {
                edit(r, "schemas/attention_template.schema.json", |t| {
                    let mut v: Value = serde_json::from_str(&t).unwrap();
                    v["required"].as_array_mut().unwrap().push(json!("owner"));
                    v["properties"]["owner"] = json!({"type": "string"});
                    serde_json::to_string_pretty(&v).unwrap()
                })
            },
            path: "HOT/attention_templates/ATT-ADMIN-001.yaml",
            says: &["\"owner\" is a required property", "under the schema this package ships"],
        },
        Case {
            name: "framework manifest with an unknown key",
            package: "PKG-ATTENTION-001",
            hostile: |r| {
                edit(r, "frameworks/FMWK-004_Attention/manifest.yaml", |t| {
                    format!("{t}path_authorisations: [\"**\"]\n")
                })
            },
            path: "HOT/FMWK-004_Attention/manifest.yaml",
            says: &["path_authorisations"],
        },
        Case {
            name: "spec pack in a directory that is not its id",
            package: "PKG-ATTENTION-001",
            hostile: |r| {
                edit(r, "frameworks/spec_packs/SPEC-ATTENTION-001/manifest.yaml", |t| {
                    t.replacen("spec_id: SPEC-ATTENTION-001", "spec_id: SPEC-ATTENTION-002", 1)
                })
            },
            path: "HOT/spec_packs/SPEC-ATTENTION-001/manifest.yaml",
            says: &["does not match id \"SPEC-ATTENTION-002\""],
        },
    ]
}

#[test]
fn hostile_documents_are_refused_before_anything_moves_also_under_dry_run() {
    let tp = bootstrapped();
    let inst = Installer::new(&tp.plane);
    let mut wrong = Vec::new();
    for (i, c) in cases().into_iter().enumerate() {
        let work = tp.dir.path().join(format!("case-{i}"));
        let repo = repo_copy(&work);
        (c.hostile)(&repo);
        let archive = pack_signed(&repo, c.package, "1.0.1", &work.join("store"));
        // --dry-run: the whole tree, ledgers included, is unchanged.
        let before = tree_hash(tp.plane.root(), &[]);
        let dry = InstallOptions { dry_run: true, ..InstallOptions::default() };
        let e = inst.install_archive(&archive, Some(c.package), &dry).expect_err(c.name);
        assert_eq!(e.code(), "G0A_DOCUMENT_INVALID", "{}: {e}", c.name);
        assert_eq!(tree_hash(tp.plane.root(), &[]), before, "{}: dry run changed the plane", c.name);
        // A real install: refused, the plane unchanged but for the one INSTALL_FAILED.
        let before = tree_hash(tp.plane.root(), &["HOT/ledger/packages"]);
        let n = packages_ledger(&tp).len();
        let e = inst.install_archive(&archive, Some(c.package), &InstallOptions::default()).expect_err(c.name);
        assert_eq!(e.code(), "G0A_DOCUMENT_INVALID", "{}: {e}", c.name);
        let cp_installer::InstallError::Gate { report, .. } = &e else { panic!("{}: not a gate refusal: {e}", c.name) };
        assert_eq!(report.gate, GateId::G0a, "{}", c.name);
        let issue = report.errors.iter().find(|i| i.path.as_deref() == Some(c.path)).unwrap_or_else(|| {
            panic!("{}: no issue names {}: {:#?}", c.name, c.path, report.errors);
        });
        assert_eq!(issue.code, GateCode::G0aDocumentInvalid);
        for s in c.says {
            if !issue.message.contains(s) {
                wrong.push(format!("{}: {s:?} not in {:?}", c.name, issue.message));
            }
        }
        assert!(!issue.message.contains(".staging"), "{}: names the staged file: {}", c.name, issue.message);
        assert_eq!(tree_hash(tp.plane.root(), &["HOT/ledger/packages"]), before, "{}: plane changed", c.name);
        let entries = packages_ledger(&tp);
        assert_eq!(entries.len(), n + 1, "{}", c.name);
        let last = entries.last().unwrap();
        assert_eq!(last.event_type, event::INSTALL_FAILED, "{}", c.name);
        assert_eq!(last.metadata["code"], json!("G0A_DOCUMENT_INVALID"), "{}", c.name);
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // The same upgrade with valid documents installs: the refusals were about the documents.
    let work = tp.dir.path().join("good");
    let repo = repo_copy(&work);
    let archive = pack_signed(&repo, "PKG-ATTENTION-001", "1.0.1", &work.join("store"));
    inst.install_archive(&archive, Some("PKG-ATTENTION-001"), &InstallOptions::default()).unwrap();
    let reports = run_gates(&Plane::open(tp.plane.root()).unwrap(), &[]).unwrap();
    assert!(reports.iter().all(|r| r.passed()), "{reports:#?}");
}

#[test]
fn plane_gates_name_every_invalid_governed_document_on_the_plane() {
    let tp = bootstrapped();
    let g0a = || run_gates(&tp.plane, &[GateId::G0a]).unwrap().remove(0);
    assert!(g0a().passed(), "{:#?}", g0a());
    let root = tp.plane.root();
    let tamper = |rel: &str, f: &dyn Fn(String) -> String| {
        let p = root.join(rel);
        std::fs::write(&p, f(std::fs::read_to_string(&p).unwrap())).unwrap();
    };
    tamper("HOT/attention_templates/ATT-KERNEL-001.yaml", &|t| format!("{t}unexpected: true\n"));
    tamper("HOT/config/router_config.yaml", &|t| format!("{t}unexpected: true\n"));
    tamper("HOT/FMWK-004_Attention/manifest.yaml", &|t| format!("{t}unexpected: true\n"));
    let r = g0a();
    assert!(!r.passed());
    let named: Vec<&str> =
        r.errors.iter().filter(|i| i.code == GateCode::G0aDocumentInvalid).filter_map(|i| i.path.as_deref()).collect();
    assert_eq!(
        named,
        [
            "HOT/FMWK-004_Attention/manifest.yaml",
            "HOT/attention_templates/ATT-KERNEL-001.yaml",
            "HOT/config/router_config.yaml"
        ]
    );
    assert!(r.errors.iter().all(|i| i.message.contains("unexpected")), "{r:#?}");
}
