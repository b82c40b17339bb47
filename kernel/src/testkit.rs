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
