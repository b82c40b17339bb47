//! The governed data of the bootstrap set (`packages/`, `frameworks/`, `schemas/`) and the
//! framework module that reads it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use cp_kernel::{
    DocumentError, FrameworkError, FrameworkManifest, GovernancePolicy, PathAuthorizer, Plane, RegistriesConfig,
    SchemaSet, SpecPack, Term, Tier, VOCABULARY_PATH, Vocabulary, check_expected_specs, derive_registry_rows, event,
    load_frameworks, load_frameworks_in, load_spec_packs, load_spec_packs_in, path_authorized, sha256_prefixed,
    testkit, testkit::TempPlane,
};
use serde_json::Value;

/// The bootstrap set, as issue 5 names it.
const BOOTSTRAP: &[&str] = &[
    "PKG-GENESIS-000",
    "PKG-KERNEL-001",
    "PKG-VOCABULARY-001",
    "PKG-REG-001",
    "PKG-LAYOUT-001",
    "PKG-GOVERNANCE-UPGRADE-001",
    "PKG-FRAMEWORK-WIRING-001",
    "PKG-SPEC-CONFORMANCE-001",
    "PKG-PHASE2-SCHEMAS-001",
    "PKG-TOKEN-BUDGETER-001",
    "PKG-PROMPT-ROUTER-001",
    "PKG-ATTENTION-001",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn schemas() -> SchemaSet {
    SchemaSet::embedded().expect("embedded schemas")
}

#[derive(Debug, Clone)]
struct Pkg {
    id: String,
    layer: u64,
    framework_id: String,
    spec_id: String,
    deps: Vec<String>,
    assets: Vec<String>,
}

/// Every `packages/PKG-*/manifest.json`, schema-validated.
fn packages() -> BTreeMap<String, Pkg> {
    let s = schemas();
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(repo().join("packages")).expect("packages/") {
        let e = e.expect("entry");
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("PKG-") {
            continue;
        }
        let path = e.path().join("manifest.json");
        let v: Value = s.load_document("package_manifest", &path).unwrap_or_else(|e| panic!("{e}"));
        let pid = v["package_id"].as_str().expect("package_id").to_string();
        assert_eq!(pid, name, "{} names another package", path.display());
        let strs = |k: &str| -> Vec<String> {
            v[k].as_array()
                .expect(k)
                .iter()
                .map(|d| {
                    d.as_str().or_else(|| d["package_id"].as_str()).or_else(|| d["path"].as_str()).expect(k).to_string()
                })
                .collect()
        };
        for a in v["assets"].as_array().expect("assets") {
            assert!(a.get("sha256").is_none(), "{pid}: sources carry no sha256 (the packer fills them)");
        }
        out.insert(
            pid.clone(),
            Pkg {
                id: pid,
                layer: v["layer"].as_u64().expect("layer"),
                framework_id: v["framework_id"].as_str().expect("framework_id").to_string(),
                spec_id: v["spec_id"].as_str().expect("spec_id").to_string(),
                deps: strs("dependencies"),
                assets: strs("assets"),
            },
        );
    }
    out
}

/// Resolves a plane path of package `pkg` to its one repository file through
/// `packages/sources.json` (longest prefix wins), else `packages/PKG/<path>`.
fn resolve_source(pkg: &str, plane_path: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("packages/sources.json")).expect("sources.json");
    let v: Value = serde_json::from_str(&text).expect("sources.json is JSON");
    let mut best: Option<(&str, &str)> = None;
    for m in v["mappings"].as_array().expect("mappings") {
        let (p, s) = (m["prefix"].as_str().expect("prefix"), m["source"].as_str().expect("source"));
        if plane_path.starts_with(p) && best.is_none_or(|(bp, _)| p.len() > bp.len()) {
            best = Some((p, s));
        }
    }
    match best {
        Some((p, s)) => repo().join(format!("{s}{}", &plane_path[p.len()..])),
        None => repo().join("packages").join(pkg).join(plane_path),
    }
}

fn repo_frameworks() -> Vec<(String, FrameworkManifest)> {
    load_frameworks_in(&schemas(), &repo().join("frameworks"), "HOT").unwrap_or_else(|e| panic!("{e}"))
}

