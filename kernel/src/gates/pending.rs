//! Unresolved install transactions (`G0_INSTALL_PENDING`): while a journal is left in the
//! staging area by an interrupted install or uninstall, the plane is between two states and
//! the gates that judge installed state (G0A, G0B) fail until `cp-install recover` settles it.

use super::{GateCode, GateError, GateIssue};
use crate::fsx;
use crate::package::config::{INSTALL_JOURNAL_FILE, InstallConfig};
use crate::plane::{Plane, Tier};

/// One issue per transaction directory of the staging area that holds a journal.
pub(crate) fn pending_issues(plane: &Plane) -> Result<Vec<GateIssue>, GateError> {
    let cfg = InstallConfig::for_plane(plane)?;
    let staging = plane.tier_dir(Tier::Hot).join(&cfg.staging_dir);
    if !staging.is_dir() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for e in fsx::read_dir(&staging)? {
        if e.path().join(INSTALL_JOURNAL_FILE).is_file() {
            let rel = format!("{}/{}/{}", Tier::Hot.dir_name(), cfg.staging_dir, e.file_name().to_string_lossy());
            out.push(
                GateIssue::new(
                    GateCode::G0InstallPending,
                    "an interrupted install or uninstall left this journal unresolved: run cp-install recover",
                )
                .at(rel),
            );
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}
