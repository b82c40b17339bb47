//! The ledgers of a plane, by name (`TIER/name`), opened with the plane's backend.
//!
//! Owns: mapping a ledger name to its file (`<tier>/ledger/<name>.db` for SQLite,
//! `<tier>/ledger/<name>.jsonl` for JSONL), dispatching on the configured backend, and caching
//! open stores. Never does: read or write entries itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::{LedgerError, LedgerStore};
use crate::fsx;
use crate::plane::{Durability, LedgerBackend, Plane, Tier};

/// A validated ledger name: `TIER/name` with `name` of `[a-z0-9_-]+`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LedgerName {
    /// The tier.
    pub tier: Tier,
    /// The name inside the tier.
    pub name: String,
}

impl LedgerName {
    /// Parses `HOT/governance`.
    pub fn parse(s: &str) -> Result<Self, LedgerError> {
        let bad = || LedgerError::InvalidName(s.to_string());
        let (t, n) = s.split_once('/').ok_or_else(bad)?;
        let tier: Tier = t.parse().map_err(|_| bad())?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-') {
            return Err(bad());
        }
        Ok(Self { tier, name: n.to_string() })
    }
}

impl std::fmt::Display for LedgerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.tier.dir_name(), self.name)
    }
}

/// Well-known ledger names.
impl LedgerName {
    /// Governance events (plane, policy, auth).
    pub const GOVERNANCE: &'static str = "HOT/governance";
    /// Package install events.
    pub const PACKAGES: &'static str = "HOT/packages";
}

/// Opens and caches the ledgers of one plane.
pub struct LedgerSet {
    root: PathBuf,
    dirs: BTreeMap<Tier, PathBuf>,
    backend: LedgerBackend,
    durability: Durability,
    busy_timeout_ms: u64,
    busy_retries: u32,
    /// The PostgreSQL target when the backend is `postgres`.
    remote: Option<super::remote::Remote>,
    open: Mutex<BTreeMap<LedgerName, Arc<dyn LedgerStore>>>,
    /// Manifest lines known to be present (see [`super::manifest`]).
    listed: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for LedgerSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerSet").field("dirs", &self.dirs).field("backend", &self.backend).finish()
    }
}

impl LedgerSet {
    /// The ledgers of `plane`, with its configured backend and durability.
    pub fn new(plane: &Plane) -> Self {
        let backend = plane.config().ledger_backend.unwrap_or(plane.layout().ledger.backend);
        let durability = plane.config().durability.unwrap_or(plane.layout().ledger.durability);
        let dirs = Tier::ALL.iter().map(|&t| (t, plane.dir(t, "ledger"))).collect();
        let busy_timeout_ms = plane.layout().ledger.busy_timeout_ms;
        let busy_retries = plane.layout().ledger.busy_retries();
        let remote = (backend == LedgerBackend::Postgres)
            .then(|| super::remote::Remote::for_plane(plane, durability, busy_timeout_ms, busy_retries));
        Self {
            root: plane.root().to_path_buf(),
            dirs,
            backend,
            durability,
            busy_timeout_ms,
            busy_retries,
            remote,
            open: Mutex::new(BTreeMap::new()),
            listed: Mutex::new(BTreeSet::new()),
        }
    }

    /// The plane's root directory.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The backend in use.
    pub fn backend(&self) -> LedgerBackend {
        self.backend
    }

