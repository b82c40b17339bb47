//! Installing several packages: the store (a directory of archives, or a repository whose
//! sources are packed into a temporary store first) is indexed, and the requested packages and
//! their dependencies are installed in dependency order. Missing dependencies and cycles are
//! refused before anything installs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cp_kernel::{InstallConfig, Plane, fsx, load_receipts};

use super::{InstallError, InstallEvent, InstallOptions, InstallOutcome, Installer};
use crate::pack::pack_all;
use crate::store::{StoreEntry, index_store};

impl Installer {
    /// Installs `ids` and everything they depend on from the archives in `store`, in
    /// dependency order. Missing dependencies and cycles are refused before anything installs.
    pub fn install_ids(
        &self,
        store: &Path,
        ids: &[String],
        opts: &InstallOptions,
    ) -> Result<Vec<InstallOutcome>, InstallError> {
        self.install_ids_with(store, ids, opts, &mut |_| {})
    }

    fn install_ids_with(
        &self,
        store: &Path,
        ids: &[String],
        opts: &InstallOptions,
        progress: &mut dyn FnMut(InstallEvent),
    ) -> Result<Vec<InstallOutcome>, InstallError> {
        let plane = self.plane()?;
        let cfg = InstallConfig::for_plane(&plane)?;
        let first = ids.first().cloned().unwrap_or_default();
        let order = index_store(store, &cfg.archive).map_err(InstallError::from).and_then(|index| {
            let installed: BTreeMap<String, String> =
                load_receipts(&plane)?.into_values().map(|r| (r.package_id, r.version)).collect();
            resolve_order(&index, &installed, ids, store).map(|o| (index, o))
        });
        let (index, order) = match order {
            Ok(x) => x,
            Err(e) => {
                if !opts.dry_run {
                    let txn = uuid::Uuid::now_v7().to_string();
                    let who = match &e {
                        InstallError::DependencyMissing { package, .. } => package.clone(),
                        InstallError::DependencyCycle { cycle } => cycle.first().cloned().unwrap_or(first),
                        _ => first,
                    };
                    Self::log_failure(&plane, &txn, &who, None, &e);
                }
                return Err(e);
            }
        };
        let mut out = Vec::new();
        let total = order.len();
        for (index_no, id) in order.iter().enumerate() {
            progress(InstallEvent::Started { package_id: id.clone(), index: index_no, total });
            let entry = &index[id];
            let o = self.install_archive(&entry.path, Some(id), opts)?;
            progress(InstallEvent::Finished { outcome: o.clone() });
            out.push(o);
        }
        Ok(out)
    }

    /// Installs the whole bootstrap set in layer order. `repo_or_store` is either a repository
    /// root (its `packages/PKG-*` sources are packed into a temporary store inside the
    /// staging area first) or a store of archives.
    pub fn install_bootstrap(
        &self,
        repo_or_store: &Path,
        opts: &InstallOptions,
        progress: &mut dyn FnMut(InstallEvent),
    ) -> Result<Vec<InstallOutcome>, InstallError> {
        self.with_store(repo_or_store, |store, cfg| {
            let index = index_store(store, &cfg.archive)?;
            let mut ids: Vec<&StoreEntry> = index.values().collect();
            ids.sort_by(|a, b| {
                (a.manifest.layer, &a.manifest.package_id).cmp(&(b.manifest.layer, &b.manifest.package_id))
            });
            let ids: Vec<String> = ids.iter().map(|e| e.manifest.package_id.clone()).collect();
            self.install_ids_with(store, &ids, opts, progress)
        })
    }

    /// Installs `ids` (and their dependencies) from a repository's sources or a store.
    pub fn install_ids_from(
        &self,
        repo_or_store: &Path,
        ids: &[String],
        opts: &InstallOptions,
        progress: &mut dyn FnMut(InstallEvent),
    ) -> Result<Vec<InstallOutcome>, InstallError> {
        self.with_store(repo_or_store, |store, _| self.install_ids_with(store, ids, opts, progress))
    }

    /// Runs `f` on a store: `dir` itself, or — when `dir` is a repository holding `packages/` —
    /// a temporary store packed from its sources in the staging area, removed afterwards.
    fn with_store<T>(
        &self,
        dir: &Path,
        f: impl FnOnce(&Path, &InstallConfig) -> Result<T, InstallError>,
    ) -> Result<T, InstallError> {
        let plane = self.plane()?;
        let cfg = InstallConfig::for_plane(&plane)?;
        let (store, temp) = self.store_for(&plane, &cfg, dir)?;
        let r = f(&store, &cfg);
        if let Some(t) = temp {
            let _ = fsx::remove_dir_all(&t);
            Self::discard(&Self::staging_root(&plane, &cfg)?, &t);
        }
        r
    }

    fn store_for(
        &self,
        plane: &Plane,
        cfg: &InstallConfig,
        dir: &Path,
    ) -> Result<(PathBuf, Option<PathBuf>), InstallError> {
        if !dir.join("packages").is_dir() {
            return Ok((dir.to_path_buf(), None));
        }
        let t = Self::staging_root(plane, cfg)?.join(super::cleanup::pack_dir_name());
        let store = t.join("store");
        fsx::create_dir_all(&store)?;
        pack_all(dir, &store)?;
        Ok((store, Some(t)))
    }
}

/// Topological install order of `ids` and their dependencies (dependencies first). A
/// dependency already installed is left as it is (G1 checks its version).
fn resolve_order(
    index: &BTreeMap<String, StoreEntry>,
    installed: &BTreeMap<String, String>,
    ids: &[String],
    store: &Path,
) -> Result<Vec<String>, InstallError> {
    let mut r = Resolver { index, installed, store, active: Vec::new(), done: BTreeSet::new(), out: Vec::new() };
    for id in ids {
        r.visit(id, None)?;
    }
    Ok(r.out)
}

struct Resolver<'a> {
    index: &'a BTreeMap<String, StoreEntry>,
    installed: &'a BTreeMap<String, String>,
    store: &'a Path,
    active: Vec<String>,
    done: BTreeSet<String>,
    out: Vec<String>,
}

impl Resolver<'_> {
    fn visit(&mut self, id: &str, from: Option<&str>) -> Result<(), InstallError> {
        if self.done.contains(id) {
            return Ok(());
        }
        if let Some(start) = self.active.iter().position(|s| s == id) {
            let mut cycle: Vec<String> = self.active[start..].to_vec();
            cycle.push(id.to_string());
            return Err(InstallError::DependencyCycle { cycle });
        }
        let index = self.index;
        let Some(entry) = index.get(id) else {
            if self.installed.contains_key(id) {
                self.done.insert(id.to_string());
                return Ok(());
            }
            return match from {
                Some(f) => Err(InstallError::DependencyMissing { package: f.to_string(), missing: id.to_string() }),
                None => Err(InstallError::NotInStore { package: id.to_string(), store: self.store.to_path_buf() }),
            };
        };
        if from.is_some() && self.installed.contains_key(id) {
            self.done.insert(id.to_string());
            return Ok(());
        }
        self.active.push(id.to_string());
        for d in entry.manifest.deps() {
            self.visit(&d.package_id, Some(id))?;
        }
        self.active.pop();
        self.done.insert(id.to_string());
        self.out.push(id.to_string());
        Ok(())
    }
}
