//! G1-COMPLETE: every framework's `expected_specs` exist and name that framework back.

use super::{Gate, GateCode, GateError, GateId, GateIssue, GateReport};
use crate::package::fwview::{FrameworkView, load_view};
use crate::plane::Plane;

/// Checks the frameworks `ids` of `view` (all when `None`).
pub fn check_frameworks(view: &FrameworkView, ids: Option<&[String]>) -> Vec<GateIssue> {
    let mut errors = Vec::new();
    for f in view.frameworks.values().filter(|f| ids.is_none_or(|ids| ids.contains(&f.framework_id))) {
        for s in &f.expected_specs {
            match view.specs.get(s) {
                None => errors.push(
                    GateIssue::new(
                        GateCode::G1cSpecMissing,
                        format!("{} expects {s}, which is not registered", f.framework_id),
                    )
                    .at(&f.manifest_path),
                ),
                Some(sp) if sp.framework_id != f.framework_id => errors.push(
                    GateIssue::new(
                        GateCode::G1cSpecMismatch,
                        format!("{} expects {s}, which names {}", f.framework_id, sp.framework_id),
                    )
                    .at(&sp.manifest_path),
                ),
                Some(_) => {}
            }
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
        let view = load_view(plane, &[])?;
        let errors = check_frameworks(&view, None);
        let expected: usize = view.frameworks.values().map(|f| f.expected_specs.len()).sum();
        Ok(GateReport::new(
            GateId::G1Complete,
            format!("{} frameworks, {expected} expected specs", view.frameworks.len()),
            errors,
        ))
    }
}
