//! The plane config's PostgreSQL ledger settings (`postgres` in `HOT/plane/plane.json`), used
//! when the ledger backend is `postgres`.
//!
//! Owns: where the connection string comes from and the check that it never sits in a
//! governed file. Never does: hold a connection string (it may carry a password) itself — the
//! plane config names a schema and, optionally, a file; the string comes from the environment
//! variable [`LEDGER_URL_ENV`] or that file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Layout, Tier};

/// The environment variable holding the ledger's connection string (wins over the file).
pub const LEDGER_URL_ENV: &str = "CP_LEDGER_URL";

/// PostgreSQL ledger settings of a plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresLedgerConfig {
    /// The PostgreSQL schema holding the ledger tables; every host of a plane group names the
    /// same one.
    pub schema: String,
    /// A file holding the connection string (absolute, or relative to the plane root), used
    /// when `CP_LEDGER_URL` is unset. It must lie outside the plane's governed roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_file: Option<String>,
}

impl PostgresLedgerConfig {
    /// The connection string: `CP_LEDGER_URL`, else the content of `url_file` (trimmed). Errors
    /// say what is missing; they never contain the string itself.
    pub fn connection_string(&self, root: &Path, layout: &Layout) -> Result<String, String> {
        if let Ok(u) = std::env::var(LEDGER_URL_ENV)
            && !u.trim().is_empty()
        {
            return Ok(u);
        }
        let Some(f) = &self.url_file else {
            return Err(format!(
                "the ledger backend is postgres but {LEDGER_URL_ENV} is unset and the plane config names no \
                 postgres.url_file"
            ));
        };
        let path = root.join(f);
        if let Some(g) = governed_root_of(root, &path, layout) {
            return Err(format!(
                "postgres.url_file {} lies in the governed root {g}; keep the connection string (it may hold a \
                 password) outside governed files",
                path.display()
            ));
        }
        let text = crate::fsx::read_to_string(&path).map_err(|e| format!("cannot read postgres.url_file: {e}"))?;
        Ok(text.trim().to_string())
    }
}

/// The governed root (`HOT/config`) that `path` lies in, if any.
fn governed_root_of(root: &Path, path: &Path, layout: &Layout) -> Option<String> {
    let rel: PathBuf = path.strip_prefix(root).ok()?.to_path_buf();
    let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned());
    let tier = parts.next()?;
    let dir = parts.next()?;
    if !Tier::ALL.iter().any(|t| t.dir_name() == tier) {
        return None;
    }
    layout
        .governed_roots
        .iter()
        .find(|g| globset::Glob::new(g).is_ok_and(|m| m.compile_matcher().is_match(&dir)))
        .map(|g| format!("{tier}/{g}"))
}
