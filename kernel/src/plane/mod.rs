//! The plane: an installed root directory with tiers `HOT/`, `HO2/`, `HO1/`.
//!
//! Owns: locating the root (`--root` > `$CONTROL_PLANE_ROOT` > `./cp-root`), creating and
//! opening it, the layout (which directories exist per tier and which are governed), the
//! plane-local operator config (`HOT/plane/plane.json`), and [`Plane::resolve`] — the one
//! function every other module uses to turn a plane-relative path into a filesystem path.
//! Never does: write governed files (only the installer does, through packages).
//!
//! On disk: `HOT/config/layout.json` (shipped by `PKG-LAYOUT-001`; until it is installed the
//! same document, compiled in, is used; schema `layout`), `HOT/plane/plane.json` (operator
//! state, written by `cpctl plane init` and the signing commands, never by packages; schema
//! `plane_config`). Both are read through the schema service with the embedded schemas, so a
//! bad document is refused with file:line:column, the field path and what was expected; the
//! plane config is also validated before it is written.

mod config;
mod pg_config;
pub use pg_config::{LEDGER_URL_ENV, PostgresLedgerConfig};
mod layout;
mod paths;
mod repair;
pub(crate) mod tier;

pub use config::{PLANE_CONFIG_SCHEMA, PlaneConfig, TrustedKey};
pub use layout::{
    DEFAULT_LAYOUT_JSON, Durability, LAYOUT_PATH, LAYOUT_SCHEMA, Layout, LedgerBackend, LedgerLayout, OperatorNotes,
};
pub use paths::{RootSource, resolve_root};
pub use repair::PlaneDocumentProblem;
pub use tier::Tier;

use std::path::{Path, PathBuf};

use crate::fsx::{self, FsError};

/// Errors of the plane module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlaneError {
    /// A filesystem operation failed.
    #[error(transparent)]
    Io(#[from] FsError),
    /// The root does not exist or is not a plane.
    #[error("{} is not a plane (no HOT/ directory)", root.display())]
    NotAPlane {
        /// The root that was tried.
        root: PathBuf,
    },
    /// A path given to [`Plane::resolve`] would leave the plane.
    #[error("path {path:?} escapes the plane root: {why}")]
    Escape {
        /// The offending path as given.
        path: String,
        /// Why it is refused.
        why: &'static str,
    },
    /// A plane document (layout, plane config) is invalid.
    #[error("invalid plane document {}: {message}", path.display())]
    InvalidDocument {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A plane document (layout, plane config) failed its schema check or typed decode; the
    /// source gives file:line:column, the field path and what was expected.
    #[error("invalid plane document")]
    Document(#[from] crate::schema::DocumentError),
    /// The schemas of the plane's own documents could not be loaded.
    #[error("cannot load the plane document schemas")]
    Schemas(#[from] crate::schema::SchemaError),
}

/// An opened plane.
#[derive(Debug, Clone)]
pub struct Plane {
    root: PathBuf,
    layout: Layout,
    config: PlaneConfig,
}

impl Plane {
    /// Creates the plane's directories (idempotent) and opens it. Writes
    /// `HOT/plane/plane.json` with `config` if it does not exist yet.
    pub fn init(root: &Path, config: PlaneConfig) -> Result<Self, PlaneError> {
        fsx::create_dir_all(root)?;
        let layout = Layout::load_or_default(root)?;
        for tier in Tier::ALL {
            let t = root.join(tier.dir_name());
            for d in layout.tier_dirs(tier) {
                fsx::create_dir_all(t.join(d))?;
            }
        }
        let cfg_path = PlaneConfig::path_in(root, &layout);
        if !cfg_path.exists() {
            config.save(&cfg_path)?;
        }
        Self::open(root)
    }

    /// Opens an existing plane.
    pub fn open(root: &Path) -> Result<Self, PlaneError> {
        if !root.join(Tier::Hot.dir_name()).is_dir() {
            return Err(PlaneError::NotAPlane { root: root.to_path_buf() });
        }
        let root = fsx::canonicalize(root)?;
        let layout = Layout::load_or_default(&root)?;
        let config = PlaneConfig::load_or_default(&PlaneConfig::path_in(&root, &layout))?;
        Ok(Self { root, layout, config })
    }

    /// The canonical root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The layout in force.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The plane-local operator configuration.
    pub fn config(&self) -> &PlaneConfig {
        &self.config
    }

    /// Re-reads layout and plane config from disk (after an install changed them).
    pub fn reload(&mut self) -> Result<(), PlaneError> {
        *self = Self::open(&self.root)?;
        Ok(())
    }

    /// Saves a changed plane config to `HOT/plane/plane.json` (atomically).
    pub fn save_config(&mut self, config: PlaneConfig) -> Result<(), PlaneError> {
        config.save(&PlaneConfig::path_in(&self.root, &self.layout))?;
        self.config = config;
        Ok(())
    }

    /// The directory of a tier (`<root>/HOT`).
    pub fn tier_dir(&self, tier: Tier) -> PathBuf {
        self.root.join(tier.dir_name())
    }

    /// A named layout directory of a tier, e.g. `dir(Tier::Hot, "schemas")` → `<root>/HOT/schemas`.
    /// Unknown names are used literally.
    pub fn dir(&self, tier: Tier, name: &str) -> PathBuf {
        self.tier_dir(tier).join(self.layout.dir_name(name))
    }

    /// Resolves a plane-relative path (`HOT/schemas/x.json`) to a filesystem path inside the
    /// root. Refuses absolute paths, `..` components, empty paths, and paths whose existing
    /// part resolves (through symlinks) outside the root.
    pub fn resolve(&self, rel: &str) -> Result<PathBuf, PlaneError> {
        let clean = normalize_relative(rel)?;
        let full = self.root.join(&clean);
        // Check the longest existing prefix after resolving symlinks.
        let mut probe = full.clone();
        loop {
            if fsx::symlink_metadata(&probe).is_ok() {
                let real = fsx::canonicalize(&probe)
                    .map_err(|_| PlaneError::Escape { path: rel.to_string(), why: "dangling symlink" })?;
                if !real.starts_with(&self.root) {
                    return Err(PlaneError::Escape {
                        path: rel.to_string(),
                        why: "resolves through a symlink outside the root",
                    });
                }
                break;
            }
            if !probe.pop() || probe == self.root {
                break;
            }
        }
        Ok(full)
    }

    /// The plane-relative form (`HOT/x/y`, `/` separators) of a path inside the root.
    pub fn relative(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        Some(parts.join("/"))
    }
}

/// Normalizes a plane-relative path: `/` separators, a leading `./` dropped, no empty, `.`
/// or `..` components, not absolute. Returns the normalized string form.
pub fn normalize_relative(rel: &str) -> Result<String, PlaneError> {
    let esc = |why| PlaneError::Escape { path: rel.to_string(), why };
    if rel.is_empty() {
        return Err(esc("empty path"));
    }
    if rel.contains('\\') || rel.contains('\0') {
        return Err(esc("backslash or NUL in path"));
    }
    if rel.starts_with('/') {
        return Err(esc("absolute path"));
    }
    let mut parts = Vec::new();
    for (i, seg) in rel.split('/').enumerate() {
        match seg {
            "." if i == 0 => {}
            "." => return Err(esc("'.' component")),
            ".." => return Err(esc("'..' component")),
            "" => return Err(esc("empty component")),
            s => parts.push(s.to_string()),
        }
    }
    if parts.is_empty() {
        return Err(esc("empty path"));
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests;
