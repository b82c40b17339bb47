//! Package archives: the deterministic writer and the strict reader.
//!
//! Format: gzip (header mtime 0, no file name) of a ustar/GNU tar stream whose entries are
//! sorted by path, `manifest.json` first at the archive root, mtime 0, uid/gid 0, empty user
//! and group names, mode 0644 (0755 for executables), no directory entries.
//!
//! The reader takes entries one at a time and never calls `tar::Archive::unpack`: regular
//! files and directories only, plain relative components (a leading `./` tolerated), caps on
//! member size, total size, member count and compression ratio, duplicate and case-fold
//! colliding paths refused, and the header size checked against the (PAX) size and the bytes
//! actually read. Files are streamed into a staging directory (or only hashed).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use super::config::ArchiveCaps;
use super::tar_ext::{Pending, absorb};
use crate::fsx::{self, FsError};

/// Name of the manifest at the archive root.
pub const MANIFEST_NAME: &str = "manifest.json";

/// Why an archive was refused by the strict reader.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// A member path is absolute, has `..`/empty components, or is not UTF-8.
    #[error("archive member {path:?}: unsafe path: {why}")]
    PathUnsafe {
        /// The member path as stored.
        path: String,
        /// Why.
        why: String,
    },
    /// A symlink or hard link.
    #[error("archive member {path:?} is a link")]
    Link {
        /// Member path.
        path: String,
    },
    /// A device, FIFO or other special entry.
    #[error("archive member {path:?} is a special file ({kind})")]
    SpecialFile {
        /// Member path.
        path: String,
        /// Entry type.
        kind: String,
    },
    /// The same path twice.
    #[error("archive member {path:?} appears twice")]
    Duplicate {
        /// Member path.
        path: String,
    },
    /// Two paths equal ignoring case.
    #[error("archive members {path:?} and {other:?} collide on a case-insensitive filesystem")]
    CaseCollision {
        /// Member path.
        path: String,
        /// The earlier member.
        other: String,
    },
    /// A member over the size cap.
    #[error("archive member {path:?} is {size} bytes, over the cap of {cap}")]
    MemberTooLarge {
        /// Member path.
        path: String,
        /// Declared size.
        size: u64,
        /// Cap.
        cap: u64,
    },
    /// More members than allowed.
    #[error("archive has more than {cap} members")]
    TooManyMembers {
        /// Cap.
        cap: u64,
    },
    /// Decompressed stream larger than allowed.
    #[error("archive decompresses to more than {cap} bytes")]
    TotalTooLarge {
        /// Cap.
        cap: u64,
    },
    /// Compression ratio over the cap (gzip bomb).
    #[error("archive compression ratio exceeds {cap} ({decompressed} bytes from {compressed})")]
    RatioExceeded {
        /// Cap.
        cap: u64,
        /// Decompressed bytes so far.
        decompressed: u64,
        /// Compressed bytes so far.
        compressed: u64,
    },
    /// Header size, PAX size and bytes present disagree.
    #[error("archive member {path:?}: header says {header} bytes, but {actual} were found")]
    SizeMismatch {
        /// Member path.
        path: String,
        /// Size in the ustar header.
        header: u64,
        /// Size in effect (PAX) or bytes read.
        actual: u64,
    },
    /// A tar extension record (GNU long name, PAX header) over the cap; refused before it is
    /// read.
    #[error("archive has a {kind} record of {size} bytes, over the cap of {cap}")]
    HeaderTooLarge {
        /// Which record.
        kind: &'static str,
        /// Its declared size.
        size: u64,
        /// Cap (`max_header_record_bytes`).
        cap: u64,
    },
    /// Not a readable tar.gz.
    #[error("archive {} is corrupt: {message}", path.display())]
    Corrupt {
        /// The archive.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Filesystem error while staging.
    #[error(transparent)]
    Io(#[from] FsError),
}

impl ArchiveError {
    /// The stable refusal code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::PathUnsafe { .. } => "ARCHIVE_PATH_UNSAFE",
            Self::Link { .. } => "ARCHIVE_LINK",
            Self::SpecialFile { .. } => "ARCHIVE_SPECIAL_FILE",
            Self::Duplicate { .. } => "ARCHIVE_DUPLICATE",
            Self::CaseCollision { .. } => "ARCHIVE_CASE_COLLISION",
            Self::MemberTooLarge { .. } => "ARCHIVE_MEMBER_TOO_LARGE",
            Self::TooManyMembers { .. } => "ARCHIVE_TOO_MANY_MEMBERS",
            Self::TotalTooLarge { .. } => "ARCHIVE_TOTAL_TOO_LARGE",
            Self::RatioExceeded { .. } => "ARCHIVE_RATIO_EXCEEDED",
            Self::SizeMismatch { .. } => "ARCHIVE_SIZE_MISMATCH",
            Self::HeaderTooLarge { .. } => "ARCHIVE_HEADER_TOO_LARGE",
            Self::Corrupt { .. } => "ARCHIVE_CORRUPT",
            Self::Io(_) => "IO",
        }
    }
}

