//! Opening a plane whose own documents are broken, so that the repair tools still run: an
//! invalid `HOT/config/layout.json` is replaced by the built-in layout and an invalid
//! `HOT/plane/plane.json` by the default config, each reported as a [`PlaneDocumentProblem`].
//! The ledger backend in force is taken from the ledger files on disk, so that the repair
//! writes to the ledgers the plane already has. Used by `cp-install uninstall/recover`,
//! `cpctl plane recover` and `cpctl gates`; every other command refuses such a plane.

use std::path::Path;

use serde::Serialize;

use super::{Layout, LedgerBackend, Plane, PlaneConfig, PlaneError, Tier};
use crate::fsx;

/// A plane document that could not be read and what the plane uses instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlaneDocumentProblem {
    /// Plane-relative path (`HOT/config/layout.json`).
    pub path: String,
    /// What is wrong: file, line, column, field path and what was expected.
    pub problem: String,
    /// What is used instead (`the built-in layout`).
    pub fallback: String,
}

fn is_document_error(e: &PlaneError) -> bool {
    matches!(e, PlaneError::Document(_) | PlaneError::InvalidDocument { .. })
}

/// The backend of the ledger files under `HOT/<ledger dir>/`, when there are any.
fn backend_on_disk(root: &Path, layout: &Layout) -> Option<LedgerBackend> {
    let dir = root.join(Tier::Hot.dir_name()).join(layout.dir_name("ledger"));
    let names: Vec<String> =
        fsx::read_dir(&dir).ok()?.iter().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    if names.iter().any(|n| n.ends_with(".db")) {
        Some(LedgerBackend::Sqlite)
    } else if names.iter().any(|n| n.ends_with(".jsonl")) {
        Some(LedgerBackend::Jsonl)
    } else {
        None
    }
}

impl Plane {
    /// Opens the plane for repair: like [`Plane::open`], except that an invalid layout or plane
    /// config is replaced by the built-in layout / the default config (ledger backend as found
    /// on disk) and reported instead of refused. Any other error is still an error.
    pub fn open_for_repair(root: &Path) -> Result<(Self, Vec<PlaneDocumentProblem>), PlaneError> {
        if !root.join(Tier::Hot.dir_name()).is_dir() {
            return Err(PlaneError::NotAPlane { root: root.to_path_buf() });
        }
        let root = fsx::canonicalize(root)?;
        let mut problems = Vec::new();
        let layout = match Layout::load_or_default(&root) {
            Ok(l) => l,
            Err(e) if is_document_error(&e) => {
                let mut l = Layout::default_layout();
                if let Some(b) = backend_on_disk(&root, &l) {
                    l.ledger.backend = b;
                }
                problems.push(PlaneDocumentProblem {
                    path: super::LAYOUT_PATH.to_string(),
                    problem: crate::causes::with_causes(&e),
                    fallback: "the built-in layout".into(),
                });
                l
            }
            Err(e) => return Err(e),
        };
        let cfg_path = PlaneConfig::path_in(&root, &layout);
        let config = match PlaneConfig::load_or_default(&cfg_path) {
            Ok(c) => c,
            Err(e) if is_document_error(&e) => {
                let rel = cfg_path.strip_prefix(&root).map(|p| p.display().to_string()).unwrap_or_default();
                problems.push(PlaneDocumentProblem {
                    path: rel,
                    problem: crate::causes::with_causes(&e),
                    fallback: "the default plane config (no trusted keys; ledger backend as found on disk)".into(),
                });
                PlaneConfig { ledger_backend: backend_on_disk(&root, &layout), ..PlaneConfig::default() }
            }
            Err(e) => return Err(e),
        };
        Ok((Self { root, layout, config }, problems))
    }
}
