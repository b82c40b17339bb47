//! Test support shared by the kernel, installer, CLI and end-to-end tests (feature `testkit`):
//! temporary planes, fixture packages (as archives) and tree comparisons. Support that needs
//! an install lives in the installer's `testkit` feature.

use crate::plane::{Plane, PlaneConfig};

/// A plane in a temporary directory, removed on drop.
pub struct TempPlane {
    /// The temporary directory (keep it alive).
    pub dir: tempfile::TempDir,
    /// The plane.
    pub plane: Plane,
}

impl TempPlane {
    /// A freshly initialised plane with the default config.
    pub fn new() -> Self {
        Self::with_config(PlaneConfig::default())
    }

    /// A freshly initialised plane with `config`.
    pub fn with_config(config: PlaneConfig) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let plane = Plane::init(&dir.path().join("plane"), config).unwrap_or_else(|e| panic!("init plane: {e}"));
        Self { dir, plane }
    }
}

impl Default for TempPlane {
    fn default() -> Self {
        Self::new()
    }
}

/// The Python-shaped fixture package (`kernel/tests/fixtures/python_pkg/`): a manifest 1.2 with
/// classifications `library` / `kernel` / `test` / `framework` / `spec`, Python files under
/// `HOT/kernel/` and `HOT/tests/`, and its own framework `FMWK-900` (authorising
/// `HOT/kernel/*.py`) and spec `SPEC-PYFIX-001`. Package id `PKG-PYFIX-001`, no dependencies.
pub fn python_fixture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python_pkg")
}

/// Modification time written into [`python_style_archive`] entries and its gzip header
/// (2026-02-10T00:00:00Z): non-zero, as Python's `tarfile` / GNU tar record real mtimes.
pub const PYTHON_ARCHIVE_MTIME: u64 = 1_770_681_600;

/// Builds a tar.gz of `dir` the way the Python system's packer did (unlike our deterministic
/// packer): an entry for every directory (`HOT/`, `HOT/kernel/`, …, mode 0755, names ending in
/// `/`) before its contents, regular files with mode 0644, a non-zero mtime
/// ([`PYTHON_ARCHIVE_MTIME`]), uid/gid 1000 with user and group names, ustar headers,
/// `manifest.json` at the root (after `HOT/`, in `ls` order), and a gzip header carrying the
/// mtime. Panics on I/O errors (test support).
pub fn python_style_archive(dir: &std::path::Path) -> Vec<u8> {
    python_archive(dir, "")
}

/// As [`python_style_archive`], but as `tar czf … -C dir .` writes it: a `./` entry for the
/// root and every member name prefixed with `./` (which readers tolerate).
pub fn python_style_archive_dot_prefixed(dir: &std::path::Path) -> Vec<u8> {
    python_archive(dir, "./")
}

