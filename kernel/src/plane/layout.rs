//! The plane layout document (`HOT/config/layout.json`, schema `layout.schema.json`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{PlaneError, Tier};
use crate::schema::SchemaSet;

/// The layout shipped by `PKG-LAYOUT-001`, compiled in and used until that package is installed.
pub const DEFAULT_LAYOUT_JSON: &str = include_str!("../../../packages/PKG-LAYOUT-001/HOT/config/layout.json");

/// Name of the layout document's schema (`schemas/layout.schema.json`).
pub const LAYOUT_SCHEMA: &str = "layout";

/// Plane-relative path of the installed layout document.
pub const LAYOUT_PATH: &str = "HOT/config/layout.json";

/// Which directories a plane has and which of them are governed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// Version of the layout document format.
    pub schema_version: String,
    /// Tier directory names, highest first.
    pub tiers: Vec<String>,
    /// Logical directory name → directory name inside each tier.
    pub dirs: BTreeMap<String, String>,
    /// Directories (inside each tier; `*` globs allowed in a component) whose files must all be
    /// owned by an installed package (checked by G0B).
    pub governed_roots: Vec<String>,
    /// Plane-relative files inside governed roots that the installer maintains itself (derived
    /// registries); they are checked by `registries rebuild --verify`, not by ownership.
    pub installer_maintained: Vec<String>,
    /// Ledger storage defaults.
    pub ledger: LedgerLayout,
}

/// Ledger storage defaults of a plane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerLayout {
    /// Storage backend (default `sqlite`).
    pub backend: LedgerBackend,
    /// Durability mode (default `full`).
    pub durability: Durability,
    /// How long a writer waits for another process holding the SQLite write lock before
    /// failing, in milliseconds (default 5000).
    #[serde(default = "default_busy_timeout_ms")]
    pub busy_timeout_ms: u64,
    /// How many more times an open or append that still finds the SQLite database locked after
    /// `busy_timeout_ms` is retried before the caller gets `LEDGER_UNAVAILABLE` (absent: the
    /// compiled-in layout's value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy_retries: Option<u32>,
    /// What `cpctl ledger append` may write (absent: the compiled-in layout's policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_notes: Option<OperatorNotes>,
}

fn default_busy_timeout_ms() -> u64 {
    5000
}

/// The policy for free-form operator notes (`cpctl ledger append`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorNotes {
    /// Regular expression (ECMA 262) a note's event type must match.
    pub event_type_pattern: String,
    /// Event type prefixes reserved to their owning components.
    pub reserved_prefixes: Vec<String>,
}

impl LedgerLayout {
    /// `busy_retries`, or the compiled-in layout's.
    pub fn busy_retries(&self) -> u32 {
        self.busy_retries.or_else(|| Layout::default_layout().ledger.busy_retries).unwrap_or_default()
    }

    /// `operator_notes`, or the compiled-in layout's.
    pub fn operator_notes(&self) -> OperatorNotes {
        match &self.operator_notes {
            Some(n) => n.clone(),
            None => Layout::default_layout()
                .ledger
                .operator_notes
                .unwrap_or(OperatorNotes { event_type_pattern: "^$".into(), reserved_prefixes: Vec::new() }),
        }
    }
}

/// Ledger storage backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LedgerBackend {
    /// SQLite in WAL mode, one database file per ledger.
    #[default]
    Sqlite,
    /// One JSON object per line, one file per ledger.
    Jsonl,
    /// PostgreSQL: every ledger of a plane group in one schema shared by many hosts (kernel
    /// feature `postgres`; the plane config's `postgres` section).
    Postgres,
}

/// Durability of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// An append that returned `Ok` survives a power loss (fsync per commit).
    #[default]
    Full,
    /// An append that returned `Ok` survives a process crash; the last commits may be lost on
    /// power loss (no fsync per commit; the chain is never corrupted).
    Normal,
}

impl Layout {
    /// The compiled-in default layout.
    pub fn default_layout() -> Self {
        // The compiled-in document is tested to parse (plane::tests).
        serde_json::from_str(DEFAULT_LAYOUT_JSON).unwrap_or_else(|e| panic!("built-in layout.json is invalid: {e}"))
    }

    /// Reads `HOT/config/layout.json` under `root`, or the default when it is absent.
    pub fn load_or_default(root: &Path) -> Result<Self, PlaneError> {
        let path = root.join(LAYOUT_PATH);
        if !path.exists() {
            return Ok(Self::default_layout());
        }
        Self::load(&path)
    }

    /// Reads a layout document, validated against the embedded `layout` schema (errors give
    /// file:line:column, the field path and what was expected) and decoded.
    pub fn load(path: &Path) -> Result<Self, PlaneError> {
        let schemas = SchemaSet::embedded_plane_documents()?;
        Ok(schemas.load_document(LAYOUT_SCHEMA, path)?)
    }

    /// The directory name for a logical name (the name itself when not in `dirs`).
    pub fn dir_name<'a>(&'a self, name: &'a str) -> &'a str {
        self.dirs.get(name).map(String::as_str).unwrap_or(name)
    }

    /// The directories created in every tier.
    pub fn tier_dirs(&self, _tier: Tier) -> Vec<String> {
        let mut v: Vec<String> = self.dirs.values().cloned().collect();
        v.extend(self.governed_roots.iter().filter(|g| !g.contains('*')).cloned());
        v.sort();
        v.dedup();
        v
    }
}
