//! G1 chain: the package's spec is registered, its framework is registered and is the one the
//! spec names, every dependency is installed at a compatible version, and every asset path lies
//! inside the framework's `path_authorizations` (globs, `literal_separator`, on normalised
//! paths). A package trusted through the pinned bootstrap digests may wait for a framework its
//! own set installs later when the install config's `pending_framework_policy` says so.

use std::collections::BTreeMap;

use globset::{GlobBuilder, GlobSetBuilder};

use super::{Gate, GateCode, GateError, GateId, GateIssue, GateReport};
use crate::fsx;
use crate::package::config::{InstallConfig, PendingFrameworkPolicy};
use crate::package::fwview::{FrameworkView, load_view};
use crate::package::manifest::{HashRequirement, Manifest, Version, parse_manifest};
use crate::package::receipt::{load_receipts, receipt_dir};
use crate::plane::{Plane, normalize_relative};

/// Checks one manifest. `installed` maps package id → installed version; `may_defer` allows
/// a missing framework/spec to be deferred (pinned package under `defer_pinned`).
pub fn check_package(
    m: &Manifest,
    view: &FrameworkView,
    installed: &BTreeMap<String, String>,
    may_defer: bool,
) -> Result<Vec<GateIssue>, GateError> {
    let mut errors = Vec::new();
    let id = &m.package_id;
    let spec = view.specs.get(&m.spec_id);
    let fw = view.frameworks.get(&m.framework_id);
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
        && s.framework_id != m.framework_id
    {
        errors.push(
            GateIssue::new(
                GateCode::G1FrameworkMismatch,
                format!("spec {} belongs to {}, manifest says {}", m.spec_id, s.framework_id, m.framework_id),
            )
            .pkg(id),
        );
    }
    for d in m.deps() {
        match installed.get(&d.package_id) {
            None => errors.push(
                GateIssue::new(GateCode::G1DependencyMissing, format!("dependency {} is not installed", d.package_id))
                    .pkg(id),
            ),
            Some(v) => {
                if let (Some(min), Some(have)) = (&d.min_version, Version::parse(v))
                    && &have < min
                {
                    errors.push(
                        GateIssue::new(
                            GateCode::G1DependencyMissing,
                            format!("dependency {} is installed at {have}, {min} or later is required", d.package_id),
                        )
                        .pkg(id),
                    );
                }
            }
        }
    }
    if let Some(f) = fw {
        let mut b = GlobSetBuilder::new();
        for g in &f.path_authorizations {
            let glob = GlobBuilder::new(g)
                .literal_separator(true)
                .build()
                .map_err(|source| GateError::Glob { glob: g.clone(), source })?;
            b.add(glob);
        }
        let set = b.build().map_err(|source| GateError::Glob { glob: f.framework_id.clone(), source })?;
        for a in &m.assets {
            let ok = normalize_relative(&a.path).map(|n| set.is_match(n.as_str())).unwrap_or(false);
            if !ok {
                errors.push(
                    GateIssue::new(
                        GateCode::G1PathUnauthorized,
                        format!("not inside the path_authorizations of {}", f.framework_id),
                    )
                    .at(&a.path)
                    .pkg(id),
                );
            }
        }
    }
    Ok(errors)
}

/// Plane-level G1 over every installed package.
#[derive(Debug, Clone, Copy)]
pub(crate) struct G1;

impl Gate for G1 {
    fn id(&self) -> GateId {
        GateId::G1
    }

    fn run(&self, plane: &Plane) -> Result<GateReport, GateError> {
        let receipts = load_receipts(plane)?;
        let view = load_view(plane, &[])?;
        let policy = InstallConfig::for_plane(plane)?.pending_framework_policy;
        let installed: BTreeMap<String, String> =
            receipts.values().map(|r| (r.package_id.clone(), r.version.clone())).collect();
        let mut errors = Vec::new();
        for (id, r) in &receipts {
            let bytes = fsx::read(receipt_dir(plane, id).join("manifest.json"))?;
            let Ok(m) = parse_manifest(&bytes, Some(id), HashRequirement::Required, None) else {
                errors.push(
                    GateIssue::new(GateCode::G0aManifestInvalid, "installed manifest unreadable (see G0A)").pkg(id),
                );
                continue;
            };
            let defer = policy == PendingFrameworkPolicy::DeferPinned && r.trust == "pinned";
            errors.extend(check_package(&m, &view, &installed, defer)?);
        }
        let summary =
            format!("{} packages, {} frameworks, {} specs", receipts.len(), view.frameworks.len(), view.specs.len());
        Ok(GateReport::new(GateId::G1, summary, errors))
    }
}
