//! Leftovers of killed installer processes: temporary package stores packed in the staging
//! area (`pack-p<pid>-<uuid>`) and the temporary siblings of atomic writes
//! (`.<name>.tmp-<pid>`) in the directories the installer writes (the installer-maintained
//! registries, the receipt directories). Each is removed by `recover` (which every install and
//! uninstall runs first) once the process that made it is gone; those of a live process (a
//! concurrent install) are kept. Liveness is read from `/proc` on Linux; elsewhere another
//! process is assumed alive, so its leftovers are kept.

use std::path::{Path, PathBuf};

use cp_kernel::fsx::{self, FsError};
use cp_kernel::{Plane, Tier};

/// Prefix of the temporary package stores packed inside the staging root (not transactions).
pub(crate) const PACK_DIR_PREFIX: &str = "pack-";

/// The name of a new temporary package store of this process.
pub(crate) fn pack_dir_name() -> String {
    format!("{PACK_DIR_PREFIX}p{}-{}", std::process::id(), uuid::Uuid::now_v7())
}

/// Whether process `pid` may still be running.
fn alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") { Path::new("/proc").join(pid.to_string()).exists() } else { true }
}

/// The process that made a pack directory; `None` for a name without one (made by an older
/// installer: stale).
fn pack_owner(name: &str) -> Option<u32> {
    name.strip_prefix(PACK_DIR_PREFIX)?.strip_prefix('p')?.split('-').next()?.parse().ok()
}

/// The process that made a `.<name>.tmp-<pid>` file.
fn tmp_owner(name: &str) -> Option<u32> {
    if !name.starts_with('.') {
        return None;
    }
    name.rsplit_once(".tmp-")?.1.parse().ok()
}

/// Removes the pack directories of `staging` left by processes that are gone. Returns the
/// removed paths.
pub(crate) fn remove_stale_pack_dirs(staging: &Path) -> Result<Vec<PathBuf>, FsError> {
    let mut out = Vec::new();
    if !staging.is_dir() {
        return Ok(out);
    }
    for e in fsx::read_dir(staging)? {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(PACK_DIR_PREFIX) && pack_owner(&name).is_none_or(|pid| !alive(pid)) {
            fsx::remove_dir_all(e.path())?;
            out.push(e.path());
        }
    }
    Ok(out)
}

/// Removes the `.<name>.tmp-<pid>` files of processes that are gone from the directories the
/// installer writes. Returns the removed paths.
pub(crate) fn remove_stale_temporaries(plane: &Plane) -> Result<Vec<PathBuf>, FsError> {
    let mut dirs: Vec<PathBuf> = plane
        .layout()
        .installer_maintained
        .iter()
        .filter_map(|rel| plane.root().join(rel).parent().map(Path::to_path_buf))
        .collect();
    let installed = plane.dir(Tier::Hot, "installed");
    if installed.is_dir() {
        dirs.extend(fsx::read_dir(&installed)?.into_iter().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    dirs.sort();
    dirs.dedup();
    let mut out = Vec::new();
    for dir in dirs.iter().filter(|d| d.is_dir()) {
        for e in fsx::read_dir(dir)? {
            let name = e.file_name().to_string_lossy().into_owned();
            if tmp_owner(&name).is_some_and(|pid| !alive(pid)) {
                fsx::remove_file(e.path())?;
                out.push(e.path());
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_read_from_the_names() {
        assert_eq!(pack_owner(&pack_dir_name()), Some(std::process::id()));
        assert_eq!(pack_owner("pack-0192f3a4-7b1c-7000-8000-000000000000"), None);
        assert_eq!(tmp_owner(".receipt.json.tmp-4242"), Some(4242));
        assert_eq!(tmp_owner("receipt.json.tmp-4242"), None);
        assert_eq!(tmp_owner(".receipt.json.tmp-x"), None);
        assert!(alive(std::process::id()));
    }
}
