//! Test support shared by the kernel, installer and end-to-end tests (feature `testkit`):
//! temporary planes and fixtures.

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
        let files: Vec<crate::package::archive::ArchiveFile> = self
            .files
            .iter()
            .map(|(p, d, _)| crate::package::archive::ArchiveFile {
                path: p.clone(),
                data: d.clone(),
                executable: false,
            })
            .collect();
        let out = dir.join(format!("{}-{}.tar.gz", self.id, self.version));
        crate::package::archive::write_archive(&out, manifest, &files).unwrap_or_else(|e| panic!("write archive: {e}"));
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

/// A plane that does not require signatures, with the fixture framework package installed.
pub fn plane_with_fixture_framework() -> TempPlane {
    let tp = TempPlane::with_config(PlaneConfig { require_signatures: false, ..PlaneConfig::default() });
    let store = tp.dir.path().join("fixture-store");
    let a = fixture_framework_package().write(&store);
    crate::package::Installer::new(&tp.plane)
        .install_archive(&a, Some(FIXTURE_FW_PACKAGE), &crate::package::InstallOptions::default())
        .unwrap_or_else(|e| panic!("install fixture framework: {e}"));
    tp
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
