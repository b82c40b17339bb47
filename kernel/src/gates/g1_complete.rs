//! G1-COMPLETE: every framework's `expected_specs` exist and name that framework back
//! ([`check_expected_specs`] over the typed frameworks).

use super::{Gate, GateCode, GateError, GateId, GateIssue, GateReport};
use crate::framework::{FrameworkSet, SpecLinkIssue, check_expected_specs};
use crate::package::config::plane_schemas;
use crate::plane::Plane;

/// Checks the frameworks `ids` of `set` (all when `None`).
pub fn check_frameworks(set: &FrameworkSet, ids: Option<&[String]>) -> Vec<GateIssue> {
    let mut errors = Vec::new();
    let specs = || set.specs.values().map(|s| &s.spec);
    for f in set.frameworks.values().filter(|f| ids.is_none_or(|ids| ids.contains(&f.manifest.framework_id))) {
        for issue in check_expected_specs(&f.manifest, specs()) {
            errors.push(match &issue {
                SpecLinkIssue::Missing { .. } => {
                    GateIssue::new(GateCode::G1cSpecMissing, issue.to_string()).at(&f.path)
                }
                SpecLinkIssue::WrongFramework { spec_id, .. } => {
                    let at = set.specs.get(spec_id).map_or(f.path.as_str(), |s| s.path.as_str());
                    GateIssue::new(GateCode::G1cSpecMismatch, issue.to_string()).at(at)
                }
            });
        }
    }
    errors
}

/// Plane-level G1-COMPLETE.
#[derive(Debug, Clone, Copy)]
pub(crate) struct G1Complete;

impl Gate for G1Complete {
    fn id(&self) -> GateId {
        GateId::G1Complete
    }

    fn run(&self, plane: &Plane) -> Result<GateReport, GateError> {
        let schemas = plane_schemas(plane)?;
        let set = FrameworkSet::load(plane, &schemas, &[])?;
        let errors = check_frameworks(&set, None);
        let expected: usize = set.frameworks.values().map(|f| f.manifest.expected_specs.len()).sum();
        Ok(GateReport::new(
            GateId::G1Complete,
            format!("{} frameworks, {expected} expected specs", set.frameworks.len()),
            errors,
        ))
    }
}