/// One file read from an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadFile {
    /// Normalised member path (`HOT/schemas/x.json`).
    pub path: String,
    /// `sha256:` + hex of the bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Whether any execute bit was set.
    pub executable: bool,
}

/// The content of an archive as read by the strict reader.
#[derive(Debug, Clone)]
pub struct ReadArchive {
    /// The archive file.
    pub path: PathBuf,
    /// The bytes of `manifest.json`, when present.
    pub manifest_bytes: Option<Vec<u8>>,
    /// Every other regular file, by normalised path.
    pub files: BTreeMap<String, ReadFile>,
    /// Where files were staged (`None` when only hashed).
    pub staged_in: Option<PathBuf>,
}

struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Enforces the total and ratio caps on the decompressed stream.
struct CapReader<R> {
    inner: R,
    out: u64,
    compressed: Arc<AtomicU64>,
    caps: ArchiveCaps,
    tripped: Option<ArchiveErrorKind>,
}

#[derive(Debug, Clone, Copy)]
enum ArchiveErrorKind {
    Total,
    Ratio { decompressed: u64, compressed: u64 },
}

impl<R: Read> Read for CapReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        if self.out > self.caps.max_total_bytes {
            self.tripped = Some(ArchiveErrorKind::Total);
            return Err(io::Error::other("total cap"));
        }
        let compressed = self.compressed.load(Ordering::Relaxed).max(1);
        if self.out >= self.caps.ratio_check_min_bytes && self.out / compressed > self.caps.max_compression_ratio {
            self.tripped = Some(ArchiveErrorKind::Ratio { decompressed: self.out, compressed });
            return Err(io::Error::other("ratio cap"));
        }
        Ok(n)
    }
}

/// Normalises a member path: UTF-8, no absolute path, no `..`, `.` or empty components, no
/// backslash or NUL; a leading `./` and a trailing `/` (directories) are dropped. Returns
/// `None` for the archive root itself (`./`).
pub(crate) fn normalize_member(raw: &[u8]) -> Result<Option<String>, ArchiveError> {
    let s = std::str::from_utf8(raw).map_err(|_| ArchiveError::PathUnsafe {
        path: String::from_utf8_lossy(raw).into_owned(),
        why: "not UTF-8".into(),
    })?;
    let bad = |why: &str| ArchiveError::PathUnsafe { path: s.to_string(), why: why.to_string() };
    if s.starts_with('/') {
        return Err(bad("absolute path"));
    }
    if s.contains('\\') || s.contains('\0') {
        return Err(bad("backslash or NUL"));
    }
    if s.chars().any(char::is_control) {
        return Err(bad("control character"));
    }
    let mut rest = s;
    while let Some(r) = rest.strip_prefix("./") {
        rest = r;
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest == "." {
        return Ok(None);
    }
    let mut parts = Vec::new();
    for seg in rest.split('/') {
        match seg {
            "" => return Err(bad("empty component")),
            "." => return Err(bad("'.' component")),
            ".." => return Err(bad("'..' component")),
            x => parts.push(x),
        }
    }
    Ok(Some(parts.join("/")))
}

/// How many assets a manifest declares (`None` when it is not readable JSON: G0A says why).
fn declared_assets(manifest: &[u8]) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_slice(manifest).ok()?;
    v.get("assets")?.as_array().map(|a| a.len() as u64)
}

