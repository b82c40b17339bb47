//! Path-carrying wrappers over `std::fs`: every I/O error names the file it concerns.
//!
//! `clippy.toml` bans the bare `std::fs` functions so that no error loses its path.
#![allow(clippy::disallowed_methods)]

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// An I/O error together with the path and the operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} {}", path.display())]
pub struct FsError {
    /// What was being done (`read`, `write`, `create directory`, …).
    pub op: &'static str,
    /// The path concerned.
    pub path: PathBuf,
    /// The underlying error.
    #[source]
    pub source: io::Error,
}

impl FsError {
    /// Builds an error for `op` on `path`.
    pub fn new(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self { op, path: path.into(), source }
    }

    /// The kind of the underlying I/O error.
    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }
}

/// Why [`read_bounded`] refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BoundedReadError {
    /// Opening, inspecting or reading failed.
    #[error(transparent)]
    Io(#[from] FsError),
    /// The path is not a regular file (a FIFO, a device such as `/dev/zero`, a directory, a
    /// socket): refused before reading anything.
    #[error("{} is {what}, not a regular file; refused before reading", path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is (`a FIFO`, `a character device`, …).
        what: &'static str,
    },
    /// The file holds more than the limit.
    #[error("{}: {size} bytes exceed the limit of {limit} bytes", path.display())]
    TooLarge {
        /// The path.
        path: PathBuf,
        /// Its size (or the bytes read before stopping).
        size: u64,
        /// The limit.
        limit: u64,
    },
}

fn file_kind(t: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// Reads at most `limit` bytes of the regular file at `path` — the one reader for documents,
/// requests, contracts and templates. The file is opened with `O_NONBLOCK` (so opening a FIFO
/// never waits for a writer), its type is checked on the opened handle (a FIFO, `/dev/zero`,
/// `/dev/urandom` or a directory is refused before any byte is read), its size is checked
/// against `limit`, and the read itself stops after `limit + 1` bytes (a file growing while read
/// is refused too).
pub fn read_bounded(path: impl AsRef<Path>, limit: u64) -> std::result::Result<Vec<u8>, BoundedReadError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let p = path.as_ref();
    let file = ctx("open", p, fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(p))?;
    let meta = ctx("inspect", p, file.metadata())?;
    if !meta.file_type().is_file() {
        return Err(BoundedReadError::NotRegular { path: p.to_path_buf(), what: file_kind(meta.file_type()) });
    }
    if meta.len() > limit {
        return Err(BoundedReadError::TooLarge { path: p.to_path_buf(), size: meta.len(), limit });
    }
    let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    ctx("read", p, file.take(limit.saturating_add(1)).read_to_end(&mut buf))?;
    if buf.len() as u64 > limit {
        return Err(BoundedReadError::TooLarge { path: p.to_path_buf(), size: buf.len() as u64, limit });
    }
    Ok(buf)
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_bounded_string(path: impl AsRef<Path>, limit: u64) -> std::result::Result<String, BoundedReadError> {
    let p = path.as_ref();
    let bytes = read_bounded(p, limit)?;
    String::from_utf8(bytes)
        .map_err(|e| FsError::new("read", p, io::Error::new(io::ErrorKind::InvalidData, e.utf8_error())).into())
}

/// Result alias for this module.
pub type Result<T> = std::result::Result<T, FsError>;

fn ctx<T>(op: &'static str, path: &Path, r: io::Result<T>) -> Result<T> {
    r.map_err(|e| FsError::new(op, path, e))
}

/// Reads a whole file.
pub fn read(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let p = path.as_ref();
    ctx("read", p, fs::read(p))
}

/// Reads a whole file as UTF-8.
pub fn read_to_string(path: impl AsRef<Path>) -> Result<String> {
    let p = path.as_ref();
    ctx("read", p, fs::read_to_string(p))
}

/// Writes a whole file (not atomic; see [`write_atomic`]).
pub fn write(path: impl AsRef<Path>, data: impl AsRef<[u8]>) -> Result<()> {
    let p = path.as_ref();
    ctx("write", p, fs::write(p, data))
}

/// Writes a file atomically: a temporary sibling is written, fsynced and renamed over `path`,
/// then the parent directory is fsynced.
pub fn write_atomic(path: impl AsRef<Path>, data: impl AsRef<[u8]>) -> Result<()> {
    let p = path.as_ref();
    let parent = parent_dir(p);
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut f = ctx("create", &tmp, fs::File::create(&tmp))?;
        ctx("write", &tmp, f.write_all(data.as_ref()))?;
        ctx("sync", &tmp, f.sync_all())?;
    }
    ctx("rename", p, fs::rename(&tmp, p))?;
    sync_dir(parent)
}