    /// The durability in use.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// The file extension of the backend's ledger files.
    fn ext(&self) -> &'static str {
        match self.backend {
            LedgerBackend::Sqlite => "db",
            LedgerBackend::Jsonl => "jsonl",
            LedgerBackend::Postgres => "pg",
        }
    }

    /// The file a ledger lives in.
    pub fn path_of(&self, name: &LedgerName) -> PathBuf {
        self.dirs[&name.tier].join(format!("{}.{}", name.name, self.ext()))
    }

    /// The plane's manifest of its ledgers ([`super::manifest`]).
    pub fn manifest_path(&self) -> PathBuf {
        super::manifest::path_in(&self.dirs[&Tier::Hot])
    }

    /// The manifest line of a ledger with this backend (`HOT/governance.db`).
    fn key_of(&self, name: &LedgerName) -> String {
        format!("{}/{}.{}", name.tier.dir_name(), name.name, self.ext())
    }

    /// The ledger a manifest line names, if it is a file of this backend.
    pub(crate) fn name_of_key(&self, key: &str) -> Option<LedgerName> {
        let stem = key.strip_suffix(self.ext())?.strip_suffix('.')?;
        LedgerName::parse(stem).ok()
    }

    /// Opens (creating if needed) the ledger `name`. A ledger the manifest lists whose file is
    /// gone is refused ([`LedgerError::Missing`]), never re-created empty.
    pub fn open(&self, name: &str) -> Result<Arc<dyn LedgerStore>, LedgerError> {
        let n = LedgerName::parse(name)?;
        let mut g = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = g.get(&n) {
            return Ok(s.clone());
        }
        if let Some(remote) = &self.remote {
            // The database is the truth about which ledgers exist: no file, no manifest line.
            let store = remote.open(&n.to_string())?;
            g.insert(n, store.clone());
            return Ok(store);
        }
        let path = self.path_of(&n);
        let key = self.key_of(&n);
        let existed = path.exists();
        if !existed && super::manifest::read(&self.manifest_path())?.contains(&key) {
            return Err(LedgerError::Missing { name: n.to_string(), path });
        }
        if let Some(dir) = path.parent() {
            fsx::create_dir_all(dir)?;
        }
        let store: Arc<dyn LedgerStore> = match self.backend {
            LedgerBackend::Sqlite => Arc::new(super::SqliteStore::open_retrying(
                &path,
                &n.to_string(),
                self.durability,
                std::time::Duration::from_millis(self.busy_timeout_ms),
                self.busy_retries,
            )?),
            LedgerBackend::Jsonl => Arc::new(super::JsonlStore::open(&path, &n.to_string(), self.durability)?),
            // Opened through `remote` above (set whenever the backend is postgres).
            LedgerBackend::Postgres => return Err(LedgerError::Backend("postgres ledger without a target".into())),
        };
        match self.list_in_manifest(&key) {
            Ok(()) => {}
            // A ledger that was already there (written before the manifest existed) opened by a
            // reader without write access to the plane: reading goes on; the next writer lists it.
            Err(e) if existed => tracing::warn!(ledger = %n, error = %e, "ledger not added to the ledger manifest"),
            Err(e) => return Err(e),
        }
        g.insert(n, store.clone());
        Ok(store)
    }

    /// Adds `key` to the manifest unless it is there (after the file exists, so a crash in
    /// between leaves an unlisted ledger, listed at its next open — never a listed one
    /// without a file).
    fn list_in_manifest(&self, key: &str) -> Result<(), LedgerError> {
        let mut listed = self.listed.lock().unwrap_or_else(|p| p.into_inner());
        if listed.contains(key) {
            return Ok(());
        }
        let manifest = self.manifest_path();
        *listed = super::manifest::read(&manifest)?;
        if !listed.contains(key) {
            if let Some(dir) = manifest.parent() {
                fsx::create_dir_all(dir)?;
            }
            super::manifest::add(&manifest, key, self.durability)?;
            listed.insert(key.to_string());
        }
        Ok(())
    }

    /// Opens an existing ledger; `NotFound` when it has never been written.
    pub fn open_existing(&self, name: &str) -> Result<Arc<dyn LedgerStore>, LedgerError> {
        let n = LedgerName::parse(name)?;
        if let Some(remote) = &self.remote {
            if !remote.list()?.iter().any(|l| *l == n.to_string()) {
                return Err(LedgerError::NotFound(name.to_string()));
            }
            return self.open(name);
        }
        if !self.path_of(&n).exists() {
            return Err(LedgerError::NotFound(name.to_string()));
        }
        self.open(name)
    }

    /// Names of every ledger present on disk, sorted.
    pub fn list(&self) -> Result<Vec<LedgerName>, LedgerError> {
        if let Some(remote) = &self.remote {
            let mut out: Vec<LedgerName> = remote.list()?.iter().filter_map(|l| LedgerName::parse(l).ok()).collect();
            out.sort();
            return Ok(out);
        }
        let ext = match self.backend {
            LedgerBackend::Sqlite => ".db",
            LedgerBackend::Jsonl => ".jsonl",
            LedgerBackend::Postgres => ".pg",
        };
        let mut out = Vec::new();
        for (&tier, dir) in &self.dirs {
            if !dir.is_dir() {
                continue;
            }
            for e in fsx::read_dir(dir)? {
                let f = e.file_name().to_string_lossy().into_owned();
                if let Some(stem) = f.strip_suffix(ext)
                    && let Ok(n) = LedgerName::parse(&format!("{}/{stem}", tier.dir_name()))
                {
                    out.push(n);
                }
            }
        }
        out.sort();
        Ok(out)
    }
}