/// Reads `archive` strictly. With `stage = Some(dir)` every regular file (except
/// `manifest.json`) is written below `dir` (which must not exist yet or be empty); with `None`
/// files are only hashed.
pub fn read_archive(archive: &Path, caps: &ArchiveCaps, stage: Option<&Path>) -> Result<ReadArchive, ArchiveError> {
    read_archive_with(archive, caps, stage, true)
}

/// [`read_archive`], fsyncing staged files only when `sync` (durability `full`).
pub fn read_archive_with(
    archive: &Path,
    caps: &ArchiveCaps,
    stage: Option<&Path>,
    sync: bool,
) -> Result<ReadArchive, ArchiveError> {
    let file = fsx::open(archive)?;
    let compressed = Arc::new(AtomicU64::new(0));
    let counting = CountingReader { inner: io::BufReader::new(file), count: compressed.clone() };
    let gz = flate2::read::GzDecoder::new(counting);
    let capped = CapReader { inner: gz, out: 0, compressed, caps: *caps, tripped: None };
    let mut tar = tar::Archive::new(capped);
    let corrupt = |m: String| ArchiveError::Corrupt { path: archive.to_path_buf(), message: m };

    let mut out = ReadArchive {
        path: archive.to_path_buf(),
        manifest_bytes: None,
        files: BTreeMap::new(),
        staged_in: stage.map(Path::to_path_buf),
    };
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut folded: BTreeMap<String, String> = BTreeMap::new();
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    let mut members = 0u64;

    let result = (|| -> Result<(), ArchiveError> {
        // Raw: extension records come as entries of their own, capped before they are read.
        let entries = tar.entries().map_err(|e| corrupt(e.to_string()))?.raw(true);
        let mut pending = Pending::default();
        for entry in entries {
            let mut entry = entry.map_err(|e| corrupt(e.to_string()))?;
            if absorb(&mut entry, caps.max_header_record_bytes, &mut pending, corrupt)? {
                continue;
            }
            members += 1;
            if members > caps.max_members {
                return Err(ArchiveError::TooManyMembers { cap: caps.max_members });
            }
            let raw = pending.name.take().unwrap_or_else(|| entry.path_bytes().into_owned());
            let shown = String::from_utf8_lossy(&raw).into_owned();
            let kind = entry.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                return Err(ArchiveError::Link { path: shown });
            }
            let is_dir = kind.is_dir();
            if !(is_dir || kind.is_file() || kind == tar::EntryType::Continuous) {
                return Err(ArchiveError::SpecialFile { path: shown, kind: format!("{kind:?}") });
            }
            let Some(path) = normalize_member(&raw)? else {
                if is_dir {
                    continue;
                }
                return Err(ArchiveError::PathUnsafe { path: shown, why: "empty path".into() });
            };
            if !seen.insert(path.clone()) {
                return Err(ArchiveError::Duplicate { path });
            }
            let low = path.to_lowercase();
            if let Some(other) = folded.get(&low) {
                return Err(ArchiveError::CaseCollision { path, other: other.clone() });
            }
            folded.insert(low, path.clone());
            if is_dir {
                dirs.insert(path);
                continue;
            }
            let header_size = entry.header().entry_size().map_err(|e| corrupt(e.to_string()))?;
            let size = pending.size.take().unwrap_or(header_size);
            if header_size != size {
                return Err(ArchiveError::SizeMismatch { path, header: header_size, actual: size });
            }
            if size > caps.max_member_bytes {
                return Err(ArchiveError::MemberTooLarge { path, size, cap: caps.max_member_bytes });
            }
            let executable = entry.header().mode().map(|m| m & 0o111 != 0).unwrap_or(false);
            if path == MANIFEST_NAME {
                let mut buf = Vec::with_capacity(size as usize);
                let n = (&mut entry).take(size).read_to_end(&mut buf).map_err(|e| corrupt(e.to_string()))?;
                if n as u64 != size {
                    return Err(ArchiveError::SizeMismatch { path, header: size, actual: n as u64 });
                }
                // The counts the manifest declares are checked before any other file is staged.
                if declared_assets(&buf).is_some_and(|n| n.saturating_add(1) > caps.max_members) {
                    return Err(ArchiveError::TooManyMembers { cap: caps.max_members });
                }
                out.manifest_bytes = Some(buf);
                continue;
            }
            let mut hasher = Sha256::new();
            let mut sink: Option<(std::fs::File, PathBuf)> = match stage {
                Some(dir) => {
                    let dest = dir.join(&path);
                    if let Some(p) = dest.parent() {
                        fsx::create_dir_all(p)?;
                    }
                    let mut o = std::fs::OpenOptions::new();
                    o.write(true).create_new(true);
                    Some((fsx::open_with(&dest, &o)?, dest))
                }
                None => None,
            };
            let mut buf = [0u8; 64 * 1024];
            let mut got = 0u64;
            loop {
                let want = ((size - got) as usize).min(buf.len());
                if want == 0 {
                    break;
                }
                let n = entry.read(&mut buf[..want]).map_err(|e| corrupt(e.to_string()))?;
                if n == 0 {
                    break;
                }
                got += n as u64;
                hasher.update(&buf[..n]);
                if let Some((f, dest)) = sink.as_mut() {
                    f.write_all(&buf[..n]).map_err(|e| FsError::new("write", dest.clone(), e))?;
                }
            }
            if got != size {
                return Err(ArchiveError::SizeMismatch { path, header: size, actual: got });
            }
            if let Some((f, dest)) = sink.filter(|_| sync) {
                f.sync_all().map_err(|e| FsError::new("sync", dest, e))?;
            }
            let sha256 = format!("sha256:{}", const_hex::encode(hasher.finalize()));
            out.files.insert(path.clone(), ReadFile { path, sha256, size, executable });
        }
        // A directory entry that is also a file path prefix is fine; a file whose path is a
        // declared directory is a collision.
        for d in &dirs {
            if out.files.contains_key(d) {
                return Err(ArchiveError::Duplicate { path: d.clone() });
            }
        }
        Ok(())
    })();
    let tripped = tar.into_inner().tripped;
    match (result, tripped) {
        (_, Some(ArchiveErrorKind::Total)) => Err(ArchiveError::TotalTooLarge { cap: caps.max_total_bytes }),
        (_, Some(ArchiveErrorKind::Ratio { decompressed, compressed })) => {
            Err(ArchiveError::RatioExceeded { cap: caps.max_compression_ratio, decompressed, compressed })
        }
        (Err(e), None) => Err(e),
        (Ok(()), None) => Ok(out),
    }
}