fn python_archive(dir: &std::path::Path, prefix: &str) -> Vec<u8> {
    use flate2::{Compression, GzBuilder};

    // Writes the member name as given (the tar crate's path setters would drop `./` and the
    // trailing `/` of directories, which the Python archives have).
    fn append(builder: &mut tar::Builder<impl std::io::Write>, name: &str, kind: tar::EntryType, data: &[u8]) {
        let mut h = tar::Header::new_ustar();
        let field = &mut h.as_old_mut().name;
        assert!(name.len() < field.len(), "fixture name too long for a ustar header: {name}");
        field[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(kind);
        h.set_mode(if kind == tar::EntryType::Directory { 0o755 } else { 0o644 });
        h.set_size(data.len() as u64);
        h.set_mtime(PYTHON_ARCHIVE_MTIME);
        h.set_uid(1000);
        h.set_gid(1000);
        h.set_username("builder").unwrap_or_else(|e| panic!("username: {e}"));
        h.set_groupname("builder").unwrap_or_else(|e| panic!("groupname: {e}"));
        h.set_cksum();
        builder.append(&h, data).unwrap_or_else(|e| panic!("append {name}: {e}"));
    }

    fn walk(builder: &mut tar::Builder<impl std::io::Write>, base: &std::path::Path, rel: &str, prefix: &str) {
        let here = if rel.is_empty() { base.to_path_buf() } else { base.join(rel) };
        let entries = crate::fsx::read_dir(&here).unwrap_or_else(|e| panic!("{e}"));
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            let path = e.path();
            if path.is_dir() {
                append(builder, &format!("{prefix}{r}/"), tar::EntryType::Directory, &[]);
                walk(builder, base, &r, prefix);
            } else {
                let data = crate::fsx::read(&path).unwrap_or_else(|e| panic!("{e}"));
                append(builder, &format!("{prefix}{r}"), tar::EntryType::Regular, &data);
            }
        }
    }

    let gz = GzBuilder::new().mtime(PYTHON_ARCHIVE_MTIME as u32).write(Vec::new(), Compression::default());
    let mut builder = tar::Builder::new(gz);
    if !prefix.is_empty() {
        append(&mut builder, prefix, tar::EntryType::Directory, &[]);
    }
    walk(&mut builder, dir, "", prefix);
    let gz = builder.into_inner().unwrap_or_else(|e| panic!("finish tar: {e}"));
    gz.finish().unwrap_or_else(|e| panic!("finish gzip: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Package fixtures (packages work).

/// A package built in memory for tests: manifest fields and files, written as a deterministic
/// archive by [`FixturePackage::write`].
#[derive(Debug, Clone)]
pub struct FixturePackage {
    /// Package id.
    pub id: String,
    /// Version.
    pub version: String,
    /// Layer.
    pub layer: u32,
    /// Framework id.
    pub framework_id: String,
    /// Spec id.
    pub spec_id: String,
    /// Dependencies.
    pub deps: Vec<String>,
    /// Replaces.
    pub replaces: Vec<String>,
    /// Files: (path, content, classification).
    pub files: Vec<(String, Vec<u8>, String)>,
}

/// Framework id of the fixture framework.
pub const FIXTURE_FRAMEWORK: &str = "FMWK-900";
/// Spec id of the fixture spec pack.
pub const FIXTURE_SPEC: &str = "SPEC-T-001";
/// Id of the fixture package that ships the fixture framework and spec pack.
pub const FIXTURE_FW_PACKAGE: &str = "PKG-FW-001";

impl FixturePackage {
    /// A package under the fixture framework with no files.
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            version: "1.0.0".into(),
            layer: 1,
            framework_id: FIXTURE_FRAMEWORK.into(),
            spec_id: FIXTURE_SPEC.into(),
            deps: Vec::new(),
            replaces: Vec::new(),
            files: Vec::new(),
        }
    }

    /// Adds a file.
    pub fn file(mut self, path: &str, content: impl AsRef<[u8]>) -> Self {
        self.files.push((path.to_string(), content.as_ref().to_vec(), "config".into()));
        self
    }

    /// Adds a dependency.
    pub fn dep(mut self, id: &str) -> Self {
        self.deps.push(id.to_string());
        self
    }

    /// Sets the version.
    pub fn version(mut self, v: &str) -> Self {
        self.version = v.to_string();
        self
    }

    /// The manifest as a JSON value (hashes filled).
    pub fn manifest_value(&self) -> serde_json::Value {
        let assets: Vec<serde_json::Value> = self
            .files
            .iter()
            .map(|(p, d, c)| {
                serde_json::json!({"path": p, "sha256": crate::hashing::sha256_prefixed(d), "classification": c})
            })
            .collect();
        let mut v = serde_json::json!({
            "schema_version": "1.2",
            "package_id": self.id,
            "version": self.version,
            "title": format!("fixture {}", self.id),
            "description": "test fixture",
            "spec_id": self.spec_id,
            "framework_id": self.framework_id,
            "plane_id": "cp-plane",
            "layer": self.layer,
            "dependencies": self.deps,
            "assets": assets,
        });
        if !self.replaces.is_empty() {
            v["replaces"] = serde_json::json!(self.replaces);
        }
        v
    }

    /// Writes `<dir>/<id>-<version>.tar.gz` with `manifest` bytes (default: the real manifest).
    pub fn write_with_manifest(&self, dir: &std::path::Path, manifest: &[u8]) -> std::path::PathBuf {
        let files: Vec<crate::ArchiveFile> = self
            .files
            .iter()
            .map(|(p, d, _)| crate::ArchiveFile { path: p.clone(), data: d.clone(), executable: false })
            .collect();
        let out = dir.join(format!("{}-{}.tar.gz", self.id, self.version));
        crate::write_archive(&out, manifest, &files).unwrap_or_else(|e| panic!("write archive: {e}"));
        out
    }

    /// Writes the archive into `dir`.
    pub fn write(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let m = serde_json::to_vec_pretty(&self.manifest_value()).unwrap_or_default();
        self.write_with_manifest(dir, &m)
    }
}

/// The package shipping the fixture framework `FMWK-900` (path authorizations over `HOT/`,
/// `HO2/`, `HO1/`) and its spec pack `SPEC-T-001`.
pub fn fixture_framework_package() -> FixturePackage {
    let fw = format!(
        "framework_id: {FIXTURE_FRAMEWORK}\ntitle: Test Framework\nstatus: active\nversion: \"1.0.0\"\n\
         expected_specs:\n  - {FIXTURE_SPEC}\npath_authorizations:\n  - \"HOT/FMWK-9*/*\"\n  - \"HOT/spec_packs/SPEC-T-*/*\"\n\
         \x20 - \"HOT/schemas/*.json\"\n  - \"HOT/config/*.json\"\n  - \"HOT/kernel/**\"\n  - \"HOT/tests/**\"\n\
         \x20 - \"HOT/attention_templates/*\"\n  - \"HO2/contracts/*\"\n  - \"HO1/contracts/*\"\nrequired_gates: [G0, G1, G5]\n"
    );
    let spec = format!(
        "spec_id: {FIXTURE_SPEC}\ntitle: Test Spec\nframework_id: {FIXTURE_FRAMEWORK}\nstatus: active\nversion: \"1.0.0\"\nassets: []\n"
    );
    FixturePackage::new(FIXTURE_FW_PACKAGE)
        .file("HOT/FMWK-900_Test/manifest.yaml", fw)
        .file("HOT/spec_packs/SPEC-T-001/manifest.yaml", spec)
}

/// `sha256:` of every file below `root` (plane-relative, sorted), skipping paths that start
/// with any of `exclude`.
pub fn tree_hash(root: &std::path::Path, exclude: &[&str]) -> std::collections::BTreeMap<String, String> {
    let (files, odd) = crate::fsx::walk_files(root).unwrap_or_else(|e| panic!("walk: {e}"));
    files
        .into_iter()
        .chain(odd)
        .filter(|f| !exclude.iter().any(|x| f.starts_with(x)))
        .map(|f| {
            let h = crate::fsx::read(root.join(&f)).map(|b| crate::hashing::sha256_prefixed(&b)).unwrap_or_default();
            (f, h)
        })
        .collect()
}

/// Every directory below `root` (plane-relative, `/` separators, sorted), except those starting
/// with one of `exclude`: with [`tree_hash`], what "the plane is as it was" compares.
pub fn dir_set(root: &std::path::Path, exclude: &[&str]) -> std::collections::BTreeSet<String> {
    fn go(base: &std::path::Path, rel: &str, out: &mut std::collections::BTreeSet<String>) {
        let here = if rel.is_empty() { base.to_path_buf() } else { base.join(rel) };
        for e in crate::fsx::read_dir(&here).unwrap_or_else(|e| panic!("list: {e}")) {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let name = e.file_name().to_string_lossy().into_owned();
                let r = if rel.is_empty() { name } else { format!("{rel}/{name}") };
                out.insert(r.clone());
                go(base, &r, out);
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    go(root, "", &mut out);
    out.retain(|d| !exclude.iter().any(|x| d.starts_with(x)));
    out
}

// ---------------------------------------------------------------------------------------------
// Ledger checks shared by the kernel's and the CLI's ledger tests.

/// Checks a whole chain through `scan_raw`: no defect, dense positions from 0, every body
/// re-hashes to its stored `entry_hash`, every `previous_hash` links to the previous entry.
/// Returns the number of entries. (A stand-in for the ledger verifier, independent of it.)
/// Panics on the first violation (test support).
pub fn check_chain(store: &dyn crate::LedgerStore) -> u64 {
    let mut n = 0u64;
    let mut prev = crate::GENESIS_PREVIOUS_HASH.to_string();
    store
        .scan_raw(&mut |r| {
            assert!(r.defect.is_none(), "defect at {}: {:?}", r.position, r.defect);
            assert_eq!(r.position, n, "positions are dense");
            assert_eq!(crate::compute_entry_hash(r.body), r.entry_hash, "hash of body at {}", r.position);
            let v: serde_json::Value =
                serde_json::from_slice(r.body).unwrap_or_else(|e| panic!("body at {n} is not JSON: {e}"));
            assert_eq!(v["seq"], serde_json::json!(n), "seq at position {n}");
            assert_eq!(v["previous_hash"].as_str(), Some(prev.as_str()), "link at {n}");
            prev = r.entry_hash.to_string();
            n += 1;
            std::ops::ControlFlow::Continue(())
        })
        .unwrap_or_else(|e| panic!("scan: {e}"));
    n
}

/// For a JSONL ledger at `path` whose last line is torn: the torn line is reported as a defect
/// at the last position, appends are refused (naming `--truncate-torn-tail`), and the repair
/// removes only the torn bytes and logs `LEDGER_REPAIRED` with what it removed. Panics on the
/// first violation (test support).
pub fn assert_torn_then_repair(path: &std::path::Path) -> crate::RepairReport {
    use crate::{Durability, JsonlStore, LedgerStore, NewEntry};
    let s = JsonlStore::open(path, "HOT/test", Durability::Full).unwrap_or_else(|e| panic!("open: {e}"));
    let before = crate::fsx::read(path).unwrap_or_else(|e| panic!("{e}"));
    let good_len = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let n_good = before[..good_len].iter().filter(|&&b| b == b'\n').count() as u64;
    let mut last = None;
    s.scan_raw(&mut |r| {
        last = Some((r.position, r.defect.is_some()));
        std::ops::ControlFlow::Continue(())
    })
    .unwrap_or_else(|e| panic!("scan: {e}"));
    assert_eq!(last, Some((n_good, true)), "torn line reported as a defect at the last position");
    let e = s.append(NewEntry::new("X")).expect_err("append over a torn tail");
    assert!(e.to_string().contains("--truncate-torn-tail"), "{e}");
    let rep = s.repair_torn_tail().unwrap_or_else(|e| panic!("repair: {e}"));
    assert!(rep.repaired);
    assert_eq!(rep.offset, good_len as u64);
    assert_eq!(rep.removed_bytes, (before.len() - good_len) as u64);
    let after = crate::fsx::read(path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&after[..good_len], &before[..good_len], "complete lines untouched");
    let n = check_chain(&s);
    assert_eq!(n, n_good + 1);
    let last = s.get(n - 1).ok().flatten().unwrap_or_else(|| panic!("entry {}", n - 1));
    assert_eq!(last.event_type, "LEDGER_REPAIRED");
    assert_eq!(last.metadata["removed_bytes"], serde_json::json!(rep.removed_bytes));
    assert_eq!(last.metadata["offset"], serde_json::json!(rep.offset));
    let removed_sha = crate::sha256_hex(&before[good_len..]);
    assert_eq!(last.metadata["removed_sha256"], serde_json::json!(removed_sha));
    rep
}

// ---------------------------------------------------------------------------------------------
// Router fixtures shared by the kernel's router tests and the CLI's `cpctl route` tests.

/// The repository the kernel was built from (holds `packages/`).
pub const REPO_ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// A document shipped in the repository (`rel` from its root), parsed (YAML or JSON).
pub fn shipped_document(rel: &str) -> serde_json::Value {
    let path = std::path::Path::new(REPO_ROOT).join(rel);
    let text = crate::fsx::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    crate::parse_document(&path, &text).unwrap_or_else(|e| panic!("{e}"))
}

/// The shipped router config, budget config and price book edited for tests: no rate limits,
/// unlimited default allocations, a `backup` mock provider (priced like `mock`), 10 ms initial
/// backoff.
pub fn router_test_configs() -> (serde_json::Value, serde_json::Value, serde_json::Value) {
    use serde_json::json;
    let mut r = shipped_document("packages/PKG-PROMPT-ROUTER-001/HOT/config/router_config.yaml");
    r["providers"]["backup"] = r["providers"]["mock"].clone();
    r["retries"]["backoff_initial_ms"] = json!(10);
    let mut b = shipped_document("packages/PKG-TOKEN-BUDGETER-001/HOT/config/budget_config.yaml");
    b["rate_limits"] = json!([]);
    for k in ["tenant", "session", "work_order", "agent"] {
        b["defaults"][k] = json!({"max_tokens": null, "max_cost_micros": null, "warn_threshold_pct": 80});
    }
    let mut p = shipped_document("packages/PKG-TOKEN-BUDGETER-001/HOT/config/price_book.yaml");
    let mut backup = p["versions"][0]["prices"][0].clone();
    backup["provider"] = json!("backup");
    if let Some(prices) = p["versions"][0]["prices"].as_array_mut() {
        prices.push(backup);
    }
    (r, b, p)
}

/// Writes the router config, budget config and price book into the plane's `HOT/config/`
/// (JSON is YAML).
pub fn write_router_configs(
    tp: &TempPlane,
    router: &serde_json::Value,
    budget: &serde_json::Value,
    prices: &serde_json::Value,
) {
    let cfg = tp.plane.root().join("HOT/config");
    crate::fsx::create_dir_all(&cfg).unwrap_or_else(|e| panic!("{e}"));
    for (name, v) in [("router_config.yaml", router), ("budget_config.yaml", budget), ("price_book.yaml", prices)] {
        let bytes = serde_json::to_vec_pretty(v).unwrap_or_else(|e| panic!("{e}"));
        crate::fsx::write(cfg.join(name), bytes).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The auth secret of the router tests (32 known bytes).
pub fn test_secret() -> crate::AuthSecret {
    crate::AuthSecret::from_bytes(b"0123456789abcdef0123456789abcdef".to_vec(), 32, "test")
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A prompt contract `PRC-TEST-001`: input `{question}`, output `{answer}`, 100 tokens.
pub fn test_contract() -> crate::PromptContract {
    use serde_json::json;
    crate::PromptContract {
        contract_id: "PRC-TEST-001".into(),
        version: "1.0.0".into(),
        description: String::new(),
        prompt_template: "Context: {{context}}\nQuestion: {{input.question}}".into(),
        prompt_pack_id: None,
        input_schema: json!({"type": "object", "required": ["question"],
            "properties": {"question": {"type": "string", "minLength": 1}}, "additionalProperties": false}),
        output_schema: Some(
            json!({"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}}),
        ),
        boundary: crate::Boundary { max_tokens: 100, temperature: 0.2, model: None },
        required_context: crate::RequiredContext::default(),
    }
}

/// A file under the kernel's test fixtures (`kernel/tests/fixtures/<rel>`): Python-written
/// ledgers (`cp2/`), the golden attention plane (`attention/golden/`), the Python-shaped
/// package (`python_pkg/`).
pub fn fixture_path(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

#[cfg(feature = "postgres")]
pub mod pg;
/// A provider request, for tests of a provider on its own (outside the testkit only the
/// router's dispatch builds one: see [`crate::ProviderRequest`]).
pub fn provider_request(
    model: &str,
    prompt: &str,
    max_tokens: u64,
    temperature: f64,
    timeout_ms: u64,
) -> crate::ProviderRequest {
    crate::ProviderRequest::new(model.into(), prompt.into(), max_tokens, temperature, timeout_ms)
}