fn repo_specs() -> Vec<(String, SpecPack)> {
    load_spec_packs_in(&schemas(), &repo().join("frameworks/spec_packs"), "HOT/spec_packs")
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn bootstrap_set_is_the_twelve_packages() {
    let pk = packages();
    let ids: BTreeSet<&str> = pk.keys().map(String::as_str).collect();
    assert_eq!(ids, BOOTSTRAP.iter().copied().collect::<BTreeSet<_>>());
}

#[test]
fn every_framework_and_spec_pack_validates_and_is_complete() {
    let fws = repo_frameworks();
    let specs = repo_specs();
    let fw_ids: BTreeSet<&str> = fws.iter().map(|(_, f)| f.framework_id.as_str()).collect();
    assert_eq!(fw_ids, ["FMWK-000", "FMWK-001", "FMWK-002", "FMWK-003", "FMWK-004", "FMWK-007"].into());
    let spec_list: Vec<&SpecPack> = specs.iter().map(|(_, s)| s).collect();
    let mut expected_anywhere = BTreeSet::new();
    for (path, f) in &fws {
        let issues = check_expected_specs(f, spec_list.iter().copied());
        assert!(issues.is_empty(), "{path}: {issues:?}");
        expected_anywhere.extend(f.expected_specs.iter().cloned());
        // Standard documents exist beside the manifest.
        let dir = repo().join("frameworks").join(path.trim_start_matches("HOT/").trim_end_matches("/manifest.yaml"));
        for a in &f.assets {
            assert!(dir.join(a).is_file(), "{path}: asset {a} missing");
        }
        // Framework dependencies exist.
        for d in &f.dependencies {
            assert!(fw_ids.contains(d.as_str()), "{path}: unknown framework dependency {d}");
        }
    }
    for (path, s) in &specs {
        assert!(fw_ids.contains(s.framework_id.as_str()), "{path}: unknown framework {}", s.framework_id);
        assert!(expected_anywhere.contains(&s.spec_id), "{path}: no framework expects {}", s.spec_id);
        for d in &s.dependencies {
            assert!(specs.iter().any(|(_, o)| &o.spec_id == d), "{path}: unknown spec dependency {d}");
        }
    }
    assert_eq!(specs.len(), expected_anywhere.len());
}

#[test]
fn dependency_graph_is_acyclic_and_layers_are_monotone() {
    let pk = packages();
    // Kahn's algorithm: every package is reached.
    let mut indeg: BTreeMap<&str, usize> = pk.keys().map(|k| (k.as_str(), 0)).collect();
    for p in pk.values() {
        for d in &p.deps {
            let dep = pk.get(d).unwrap_or_else(|| panic!("{}: unknown dependency {d}", p.id));
            assert!(dep.layer <= p.layer, "{} (layer {}) depends on {d} (layer {})", p.id, p.layer, dep.layer);
            *indeg.get_mut(p.id.as_str()).expect("known") += 1;
        }
    }
    let mut ready: Vec<&str> = indeg.iter().filter(|(_, n)| **n == 0).map(|(k, _)| *k).collect();
    let mut order = Vec::new();
    while let Some(k) = ready.pop() {
        order.push(k);
        for p in pk.values().filter(|p| p.deps.iter().any(|d| d == k)) {
            let n = indeg.get_mut(p.id.as_str()).expect("known");
            *n -= 1;
            if *n == 0 {
                ready.push(p.id.as_str());
            }
        }
    }
    assert_eq!(
        order.len(),
        pk.len(),
        "dependency cycle among {:?}",
        indeg.iter().filter(|(_, n)| **n > 0).collect::<Vec<_>>()
    );
    assert_eq!(order[0], "PKG-GENESIS-000");
}

fn closure<'a>(pk: &'a BTreeMap<String, Pkg>, id: &str) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![id];
    while let Some(k) = stack.pop() {
        let p = &pk[k];
        if seen.insert(p.id.as_str()) {
            stack.extend(p.deps.iter().map(String::as_str));
        }
    }
    seen
}