/// The directory that holds `path`: its parent, or `.` for a bare file name (whose parent is
/// the empty path, which cannot be opened).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or_else(|| Path::new("."))
}

/// Fsyncs a directory so that a rename or create inside it is durable.
pub fn sync_dir(dir: impl AsRef<Path>) -> Result<()> {
    let d = dir.as_ref();
    let f = ctx("open directory", d, fs::File::open(d))?;
    ctx("sync directory", d, f.sync_all())
}

/// Creates a directory and all its parents.
pub fn create_dir_all(path: impl AsRef<Path>) -> Result<()> {
    let p = path.as_ref();
    ctx("create directory", p, fs::create_dir_all(p))
}

/// Removes a file.
pub fn remove_file(path: impl AsRef<Path>) -> Result<()> {
    let p = path.as_ref();
    ctx("remove", p, fs::remove_file(p))
}

/// Removes a directory tree.
pub fn remove_dir_all(path: impl AsRef<Path>) -> Result<()> {
    let p = path.as_ref();
    ctx("remove directory", p, fs::remove_dir_all(p))
}

/// Renames `from` to `to`.
pub fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> Result<()> {
    let (f, t) = (from.as_ref(), to.as_ref());
    ctx("rename", f, fs::rename(f, t))
}

/// Opens a file for reading.
pub fn open(path: impl AsRef<Path>) -> Result<fs::File> {
    let p = path.as_ref();
    ctx("open", p, fs::File::open(p))
}

/// Creates (truncates) a file for writing.
pub fn create(path: impl AsRef<Path>) -> Result<fs::File> {
    let p = path.as_ref();
    ctx("create", p, fs::File::create(p))
}

/// Opens a file with explicit options.
pub fn open_with(path: impl AsRef<Path>, opts: &fs::OpenOptions) -> Result<fs::File> {
    let p = path.as_ref();
    ctx("open", p, opts.open(p))
}

/// Metadata of a path, following symlinks.
pub fn metadata(path: impl AsRef<Path>) -> Result<fs::Metadata> {
    let p = path.as_ref();
    ctx("stat", p, fs::metadata(p))
}

/// Metadata of a path, not following symlinks.
pub fn symlink_metadata(path: impl AsRef<Path>) -> Result<fs::Metadata> {
    let p = path.as_ref();
    ctx("stat", p, fs::symlink_metadata(p))
}

/// Lists a directory, sorted by file name (so that every caller is deterministic).
pub fn read_dir(path: impl AsRef<Path>) -> Result<Vec<fs::DirEntry>> {
    let p = path.as_ref();
    let mut out = Vec::new();
    for e in ctx("list", p, fs::read_dir(p))? {
        out.push(ctx("list", p, e)?);
    }
    out.sort_by_key(|e| e.file_name());
    Ok(out)
}

/// Canonicalizes a path (resolves symlinks).
pub fn canonicalize(path: impl AsRef<Path>) -> Result<PathBuf> {
    let p = path.as_ref();
    ctx("resolve", p, fs::canonicalize(p))
}

/// Every regular file below `dir` (recursively, not following symlinks), sorted, as paths
/// relative to `dir` with `/` separators. Symlinks and other non-regular files are returned in
/// the second list so that callers can refuse them.
pub fn walk_files(dir: impl AsRef<Path>) -> Result<(Vec<String>, Vec<String>)> {
    fn go(base: &Path, rel: &str, files: &mut Vec<String>, odd: &mut Vec<String>) -> Result<()> {
        let here = if rel.is_empty() { base.to_path_buf() } else { base.join(rel) };
        for e in read_dir(&here)? {
            let name = e.file_name().to_string_lossy().into_owned();
            let r = if rel.is_empty() { name } else { format!("{rel}/{name}") };
            let ft = ctx("stat", &e.path(), e.file_type())?;
            if ft.is_dir() {
                go(base, &r, files, odd)?;
            } else if ft.is_file() {
                files.push(r);
            } else {
                odd.push(r);
            }
        }
        Ok(())
    }
    let (mut files, mut odd) = (Vec::new(), Vec::new());
    let d = dir.as_ref();
    if d.is_dir() {
        go(d, "", &mut files, &mut odd)?;
    }
    files.sort();
    odd.sort();
    Ok((files, odd))
}
