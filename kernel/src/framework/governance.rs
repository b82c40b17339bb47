//! The install governance policy (`HOT/config/governance_policy.yaml`, schema
//! `governance_policy.schema.json`, shipped by PKG-GOVERNANCE-UPGRADE-001).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::FrameworkError;
use super::config::load_or_builtin;
use crate::plane::Plane;
use crate::schema::SchemaSet;

/// Plane-relative path of the installed policy.
pub const GOVERNANCE_POLICY_PATH: &str = "HOT/config/governance_policy.yaml";
/// Name of its schema.
pub const GOVERNANCE_POLICY_SCHEMA: &str = "governance_policy";
/// The policy shipped by PKG-GOVERNANCE-UPGRADE-001, compiled in for planes where that package
/// is not installed yet (Layers 0–1 install before it).
pub const DEFAULT_GOVERNANCE_POLICY_YAML: &str =
    include_str!("../../../packages/PKG-GOVERNANCE-UPGRADE-001/HOT/config/governance_policy.yaml");

/// Gates are named once, in [`crate::gates::GateId`]; the policy refers to them.
pub(super) use crate::gates::GateId;

/// A check inside G1 / G1-COMPLETE that genesis may exempt (dependency checks never are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GenesisCheck {
    /// The package's framework is registered.
    FrameworkRegistered,
    /// The package's spec is registered and names the framework.
    SpecRegistered,
    /// Every asset lies inside the framework's path authorisations.
    PathAuthorized,
    /// The framework's expected specs all exist (G1-COMPLETE).
    ExpectedSpecs,
}

/// Install gates for some layers, replacing [`GovernancePolicy::install_gates`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerOverride {
    /// The layers concerned.
    pub layers: Vec<u32>,
    /// Their gates, in order.
    pub install_gates: Vec<GateId>,
}

/// The genesis rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisRules {
    /// Layers that may install under genesis trust (shipped default: 0 and 1).
    pub layers: Vec<u32>,
    /// Checks skipped for a genesis install (shipped default: framework, spec, path, expected
    /// specs).
    pub exempt_checks: Vec<GenesisCheck>,
    /// Whether the exemption holds only while no framework is registered (shipped default: true).
    pub only_while_no_framework_registered: bool,
}

/// The install governance policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GovernancePolicy {
    /// Document format version (`1.0`).
    pub schema_version: String,
    /// `POL-…` id.
    pub policy_id: String,
    /// Semver version of the policy.
    pub version: String,
    /// Gates every install runs, in order (shipped default: G0A, G0B, G1, G1-COMPLETE, G5).
    pub install_gates: Vec<GateId>,
    /// Per-layer replacements of `install_gates` (shipped default: none).
    pub layer_overrides: Vec<LayerOverride>,
    /// Genesis rules.
    pub genesis: GenesisRules,
    /// Whether G1 / G1-COMPLETE count the framework and spec manifests the installing package
    /// ships itself (shipped default: true).
    pub self_registration: bool,
    /// Gates `cpctl gates --all` runs (shipped default: G0B, G1, G1-COMPLETE, G5, G6).
    pub plane_gates: Vec<GateId>,
}

impl GovernancePolicy {
    /// Reads and validates a policy file.
    pub fn load(schemas: &SchemaSet, path: &Path) -> Result<Self, FrameworkError> {
        let p: Self = schemas.load_document(GOVERNANCE_POLICY_SCHEMA, path)?;
        p.check(path)?;
        Ok(p)
    }

    /// The plane's installed policy, else the compiled-in default.
    pub fn for_plane(plane: &Plane, schemas: &SchemaSet) -> Result<Self, FrameworkError> {
        let p: Self = load_or_builtin(
            plane,
            schemas,
            GOVERNANCE_POLICY_PATH,
            GOVERNANCE_POLICY_SCHEMA,
            DEFAULT_GOVERNANCE_POLICY_YAML,
        )?;
        p.check(Path::new(GOVERNANCE_POLICY_PATH))?;
        Ok(p)
    }

    /// Consistency beyond the schema: no layer in two overrides.
    fn check(&self, path: &Path) -> Result<(), FrameworkError> {
        let mut seen = BTreeMap::new();
        for (i, o) in self.layer_overrides.iter().enumerate() {
            for l in &o.layers {
                if let Some(j) = seen.insert(*l, i) {
                    return Err(FrameworkError::Inconsistent {
                        path: path.to_path_buf(),
                        message: format!("layer {l} appears in layer_overrides[{j}] and layer_overrides[{i}]"),
                    });
                }
            }
        }
        Ok(())
    }

    /// The gates an install of a package at `layer` runs, in order.
    pub fn install_gates_for(&self, layer: u32) -> &[GateId] {
        self.layer_overrides
            .iter()
            .find(|o| o.layers.contains(&layer))
            .map_or(self.install_gates.as_slice(), |o| o.install_gates.as_slice())
    }

    /// Whether an install at `layer` runs under genesis trust, given how many frameworks are
    /// registered.
    pub fn genesis_applies(&self, layer: u32, frameworks_registered: usize) -> bool {
        self.genesis.layers.contains(&layer)
            && (!self.genesis.only_while_no_framework_registered || frameworks_registered == 0)
    }

    /// Whether `check` is skipped for an install at `layer`.
    pub fn is_exempt(&self, layer: u32, frameworks_registered: usize, check: GenesisCheck) -> bool {
        self.genesis_applies(layer, frameworks_registered) && self.genesis.exempt_checks.contains(&check)
    }
}