#[test]
fn every_asset_resolves_once_and_is_authorised_by_its_framework_only() {
    let pk = packages();
    let fws = repo_frameworks();
    let authorizers: Vec<(&str, PathAuthorizer)> =
        fws.iter().map(|(_, f)| (f.framework_id.as_str(), PathAuthorizer::new(f).expect("globs"))).collect();
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for p in pk.values() {
        for a in &p.assets {
            if let Some(other) = owner.insert(a, &p.id) {
                panic!("{a} is listed by {other} and {}", p.id);
            }
            let src = resolve_source(&p.id, a);
            assert!(src.is_file(), "{}: {a} resolves to {} which does not exist", p.id, src.display());
            let by: Vec<&str> = authorizers.iter().filter(|(_, z)| z.is_authorized(a)).map(|(id, _)| *id).collect();
            assert_eq!(by, vec![p.framework_id.as_str()], "{}: {a} must be authorised by exactly its framework", p.id);
        }
    }
}

#[test]
fn every_package_finds_its_framework_and_spec_when_it_installs() {
    // What G1 needs: the framework and spec a package names are shipped by the package itself
    // (self-registration) or by its dependency closure — unless it installs under genesis.
    let pk = packages();
    let policy = GovernancePolicy::load(
        &schemas(),
        &repo().join("packages/PKG-GOVERNANCE-UPGRADE-001/HOT/config/governance_policy.yaml"),
    )
    .expect("policy");
    let specs = repo_specs();
    let fws = repo_frameworks();
    let ships = |pid: &str, plane_path: &str| pk[pid].assets.iter().any(|a| a == plane_path);
    for p in pk.values() {
        let spec =
            specs.iter().find(|(_, s)| s.spec_id == p.spec_id).unwrap_or_else(|| panic!("{}: no {}", p.id, p.spec_id));
        assert_eq!(spec.1.framework_id, p.framework_id, "{}: {} belongs to another framework", p.id, p.spec_id);
        let fw = fws.iter().find(|(_, f)| f.framework_id == p.framework_id).expect("framework");
        let genesis = policy.genesis.layers.contains(&(p.layer as u32));
        let cl = closure(&pk, &p.id);
        let avail = |path: &str| cl.iter().any(|q| ships(q, path));
        if !genesis {
            assert!(avail(&fw.0), "{}: {} ({}) not shipped by it or its dependencies", p.id, p.framework_id, fw.0);
            assert!(avail(&spec.0), "{}: {} not shipped by it or its dependencies", p.id, p.spec_id);
            for d in &fw.1.dependencies {
                let dp = &fws.iter().find(|(_, f)| &f.framework_id == d).expect("dep").0;
                assert!(avail(dp), "{}: framework dependency {d} not installed before it", p.id);
            }
            for e in &fw.1.expected_specs {
                let sp = format!("HOT/spec_packs/{e}/manifest.yaml");
                assert!(
                    avail(&sp),
                    "{}: expected spec {e} of {} missing at install (G1-COMPLETE)",
                    p.id,
                    p.framework_id
                );
            }
        }
    }
    // Every framework and spec pack of frameworks/ is shipped by exactly one package.
    let all_assets: Vec<&str> = pk.values().flat_map(|p| p.assets.iter().map(String::as_str)).collect();
    for (path, _) in
        fws.iter().map(|(p, f)| (p, f.framework_id.clone())).chain(specs.iter().map(|(p, s)| (p, s.spec_id.clone())))
    {
        assert_eq!(all_assets.iter().filter(|a| **a == path.as_str()).count(), 1, "{path}");
    }
}

#[test]
fn spec_assets_are_shipped_by_the_bootstrap_set() {
    let pk = packages();
    let shipped: BTreeSet<&str> = pk.values().flat_map(|p| p.assets.iter().map(String::as_str)).collect();
    for (path, s) in repo_specs() {
        for a in &s.assets {
            assert!(shipped.contains(a.as_str()), "{path}: asset {a} is shipped by no package");
        }
    }
}

