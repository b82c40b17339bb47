//! The gates G0A, G0B, G1, G1-COMPLETE, G5, G6 (DESIGN §6), one file each.
//!
//! Each gate has an install-time check (used by the install transaction on a staged archive,
//! before any file moves) and a plane-level check ([`Gate::run`], used by `cpctl gates`).
//! Every gate returns a [`GateReport`]: PASS/FAIL, a one-line summary, and issues with stable
//! codes, one [`GateCode`] enum (`G0A_UNDECLARED`, `G0B_ORPHAN`, `G6_CHAIN_BROKEN`, …). G0A also
//! checks every governed document (`documents`); G0A and G0B fail while an install journal is
//! unresolved (`pending`).
//! Never does: change the plane.

mod codes;
pub(crate) mod documents;
pub(crate) mod g0a_declaration;
pub(crate) mod g0b_ownership;
pub(crate) mod g1_chain;
pub(crate) mod g1_complete;
pub(crate) mod g5_signature;
pub(crate) mod g6_ledger;
mod pending;

use serde::{Deserialize, Serialize};

pub use codes::GateCode;

use crate::fsx::FsError;
use crate::ledger::LedgerError;
use crate::package::receipt::ReceiptError;
use crate::plane::Plane;
use crate::schema::DocumentError;

/// A gate's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum GateId {
    /// Declaration: files declared, present, hashed, safe; manifest valid and the one asked for.
    #[serde(rename = "G0A")]
    G0a,
    /// Plane ownership: every governed file owned once and unmodified.
    #[serde(rename = "G0B")]
    G0b,
    /// Chain: spec, framework, dependencies, path authorizations.
    #[serde(rename = "G1")]
    G1,
    /// Completeness: every framework's expected specs exist and point back.
    #[serde(rename = "G1-COMPLETE")]
    G1Complete,
    /// Signature over the manifest hash by a trusted key.
    #[serde(rename = "G5")]
    G5,
    /// Every ledger chain verifies.
    #[serde(rename = "G6")]
    G6,
}

impl GateId {
    /// Every plane-level gate, in run order.
    pub const ALL: [GateId; 6] = [Self::G0a, Self::G0b, Self::G1, Self::G1Complete, Self::G5, Self::G6];

    /// The printed name (`G1-COMPLETE`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::G0a => "G0A",
            Self::G0b => "G0B",
            Self::G1 => "G1",
            Self::G1Complete => "G1-COMPLETE",
            Self::G5 => "G5",
            Self::G6 => "G6",
        }
    }

    /// Parses a gate name (case-insensitive; `G0` is not a gate, use G0A and G0B).
    pub fn parse(s: &str) -> Option<Self> {
        let u = s.to_ascii_uppercase();
        Self::ALL.into_iter().find(|g| g.as_str() == u || (u == "G1C" && *g == Self::G1Complete))
    }
}

impl std::fmt::Display for GateId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// PASS or FAIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum GateStatus {
    /// No issue.
    Pass,
    /// At least one issue.
    Fail,
}

/// One problem a gate found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateIssue {
    /// Stable machine-readable code (`G0B_ORPHAN`).
    pub code: GateCode,
    /// Plane-relative path or ledger name concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Package concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl GateIssue {
    /// An issue with a code and message.
    pub fn new(code: GateCode, message: impl Into<String>) -> Self {
        Self { code, path: None, package: None, message: message.into() }
    }

    /// Sets the path.
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Sets the package.
    pub fn pkg(mut self, package: impl Into<String>) -> Self {
        self.package = Some(package.into());
        self
    }
}

impl std::fmt::Display for GateIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(p) = &self.package {
            write!(f, " [{p}]")?;
        }
        if let Some(p) = &self.path {
            write!(f, " {p}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The result of one gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateReport {
    /// Gate name (`G0B`).
    pub gate: GateId,
    /// PASS iff `errors` is empty.
    pub status: GateStatus,
    /// One line (`130 files owned, 0 orphans`).
    pub summary: String,
    /// Issues found.
    pub errors: Vec<GateIssue>,
}

impl GateReport {
    /// A report whose status follows from `errors`.
    pub fn new(gate: GateId, summary: impl Into<String>, errors: Vec<GateIssue>) -> Self {
        let status = if errors.is_empty() { GateStatus::Pass } else { GateStatus::Fail };
        Self { gate, status, summary: summary.into(), errors }
    }

    /// Whether the gate passed.
    pub fn passed(&self) -> bool {
        self.status == GateStatus::Pass
    }

    /// Code of the first issue.
    pub fn first_code(&self) -> Option<&'static str> {
        self.errors.first().map(|e| e.code.as_str())
    }
}

/// Errors that keep a gate from reaching a verdict (I/O, unreadable registries).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GateError {
    /// File error.
    #[error(transparent)]
    Io(#[from] FsError),
    /// Receipts or registries unreadable.
    #[error(transparent)]
    Receipt(#[from] ReceiptError),
    /// Ledger error.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A document could not be read.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// A saved ledger checkpoint could not be read.
    #[error(transparent)]
    Checkpoint(#[from] crate::ledger::checkpoint::CheckpointError),
    /// A governed config document (governance policy) could not be read.
    #[error(transparent)]
    Framework(#[from] crate::framework::FrameworkError),
    /// The plane's schemas could not be loaded (fails closed: no check runs without them).
    #[error("cannot load the plane's schemas: {0}")]
    Schema(#[from] crate::schema::SchemaError),
    /// A governed-root glob is invalid.
    #[error("invalid glob {glob:?}")]
    Glob {
        /// The pattern.
        glob: String,
        /// Cause.
        #[source]
        source: globset::Error,
    },
}

/// A plane-level gate.
pub trait Gate {
    /// Which gate this is.
    fn id(&self) -> GateId;
    /// Checks the plane as it is.
    fn run(&self, plane: &Plane) -> Result<GateReport, GateError>;
}

/// The gate implementation of `id`.
pub fn gate(id: GateId) -> Box<dyn Gate> {
    match id {
        GateId::G0a => Box::new(g0a_declaration::G0a),
        GateId::G0b => Box::new(g0b_ownership::G0b),
        GateId::G1 => Box::new(g1_chain::G1),
        GateId::G1Complete => Box::new(g1_complete::G1Complete),
        GateId::G5 => Box::new(g5_signature::G5),
        GateId::G6 => Box::new(g6_ledger::G6),
    }
}

/// Runs the plane-level gates `ids` in order (all of them when empty).
pub fn run_gates(plane: &Plane, ids: &[GateId]) -> Result<Vec<GateReport>, GateError> {
    let ids: Vec<GateId> = if ids.is_empty() { GateId::ALL.to_vec() } else { ids.to_vec() };
    ids.into_iter().map(|id| gate(id).run(plane)).collect()
}

/// The gates `cpctl gates --all` runs: `plane_gates` of the plane's governance policy
/// (`HOT/config/governance_policy.yaml`, else the compiled-in default), in order.
pub fn plane_gate_ids(plane: &Plane) -> Result<Vec<GateId>, GateError> {
    let schemas = crate::package::config::plane_schemas(plane).map_err(crate::framework::FrameworkError::from)?;
    let policy = crate::framework::GovernancePolicy::for_plane(plane, &schemas)?;
    Ok(policy.plane_gates.clone())
}

/// Runs the gates of [`plane_gate_ids`].
pub fn run_plane_gates(plane: &Plane) -> Result<Vec<GateReport>, GateError> {
    let ids = plane_gate_ids(plane)?;
    ids.into_iter().map(|id| gate(id).run(plane)).collect()
}
