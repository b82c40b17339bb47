//! The typed framework manifest and spec pack (mirrors `framework.schema.json` and
//! `spec.schema.json`).

use serde::{Deserialize, Serialize};

/// Name of the schema framework manifests are validated against.
pub const FRAMEWORK_SCHEMA: &str = "framework";
/// Name of the schema spec packs are validated against.
pub const SPEC_SCHEMA: &str = "spec";
/// File name of a framework manifest or spec pack inside its directory.
pub const MANIFEST_FILE: &str = "manifest.yaml";

/// Lifecycle status of a framework or spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// In force.
    Active,
    /// Not yet in force.
    Draft,
    /// Superseded; kept for existing packages.
    Deprecated,
}

impl Status {
    /// The registry form (`active`, `draft`, `deprecated`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Draft => "draft",
            Self::Deprecated => "deprecated",
        }
    }
}

/// Protection ring of a framework.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ring {
    /// Kernel ring.
    Kernel,
    /// Administration ring.
    Admin,
    /// Resident agents.
    Resident,
}

/// RFC 2119 level of an invariant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum InvariantLevel {
    /// Absolute requirement.
    #[serde(rename = "MUST")]
    Must,
    /// Absolute prohibition.
    #[serde(rename = "MUST NOT")]
    MustNot,
    /// Recommended.
    #[serde(rename = "SHOULD")]
    Should,
    /// Not recommended.
    #[serde(rename = "SHOULD NOT")]
    ShouldNot,
    /// Optional.
    #[serde(rename = "MAY")]
    May,
}

/// One invariant of a framework or spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invariant {
    /// Its level.
    pub level: InvariantLevel,
    /// What must (not) hold.
    pub statement: String,
}

/// A framework manifest (`HOT/FMWK-NNN_Name/manifest.yaml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameworkManifest {
    /// `FMWK-…`.
    pub framework_id: String,
    /// Human title.
    pub title: String,
    /// Lifecycle status.
    pub status: Status,
    /// Semver version.
    pub version: String,
    /// Protection ring, if any.
    #[serde(default)]
    pub ring: Option<Ring>,
    /// Plane the framework belongs to (registry column; empty when absent).
    #[serde(default)]
    pub plane_id: Option<String>,
    /// RFC 3339 creation time (registry column; empty when absent).
    #[serde(default)]
    pub created_at: Option<String>,
    /// Standard documents, relative to the framework directory.
    #[serde(default)]
    pub assets: Vec<String>,
    /// Specs that must exist and name this framework (G1-COMPLETE).
    #[serde(default)]
    pub expected_specs: Vec<String>,
    /// Invariants.
    #[serde(default)]
    pub invariants: Vec<Invariant>,
    /// Globs (literal separators) of plane paths packages naming this framework may ship (G1).
    #[serde(default)]
    pub path_authorizations: Vec<String>,
    /// Gates packages of this framework must pass (`G0`, `G0A`, `G0B`, `G1`, `G1-COMPLETE`,
    /// `G5`, `G6`).
    #[serde(default)]
    pub required_gates: Vec<String>,
    /// Frameworks this one builds on.
    #[serde(default)]
    pub dependencies: Vec<String>,
}

/// Acceptance criteria of a spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Acceptance {
    /// Tests that demonstrate the spec.
    #[serde(default)]
    pub tests: Vec<String>,
    /// Gates that enforce it.
    #[serde(default)]
    pub checks: Vec<String>,
}

/// A spec pack (`HOT/spec_packs/SPEC-…/manifest.yaml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecPack {
    /// `SPEC-…`.
    pub spec_id: String,
    /// Human title.
    pub title: String,
    /// The framework this spec belongs to.
    pub framework_id: String,
    /// Lifecycle status.
    pub status: Status,
    /// Semver version.
    pub version: String,
    /// Plane (registry column; empty when absent).
    #[serde(default)]
    pub plane_id: Option<String>,
    /// RFC 3339 creation time (registry column; empty when absent).
    #[serde(default)]
    pub created_at: Option<String>,
    /// Plane paths of the governed files this spec covers.
    pub assets: Vec<String>,
    /// Kernel APIs implementing the spec.
    #[serde(default)]
    pub interfaces: Vec<String>,
    /// Invariants.
    #[serde(default)]
    pub invariants: Vec<Invariant>,
    /// Acceptance criteria.
    #[serde(default)]
    pub acceptance: Acceptance,
    /// Specs this one builds on.
    #[serde(default)]
    pub dependencies: Vec<String>,
}