#[test]
fn unknown_keys_are_rejected_with_their_location() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fw = dir.path().join("FMWK-000_Governance");
    std::fs::create_dir_all(&fw).expect("mkdir");
    let text = std::fs::read_to_string(repo().join("frameworks/FMWK-000_Governance/manifest.yaml")).expect("read");
    // An unknown top-level key.
    std::fs::write(fw.join("manifest.yaml"), format!("{text}owner: nobody\n")).expect("write");
    let err = load_frameworks_in(&schemas(), dir.path(), "HOT").expect_err("unknown key");
    match &err {
        FrameworkError::Document(DocumentError::Invalid { path, violations, .. }) => {
            assert!(path.ends_with("FMWK-000_Governance/manifest.yaml"), "{}", path.display());
            assert!(violations.iter().any(|v| v.message.contains("owner")), "{violations:?}");
        }
        other => panic!("expected an invalid document, got {other:?}"),
    }
    // An unknown key deep inside: the instance path points at it.
    let nested = text.replacen("  - level: MUST\n", "  - level: MUST\n    severity: high\n", 1);
    assert_ne!(nested, text);
    std::fs::write(fw.join("manifest.yaml"), nested).expect("write");
    match load_frameworks_in(&schemas(), dir.path(), "HOT").expect_err("nested key") {
        FrameworkError::Document(DocumentError::Invalid { violations, .. }) => {
            assert!(
                violations.iter().any(|v| v.instance_path == "/invariants/0" && v.message.contains("severity")),
                "{violations:?}"
            );
        }
        other => panic!("expected an invalid document, got {other:?}"),
    }
    // Same for spec packs.
    let sp = dir.path().join("SPEC-X-001");
    std::fs::create_dir_all(&sp).expect("mkdir");
    std::fs::write(
        sp.join("manifest.yaml"),
        "spec_id: SPEC-X-001\ntitle: x\nframework_id: FMWK-000\nstatus: active\nversion: 1.0.0\nassets: []\nacceptance:\n  tests: []\n  gates: [G1]\n",
    )
    .expect("write");
    match load_spec_packs_in(&schemas(), dir.path(), "HOT/spec_packs").expect_err("unknown key") {
        FrameworkError::Document(DocumentError::Invalid { violations, .. }) => {
            assert!(
                violations.iter().any(|v| v.instance_path == "/acceptance" && v.message.contains("gates")),
                "{violations:?}"
            );
        }
        other => panic!("expected an invalid document, got {other:?}"),
    }
}

