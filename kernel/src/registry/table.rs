//! CSV reading and writing with located errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::fsx::{self, FsError};

/// The registries a plane has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryKind {
    /// `frameworks_registry.csv`.
    Frameworks,
    /// `specs_registry.csv`.
    Specs,
    /// `file_ownership.csv`.
    FileOwnership,
    /// `packages_state.csv`.
    PackagesState,
}

impl RegistryKind {
    /// Every registry.
    pub const ALL: [RegistryKind; 4] = [Self::Frameworks, Self::Specs, Self::FileOwnership, Self::PackagesState];

    /// File name inside `HOT/registries/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Frameworks => "frameworks_registry.csv",
            Self::Specs => "specs_registry.csv",
            Self::FileOwnership => "file_ownership.csv",
            Self::PackagesState => "packages_state.csv",
        }
    }

    /// The column header.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Self::Frameworks => &["framework_id", "title", "status", "version", "plane_id", "created_at"],
            Self::Specs => &["spec_id", "title", "framework_id", "status", "version", "plane_id", "created_at"],
            Self::FileOwnership => &[
                "file_path",
                "package_id",
                "sha256",
                "classification",
                "installed_date",
                "replaced_date",
                "superseded_by",
            ],
            Self::PackagesState => &["package_id", "version", "layer", "status", "manifest_sha256", "installed_date"],
        }
    }

    /// Parses `frameworks`, `specs`, `file_ownership`, `packages_state` (or the file name).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| {
            let n = k.file_name();
            s == n || s == n.trim_end_matches(".csv") || s == n.trim_end_matches("_registry.csv")
        })
    }
}

/// Errors reading or writing a registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Filesystem error.
    #[error(transparent)]
    Io(#[from] FsError),
    /// Malformed CSV.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column (field index + 1 when the byte column is unknown).
        column: u64,
        /// What is wrong.
        message: String,
    },
    /// The header differs from the expected columns.
    #[error("{}: header {got:?} does not match the expected columns {expected:?}", path.display())]
    Header {
        /// The file.
        path: PathBuf,
        /// The header found.
        got: Vec<String>,
        /// The columns expected.
        expected: Vec<String>,
    },
}

/// An untyped registry: header and rows, for filtered lookups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each as many fields as columns.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Rows whose columns equal every `filters` value, as column → value maps.
    pub fn filter(&self, filters: &BTreeMap<String, String>) -> Vec<BTreeMap<String, String>> {
        self.rows
            .iter()
            .map(|r| self.columns.iter().cloned().zip(r.iter().cloned()).collect::<BTreeMap<_, _>>())
            .filter(|m| filters.iter().all(|(k, v)| m.get(k) == Some(v)))
            .collect()
    }
}

fn malformed(path: &Path, e: &csv::Error) -> RegistryError {
    let (line, column) = match e.position() {
        Some(p) => (p.line(), 1),
        None => (0, 0),
    };
    let column = match e.kind() {
        csv::ErrorKind::UnequalLengths { len, .. } => len + 1,
        csv::ErrorKind::Deserialize { err, .. } => err.field().map_or(column, |f| f + 1),
        _ => column,
    };
    RegistryError::Malformed { path: path.to_path_buf(), line, column, message: e.to_string() }
}

/// Reads a CSV file as a [`Table`]; a missing file is an empty table with no columns.
pub fn read_table(path: &Path) -> Result<Table, RegistryError> {
    if !path.exists() {
        return Ok(Table { columns: Vec::new(), rows: Vec::new() });
    }
    let data = fsx::read(path)?;
    let mut rd = csv::ReaderBuilder::new().from_reader(data.as_slice());
    let columns = rd.headers().map_err(|e| malformed(path, &e))?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for rec in rd.records() {
        rows.push(rec.map_err(|e| malformed(path, &e))?.iter().map(str::to_string).collect());
    }
    Ok(Table { columns, rows })
}

/// Reads typed rows; a missing file is empty. The header must be exactly `kind.columns()`.
pub fn read_rows<T: DeserializeOwned>(path: &Path, kind: RegistryKind) -> Result<Vec<T>, RegistryError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let data = fsx::read(path)?;
    let mut rd = csv::ReaderBuilder::new().from_reader(data.as_slice());
    let got: Vec<String> = rd.headers().map_err(|e| malformed(path, &e))?.iter().map(str::to_string).collect();
    let expected: Vec<String> = kind.columns().iter().map(|s| s.to_string()).collect();
    if got != expected {
        return Err(RegistryError::Header { path: path.to_path_buf(), got, expected });
    }
    rd.deserialize().map(|r| r.map_err(|e| malformed(path, &e))).collect()
}

fn encode<T: Serialize>(rows: &[T], kind: RegistryKind, header: bool) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    // Writing into a Vec cannot fail; serialization of these flat structs cannot either.
    if header {
        let _ = w.write_record(kind.columns());
    }
    for r in rows {
        let _ = w.serialize(r);
    }
    w.into_inner().unwrap_or_default()
}

/// Writes a whole registry atomically (header + rows).
pub fn write_rows<T: Serialize>(path: &Path, kind: RegistryKind, rows: &[T]) -> Result<(), RegistryError> {
    if let Some(d) = path.parent() {
        fsx::create_dir_all(d)?;
    }
    fsx::write_atomic(path, encode(rows, kind, true))?;
    Ok(())
}

/// Appends rows (writing the header first if the file is new), fsynced.
pub fn append_rows<T: Serialize>(path: &Path, kind: RegistryKind, rows: &[T]) -> Result<(), RegistryError> {
    use std::io::Write;
    let new = !path.exists() || fsx::metadata(path)?.len() == 0;
    if let Some(d) = path.parent() {
        fsx::create_dir_all(d)?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.create(true).append(true);
    let mut f = fsx::open_with(path, &o)?;
    let io = |e| FsError::new("append to", path, e);
    f.write_all(&encode(rows, kind, new)).map_err(io)?;
    f.sync_data().map_err(io)?;
    Ok(())
}
