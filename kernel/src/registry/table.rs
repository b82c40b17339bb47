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

    /// The registry's file in a plane (`HOT/registries/<file name>`).
    pub fn path_in(self, plane: &crate::Plane) -> PathBuf {
        plane.dir(crate::Tier::Hot, "registries").join(self.file_name())
    }

    /// The short name (`frameworks`, `specs`, `file_ownership`, `packages_state`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Frameworks => "frameworks",
            Self::Specs => "specs",
            Self::FileOwnership => "file_ownership",
            Self::PackagesState => "packages_state",
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
    #[error(
        "{}:1:{}: header {got:?} does not match the expected columns {expected:?}",
        path.display(),
        header_mismatch_column(got, expected)
    )]
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

/// 1-based character column of the first header field that differs from the expected one.
fn header_mismatch_column(got: &[String], expected: &[String]) -> usize {
    let mut col = 1;
    for (i, g) in got.iter().enumerate() {
        if expected.get(i) != Some(g) {
            return col;
        }
        col += g.chars().count() + 1;
    }
    col
}

/// Refuses quoting the lenient `csv` reader would accept: a quote inside an unquoted field, a
/// quoted field followed by anything but a separator or line end, an unterminated quote. The
/// error gives the line and character column of the offending quote.
fn check_quoting(path: &Path, data: &[u8]) -> Result<(), RegistryError> {
    let text = String::from_utf8_lossy(data);
    let err = |line: u64, column: u64, message: &str| RegistryError::Malformed {
        path: path.to_path_buf(),
        line,
        column,
        message: message.to_string(),
    };
    let mut chars = text.chars().peekable();
    let (mut line, mut col) = (1u64, 1u64);
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if at_field_start => {
                let (ql, qc) = (line, col);
                col += 1;
                loop {
                    match chars.next() {
                        None => return Err(err(ql, qc, "unterminated quoted field")),
                        Some('"') => {
                            col += 1;
                            match chars.peek() {
                                Some('"') => {
                                    chars.next();
                                    col += 1;
                                }
                                None | Some(',') | Some('\n') | Some('\r') => break,
                                Some(_) => {
                                    return Err(err(line, col - 1, "quoted field must end at a separator or line end"));
                                }
                            }
                        }
                        Some('\n') => {
                            line += 1;
                            col = 1;
                        }
                        Some(_) => col += 1,
                    }
                }
                at_field_start = false;
            }
            '"' => return Err(err(line, col, "quote inside an unquoted field")),
            ',' => {
                col += 1;
                at_field_start = true;
            }
            '\n' => {
                line += 1;
                col = 1;
                at_field_start = true;
            }
            _ => {
                col += 1;
                at_field_start = false;
            }
        }
    }
    Ok(())
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
    check_quoting(path, &data)?;
    let mut rd = csv::ReaderBuilder::new().from_reader(data.as_slice());
    let columns = rd.headers().map_err(|e| malformed(path, &e))?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for rec in rd.records() {
        rows.push(rec.map_err(|e| malformed(path, &e))?.iter().map(str::to_string).collect());
    }
    Ok(Table { columns, rows })
}

/// Reads a registry as a [`Table`], refusing a header other than `kind.columns()`; a missing
/// file is an empty table with those columns.
pub fn read_kind_table(path: &Path, kind: RegistryKind) -> Result<Table, RegistryError> {
    let expected: Vec<String> = kind.columns().iter().map(|s| s.to_string()).collect();
    let t = read_table(path)?;
    if !path.exists() {
        return Ok(Table { columns: expected, rows: Vec::new() });
    }
    if t.columns != expected {
        return Err(RegistryError::Header { path: path.to_path_buf(), got: t.columns, expected });
    }
    Ok(t)
}

/// Reads typed rows; a missing file is empty. The header must be exactly `kind.columns()`.
pub fn read_rows<T: DeserializeOwned>(path: &Path, kind: RegistryKind) -> Result<Vec<T>, RegistryError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let data = fsx::read(path)?;
    check_quoting(path, &data)?;
    let mut rd = csv::ReaderBuilder::new().from_reader(data.as_slice());
    let got: Vec<String> = rd.headers().map_err(|e| malformed(path, &e))?.iter().map(str::to_string).collect();
    let expected: Vec<String> = kind.columns().iter().map(|s| s.to_string()).collect();
    if got != expected {
        return Err(RegistryError::Header { path: path.to_path_buf(), got, expected });
    }
    rd.deserialize().map(|r| r.map_err(|e| malformed(path, &e))).collect()
}

/// CSV bytes of `rows` in `kind`'s column order, preceded by its header row when `header`.
pub fn encode_rows<T: Serialize>(kind: RegistryKind, rows: &[T], header: bool) -> Vec<u8> {
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
    fsx::write_atomic(path, encode_rows(kind, rows, true))?;
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
    f.write_all(&encode_rows(kind, rows, new)).map_err(io)?;
    f.sync_data().map_err(io)?;
    Ok(())
}