#[test]
fn directory_names_must_match_ids() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fw = dir.path().join("FMWK-0001_Oops");
    std::fs::create_dir_all(&fw).expect("mkdir");
    std::fs::copy(repo().join("frameworks/FMWK-001_Provenance/manifest.yaml"), fw.join("manifest.yaml")).expect("copy");
    match load_frameworks_in(&schemas(), dir.path(), "HOT").expect_err("mismatch") {
        FrameworkError::DirectoryMismatch { dir_name, id, .. } => {
            assert_eq!((dir_name.as_str(), id.as_str()), ("FMWK-0001_Oops", "FMWK-001"))
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_dir_all(&fw).expect("rm");
    std::fs::create_dir_all(dir.path().join("FMWK-002_Empty")).expect("mkdir");
    assert!(matches!(load_frameworks_in(&schemas(), dir.path(), "HOT"), Err(FrameworkError::MissingManifest { .. })));
}

/// Copies the given plane paths (resolved through the sources) into the plane, as an install
/// would.
fn place(plane: &Plane, files: &[(&str, PathBuf)]) {
    for (rel, src) in files {
        let dst = plane.resolve(rel).expect("resolve");
        std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
        std::fs::copy(src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
    }
}

fn install_frameworks_of(plane: &Plane, pids: &[&str]) {
    let pk = packages();
    let mut files = Vec::new();
    for pid in pids {
        for a in &pk[*pid].assets {
            if a.starts_with("HOT/FMWK-") || a.starts_with("HOT/spec_packs/") {
                files.push((a.as_str(), resolve_source(pid, a)));
            }
        }
    }
    let files: Vec<(&str, PathBuf)> = files;
    place(plane, &files);
}

#[test]
fn registry_rows_are_derived_from_the_installed_manifests() {
    let tp = TempPlane::new();
    let empty = derive_registry_rows(&tp.plane).expect("rows");
    assert_eq!(empty, (vec![], vec![]));
    install_frameworks_of(&tp.plane, &["PKG-FRAMEWORK-WIRING-001", "PKG-ATTENTION-001", "PKG-PROMPT-ROUTER-001"]);
    let (f, s) = derive_registry_rows(&tp.plane).expect("rows");
    assert_eq!(derive_registry_rows(&tp.plane).expect("again"), (f.clone(), s.clone()), "deterministic");
    let loaded = load_frameworks(&tp.plane).expect("frameworks");
    assert_eq!(loaded.len(), 6);
    assert!(loaded.iter().all(|(p, _)| p.starts_with("HOT/FMWK-") && p.ends_with("/manifest.yaml")));
    let ids: Vec<&str> = f.iter().map(|r| r.framework_id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    // Each row carries its manifest's values, created_at included.
    for (_, m) in &loaded {
        let row = f.iter().find(|r| r.framework_id == m.framework_id).expect("row");
        assert_eq!((row.title.as_str(), row.version.as_str()), (m.title.as_str(), m.version.as_str()));
        assert_eq!(Some(row.created_at.clone()), m.created_at);
        assert_eq!(Some(row.plane_id.clone()), m.plane_id);
    }
    let packs = load_spec_packs(&tp.plane).expect("specs");
    assert_eq!(s.len(), packs.len());
    assert_eq!(s.len(), 13);
    for (_, sp) in &packs {
        let row = s.iter().find(|r| r.spec_id == sp.spec_id).expect("row");
        assert_eq!(row.framework_id, sp.framework_id);
    }
    // Only the wiring installed: FMWK-003/004 rows disappear, as after an uninstall.
    std::fs::remove_dir_all(tp.plane.tier_dir(Tier::Hot).join("FMWK-003_Prompt_Routing")).expect("rm");
    let (f2, _) = derive_registry_rows(&tp.plane).expect("rows");
    assert_eq!(f2.len(), 5);
    assert!(f2.iter().all(|r| r.framework_id != "FMWK-003"));
}

#[test]
fn installed_conformance_schema_is_what_validates_frameworks() {
    // PKG-SPEC-CONFORMANCE-001's framework.schema.json, once installed in HOT/schemas, is the
    // schema load_frameworks uses: a stricter installed copy refuses what the built-in accepts.
    let tp = TempPlane::new();
    install_frameworks_of(&tp.plane, &["PKG-ATTENTION-001"]);
    assert_eq!(load_frameworks(&tp.plane).expect("ok").len(), 1);
    let mut schema: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("schemas/framework.schema.json")).expect("read"))
            .expect("json");
    schema["properties"]["ring"] = serde_json::json!({ "enum": ["admin"] });
    let dst = tp.plane.resolve("HOT/schemas/framework.schema.json").expect("resolve");
    std::fs::create_dir_all(dst.parent().expect("parent")).expect("mkdir");
    std::fs::write(&dst, serde_json::to_string(&schema).expect("ser")).expect("write");
    match load_frameworks(&tp.plane).expect_err("stricter schema") {
        FrameworkError::Document(DocumentError::Invalid { violations, .. }) => {
            assert!(violations.iter().any(|v| v.instance_path == "/ring"), "{violations:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn governed_configs_load_from_the_plane_else_builtin() {
    let tp = TempPlane::new();
    let s = SchemaSet::for_plane(&tp.plane).expect("schemas");
    let v = Vocabulary::for_plane(&tp.plane, &s).expect("builtin vocabulary");
    assert!(v.contains(Term::AgentClass, "KERNEL.semantic"));
    let r = RegistriesConfig::for_plane(&tp.plane, &s).expect("builtin registries");
    let p = GovernancePolicy::for_plane(&tp.plane, &s).expect("builtin policy");
    assert!(p.self_registration);
    // Install a changed vocabulary: the plane's copy wins.
    let src = repo().join("packages/PKG-VOCABULARY-001/HOT/config/vocabulary.yaml");
    let changed = std::fs::read_to_string(&src).expect("read").replace("  - RESIDENT\n", "  - RESIDENT\n  - AUDITOR\n");
    let dst = tp.plane.resolve(VOCABULARY_PATH).expect("resolve");
    std::fs::write(&dst, changed).expect("write");
    let v2 = Vocabulary::for_plane(&tp.plane, &s).expect("installed vocabulary");
    assert!(v2.contains(Term::AgentClass, "AUDITOR") && !v.contains(Term::AgentClass, "AUDITOR"));
    // A broken installed file is refused with its path, never silently replaced by the default.
    std::fs::write(&dst, "schema_version: \"1.0\"\nagent_classes: [ADMIN]\n").expect("write");
    let err = Vocabulary::for_plane(&tp.plane, &s).expect_err("invalid");
    assert!(err.to_string().contains("vocabulary.yaml"), "{err}");
    // Registry headers: a file with the wrong header is named.
    let reg = tp.plane.dir(Tier::Hot, "registries");
    std::fs::create_dir_all(&reg).expect("mkdir");
    std::fs::write(reg.join("frameworks_registry.csv"), "framework_id,title,status,version,plane_id,created_at\n")
        .expect("w");
    std::fs::write(reg.join("specs_registry.csv"), "spec_id,title,status\n").expect("w");
    let issues = r.verify_headers(&tp.plane).expect("verify");
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].path, "HOT/registries/specs_registry.csv");
    assert_eq!(issues[0].found, ["spec_id", "title", "status"]);
}

#[test]
fn vocabulary_lists_every_event_type_the_kernel_writes() {
    let v = Vocabulary::load(&schemas(), &repo().join("packages/PKG-VOCABULARY-001/HOT/config/vocabulary.yaml"))
        .expect("load");
    for e in [
        event::PLANE_INITIALIZED,
        event::INSTALL_STARTED,
        event::INSTALLED,
        event::INSTALL_FAILED,
        event::UNINSTALLED,
        event::INSTALL_RECOVERED,
        event::POLICY_WAIVED,
        event::PROMPT_SENT,
        event::PROMPT_RECEIVED,
        event::PROMPT_REJECTED,
        event::PROMPT_FAILED,
        event::BUDGET_ALLOCATED,
        event::BUDGET_WARNING,
        event::BUDGET_RECOVERED,
        event::AUTH_TOKEN_ISSUED,
        event::AUTH_DEV_MODE,
        event::LEDGER_REPAIRED,
        event::CP2_IMPORTED,
        event::CHECKPOINT,
    ] {
        assert!(v.contains(Term::EventType, e), "{e} missing from vocabulary.yaml");
    }
    // Framework statuses, rings and invariant levels agree with the framework schema.
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("schemas/framework.schema.json")).expect("read"))
            .expect("json");
    let enum_of = |ptr: &str| -> Vec<String> {
        schema
            .pointer(ptr)
            .and_then(Value::as_array)
            .expect(ptr)
            .iter()
            .map(|x| x.as_str().expect("str").to_string())
            .collect()
    };
    assert_eq!(v.statuses, enum_of("/properties/status/enum"));
    assert_eq!(v.rings, enum_of("/properties/ring/enum"));
    assert_eq!(v.invariant_levels, enum_of("/$defs/invariant/properties/level/enum"));
}

