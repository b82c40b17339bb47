//! Repairing a plane whose own documents are broken: [`open_for_repair`] opens it on the
//! built-in layout / default config ([`Plane::open_for_repair`]) and says, for each broken
//! document, which package owns it and how to repair it. `uninstall` and `recover` open the
//! plane this way; the binaries print the notices.

use std::path::Path;

use serde::Serialize;

use cp_kernel::{Plane, PlaneDocumentProblem, current_owners};

use crate::InstallError;

/// A broken plane document, its owner, and how to repair it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairNotice {
    /// Plane-relative path.
    pub path: String,
    /// What is wrong (file:line:column, field path, what was expected).
    pub problem: String,
    /// What the plane uses meanwhile.
    pub fallback: String,
    /// The installed package that owns the file, if any.
    pub owner: Option<String>,
    /// What to do.
    pub repair: String,
}

impl std::fmt::Display for RepairNotice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is invalid; running on {}\n  problem: {}\n  repair: {}",
            self.path, self.fallback, self.problem, self.repair
        )
    }
}

fn repair_text(path: &str, owner: Option<&str>) -> String {
    match owner {
        Some(pkg) => format!(
            "{path} belongs to {pkg}: `cp-install uninstall {pkg}` removes it (or restores the file it replaced), \
             or restore the file from {pkg}'s archive; `cpctl gates --all` then shows what is left"
        ),
        None if path.ends_with("plane.json") => format!(
            "{path} is operator state owned by no package: correct it by hand \
             (`cpctl schema validate {path}` lists every problem) or restore it from a backup"
        ),
        None => format!("no package owns {path}: remove it (the built-in default is then used) or restore it"),
    }
}

/// The notices for `problems` on `plane` (owners from the ownership registry when readable).
pub fn repair_notices(plane: &Plane, problems: Vec<PlaneDocumentProblem>) -> Vec<RepairNotice> {
    let owners = current_owners(plane).unwrap_or_default();
    problems
        .into_iter()
        .map(|p| {
            let owner = owners.get(&p.path).map(|r| r.package_id.clone());
            RepairNotice {
                repair: repair_text(&p.path, owner.as_deref()),
                owner,
                path: p.path,
                problem: p.problem,
                fallback: p.fallback,
            }
        })
        .collect()
}

/// Opens the plane at `root` for repair: an invalid layout or plane config is replaced by the
/// built-in one and reported with its owner and the repair.
pub fn open_for_repair(root: &Path) -> Result<(Plane, Vec<RepairNotice>), InstallError> {
    let (plane, problems) = Plane::open_for_repair(root)?;
    let notices = repair_notices(&plane, problems);
    Ok((plane, notices))
}
