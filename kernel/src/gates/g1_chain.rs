//! G1 chain: the package's spec is registered, its framework is registered and is the one the
//! spec names, every dependency is installed at a compatible version, and every asset path lies
//! inside the framework's `path_authorizations` (globs, `literal_separator`, on normalised
//! paths). A package trusted through the pinned bootstrap digests may wait for a framework its
//! own set installs later when the install config's `pending_framework_policy` says so.

use std::collections::BTreeMap;

use super::{Gate, GateCode, GateError, GateId, GateIssue, GateReport};
use crate::framework::FrameworkSet;
use crate::fsx;
use crate::package::config::{InstallConfig, PendingFrameworkPolicy, plane_schemas};
use crate::package::manifest::{HashRequirement, Manifest, Version, parse_manifest};
use crate::package::receipt::{load_receipts, receipt_dir};
use crate::plane::Plane;

/// Checks one manifest against the typed frameworks. `installed` maps package id → installed
/// version; `may_defer` allows a missing framework/spec to be deferred (pinned package under
/// `defer_pinned`).
pub fn check_package(
    m: &Manifest,
    frameworks: &FrameworkSet,
    installed: &BTreeMap<String, String>,
    may_defer: bool,
) -> Vec<GateIssue> {
    let mut errors = Vec::new();
    let id = &m.package_id;
    let spec = frameworks.specs.get(&m.spec_id);
    let fw = frameworks.frameworks.get(&m.framework_id);
    if spec.is_none() && !may_defer {
        errors.push(GateIssue::new(GateCode::G1SpecMissing, format!("spec {} is not registered", m.spec_id)).pkg(id));
    }
    if fw.is_none() && !may_defer {
        errors.push(
            GateIssue::new(GateCode::G1FrameworkMissing, format!("framework {} is not registered", m.framework_id))
                .pkg(id),
        );
    }
    if let Some(s) = spec
        && s.spec.framework_id != m.framework_id
    {
        errors.push(
            GateIssue::new(
                GateCode::G1FrameworkMismatch,
                format!("spec {} belongs to {}, manifest says {}", m.spec_id, s.spec.framework_id, m.framework_id),
            )
            .pkg(id),
        );
    }
    errors.extend(dependency_issues(m, installed));
    if let Some(f) = fw {
        for a in m.assets.iter().filter(|a| !f.authorizer.is_authorized(&a.path)) {
            errors.push(
                GateIssue::new(
                    GateCode::G1PathUnauthorized,
                    format!("not inside the path_authorizations of {}", f.manifest.framework_id),
                )
                .at(&a.path)
                .pkg(id),
            );
        }
    }
    errors
}

/// Every dependency of `m` that is not installed at a compatible version.
fn dependency_issues(m: &Manifest, installed: &BTreeMap<String, String>) -> Vec<GateIssue> {
    let mut errors = Vec::new();
    for d in m.deps() {
        let issue = match installed.get(&d.package_id) {
            None => Some(format!("dependency {} is not installed", d.package_id)),
            Some(v) => match (&d.min_version, Version::parse(v)) {
                (Some(min), Some(have)) if &have < min => {
                    Some(format!("dependency {} is installed at {have}, {min} or later is required", d.package_id))
                }
                _ => None,
            },
        };
        if let Some(message) = issue {
            errors.push(GateIssue::new(GateCode::G1DependencyMissing, message).pkg(&m.package_id));
        }
    }
    errors
}

/// Whether the receipt records `issue` as waived at install (same code and path).
fn waived(r: &crate::package::receipt::Receipt, issue: &GateIssue) -> bool {
    r.waivers.iter().any(|w| w.code == issue.code.as_str() && issue.path.as_deref() == Some(w.path.as_str()))
}

/// Plane-level G1 over every installed package (findings recorded as waived in a receipt are
/// not reported again).
#[derive(Debug, Clone, Copy)]
pub(crate) struct G1;

impl Gate for G1 {
    fn id(&self) -> GateId {
        GateId::G1
    }

    fn run(&self, plane: &Plane) -> Result<GateReport, GateError> {
        let receipts = load_receipts(plane)?;
        let schemas = plane_schemas(plane)?;
        let frameworks = FrameworkSet::load(plane, &schemas, &[])?;
        let policy = InstallConfig::for_plane(plane)?.pending_framework_policy;
        let installed: BTreeMap<String, String> =
            receipts.values().map(|r| (r.package_id.clone(), r.version.clone())).collect();
        let mut errors = Vec::new();
        for (id, r) in &receipts {
            let bytes = fsx::read(receipt_dir(plane, id).join("manifest.json"))?;
            let Ok(m) = parse_manifest(&bytes, Some(id), HashRequirement::Required, Some(&schemas)) else {
                errors.push(
                    GateIssue::new(GateCode::G0aManifestInvalid, "installed manifest unreadable (see G0A)").pkg(id),
                );
                continue;
            };
            let defer = policy == PendingFrameworkPolicy::DeferPinned && r.trust == "pinned";
            let mut issues = check_package(&m, &frameworks, &installed, defer);
            issues.retain(|i| !waived(r, i));
            errors.extend(issues);
        }
        let summary = format!(
            "{} packages, {} frameworks, {} specs, {} unreadable manifests (see G0A)",
            receipts.len(),
            frameworks.frameworks.len(),
            frameworks.specs.len(),
            frameworks.invalid.len()
        );
        Ok(GateReport::new(GateId::G1, summary, errors))
    }
}