#[test]
fn python_fixture_is_consistent_and_archived_python_style() {
    let dir = testkit::python_fixture_dir();
    let s = schemas();
    let m: Value = s.load_document("package_manifest", &dir.join("manifest.json")).expect("manifest 1.2");
    let classes: BTreeSet<&str> =
        m["assets"].as_array().expect("assets").iter().map(|a| a["classification"].as_str().expect("c")).collect();
    assert!(["library", "kernel", "test"].iter().all(|c| classes.contains(c)), "{classes:?}");
    // Hashes match, and the fixture's own framework authorises every asset (G1).
    let fws = load_frameworks_in(&s, &dir.join("HOT"), "HOT").expect("fixture framework");
    let specs = load_spec_packs_in(&s, &dir.join("HOT/spec_packs"), "HOT/spec_packs").expect("fixture spec");
    assert_eq!(fws.len(), 1);
    assert!(check_expected_specs(&fws[0].1, specs.iter().map(|(_, s)| s)).is_empty());
    for a in m["assets"].as_array().expect("assets") {
        let p = a["path"].as_str().expect("path");
        let bytes = std::fs::read(dir.join(p)).expect("asset");
        assert_eq!(a["sha256"].as_str(), Some(sha256_prefixed(&bytes).as_str()), "{p}");
        assert!(path_authorized(&fws[0].1, p), "{p} not authorised by FMWK-900");
    }
    assert!(path_authorized(&fws[0].1, "HOT/kernel/new_module.py"));
    assert!(!path_authorized(&fws[0].1, "HOT/kernel/sub/x.py"));
    // The archives: directory entries, non-zero mtimes, every file once, manifest at the root.
    let mut declared: Vec<String> =
        m["assets"].as_array().expect("a").iter().map(|a| a["path"].as_str().expect("p").to_string()).collect();
    declared.push("manifest.json".into());
    declared.sort();
    let gz = testkit::python_style_archive(&dir);
    assert_eq!(testkit::python_style_archive(&dir), gz, "same input, same bytes");
    let (dirs, files) = members(&gz);
    assert!(dirs.contains(&"HOT/".to_string()) && dirs.contains(&"HOT/kernel/".to_string()), "{dirs:?}");
    assert_eq!(files, declared);
    let (dot_dirs, dot_files) = members(&testkit::python_style_archive_dot_prefixed(&dir));
    assert!(dot_dirs.contains(&"./".to_string()) && dot_dirs.contains(&"./HOT/kernel/".to_string()), "{dot_dirs:?}");
    assert_eq!(dot_files, declared.iter().map(|f| format!("./{f}")).collect::<Vec<_>>());
}