/// A file to put into an archive.
#[derive(Debug, Clone)]
pub struct ArchiveFile {
    /// Member path.
    pub path: String,
    /// Content.
    pub data: Vec<u8>,
    /// Written with mode 0755 instead of 0644.
    pub executable: bool,
}

/// Writes a deterministic archive: `manifest.json` first, then `files` sorted by path.
pub fn write_archive(out: &Path, manifest: &[u8], files: &[ArchiveFile]) -> Result<(), FsError> {
    let bytes = archive_bytes(manifest, files).map_err(|e| FsError::new("build archive", out, e))?;
    if let Some(dir) = out.parent() {
        fsx::create_dir_all(dir)?;
    }
    fsx::write_atomic(out, bytes)
}

/// The bytes of a deterministic archive (see [`write_archive`]).
pub(crate) fn archive_bytes(manifest: &[u8], files: &[ArchiveFile]) -> io::Result<Vec<u8>> {
    let mut sorted: Vec<&ArchiveFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.cmp(&b.path));
    let gz = flate2::GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::best());
    let mut b = tar::Builder::new(gz);
    b.mode(tar::HeaderMode::Deterministic);
    let mut put = |path: &str, data: &[u8], exec: bool| -> io::Result<()> {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(data.len() as u64);
        h.set_mode(if exec { 0o755 } else { 0o644 });
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        let _ = h.set_username("");
        let _ = h.set_groupname("");
        b.append_data(&mut h, path, data)
    };
    put(MANIFEST_NAME, manifest, false)?;
    for f in sorted {
        put(&f.path, &f.data, f.executable)?;
    }
    let gz = b.into_inner()?;
    gz.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn caps() -> ArchiveCaps {
        ArchiveCaps {
            max_member_bytes: 1 << 20,
            max_total_bytes: 1 << 22,
            max_members: 100,
            max_compression_ratio: 100,
            ratio_check_min_bytes: 1 << 20,
            max_header_record_bytes: 4096,
        }
    }

    #[test]
    fn member_paths() {
        assert_eq!(normalize_member(b"./HOT/x").unwrap().as_deref(), Some("HOT/x"));
        assert_eq!(normalize_member(b"HOT/dir/").unwrap().as_deref(), Some("HOT/dir"));
        assert_eq!(normalize_member(b"./").unwrap(), None);
        for bad in [&b"../x"[..], b"/etc/passwd", b"HOT//x", b"HOT/./x", b"a\\b", b"HOT/\xff"] {
            assert!(normalize_member(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn deterministic_roundtrip() {
        let d = tempfile::tempdir().unwrap();
        let files = vec![
            ArchiveFile { path: "HOT/b.json".into(), data: b"b".to_vec(), executable: false },
            ArchiveFile { path: "HOT/a.sh".into(), data: b"a".to_vec(), executable: true },
        ];
        let one = archive_bytes(b"{}", &files).unwrap();
        let rev: Vec<ArchiveFile> = files.iter().rev().cloned().collect();
        assert_eq!(one, archive_bytes(b"{}", &rev).unwrap(), "input order must not matter");
        let p = d.path().join("x.tar.gz");
        crate::fsx::write(&p, &one).unwrap();
        let r = read_archive(&p, &caps(), Some(&d.path().join("stage"))).unwrap();
        assert_eq!(r.manifest_bytes.as_deref(), Some(&b"{}"[..]));
        assert!(r.files["HOT/a.sh"].executable && !r.files["HOT/b.json"].executable);
        assert_eq!(crate::fsx::read(d.path().join("stage/HOT/b.json")).unwrap(), b"b");
    }

    proptest! {
        #[test]
        fn normalized_members_never_escape(s in "[a-zA-Z./\\\\]{0,24}") {
            if let Ok(Some(p)) = normalize_member(s.as_bytes()) {
                prop_assert!(!p.starts_with('/'));
                prop_assert!(p.split('/').all(|c| !c.is_empty() && c != "." && c != ".."));
            }
        }

        #[test]
        fn arbitrary_bytes_are_refused_not_panicked(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let d = tempfile::tempdir().unwrap();
            let p = d.path().join("junk.tar.gz");
            crate::fsx::write(&p, &bytes).unwrap();
            let _ = read_archive(&p, &caps(), None);
        }
    }

    #[test]
    fn declared_member_count_is_checked_before_anything_is_staged() {
        let d = tempfile::tempdir().unwrap();
        let assets: Vec<serde_json::Value> =
            (0..150).map(|i| serde_json::json!({"path": format!("HOT/x{i}"), "sha256": "sha256:0"})).collect();
        let manifest = serde_json::to_vec(&serde_json::json!({"assets": assets})).unwrap();
        let files = [ArchiveFile { path: "HOT/x0".into(), data: b"x".to_vec(), executable: false }];
        let a = d.path().join("a.tar.gz");
        write_archive(&a, &manifest, &files).unwrap();
        let stage = d.path().join("stage");
        let e = read_archive(&a, &caps(), Some(&stage)).unwrap_err();
        assert_eq!(e.code(), "ARCHIVE_TOO_MANY_MEMBERS");
        assert!(!stage.join("HOT/x0").exists(), "a file was staged before the declared count was checked");
    }
}