/// Directory and file member names (raw, as stored) of a tar.gz, files sorted.
fn members(gz: &[u8]) -> (Vec<String>, Vec<String>) {
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(gz).read_to_end(&mut tar_bytes).expect("gunzip");
    let mut ar = tar::Archive::new(tar_bytes.as_slice());
    let (mut dirs, mut files) = (Vec::new(), Vec::new());
    for e in ar.entries().expect("entries") {
        let e = e.expect("entry");
        let h = e.header();
        assert!(h.mtime().expect("mtime") > 0);
        assert_eq!(h.uid().expect("uid"), 1000);
        let path = String::from_utf8(e.path_bytes().into_owned()).expect("utf-8 name");
        match h.entry_type() {
            tar::EntryType::Directory => dirs.push(path),
            tar::EntryType::Regular => files.push(path),
            t => panic!("unexpected entry type {t:?}"),
        }
    }
    files.sort();
    (dirs, files)
}

#[test]
fn package_manifest_schema_refuses_malformed_manifests() {
    let s = schemas();
    let base: Value = serde_json::from_str(
        &std::fs::read_to_string(testkit::python_fixture_dir().join("manifest.json")).expect("read"),
    )
    .expect("json");
    s.validate("package_manifest", &base).expect("the fixture is valid");
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Mutation)> = vec![
        ("/package_id", Box::new(|m| m["package_id"] = "pkg-lower".into())),
        ("/version", Box::new(|m| m["version"] = "1.0".into())),
        ("/schema_version", Box::new(|m| m["schema_version"] = "1.1".into())),
        ("/assets/0/sha256", Box::new(|m| m["assets"][0]["sha256"] = format!("sha256:{}", "A".repeat(64)).into())),
        ("/assets/0/path", Box::new(|m| m["assets"][0]["path"] = "HOT/kernel/../../etc/passwd".into())),
        ("/assets/0/path", Box::new(|m| m["assets"][0]["path"] = "/HOT/kernel/x.py".into())),
        ("/assets/0/path", Box::new(|m| m["assets"][0]["path"] = "HOT/./x.py".into())),
        ("/assets/0/path", Box::new(|m| m["assets"][0]["path"] = "etc/x.py".into())),
        ("/assets/0", Box::new(|m| m["assets"][0]["mode"] = "0755".into())),
        ("/dependencies/0", Box::new(|m| m["dependencies"] = serde_json::json!(["PKG-KERNEL-001 >= 1"]))),
        ("", Box::new(|m| m["owner"] = "x".into())),
        ("", Box::new(|m| m.as_object_mut().expect("object").remove("framework_id").map(drop).unwrap_or(()))),
    ];
    for (ptr, mutate) in cases {
        let mut m = base.clone();
        mutate(&mut m);
        match s.validate("package_manifest", &m) {
            Err(DocumentError::Invalid { violations, .. }) => {
                assert!(
                    violations.iter().any(|v| v.instance_path == ptr),
                    "expected a violation at {ptr:?}: {violations:?}"
                );
            }
            other => panic!("{ptr}: expected refusal, got {other:?}"),
        }
    }
    // Versioned dependencies in object form are accepted.
    let mut m = base.clone();
    m["dependencies"] = serde_json::json!([{ "package_id": "PKG-KERNEL-001", "version": ">=1.0.0" }]);
    s.validate("package_manifest", &m).expect("object dependency");
}
