//! The phase-report contract (`PRC-PHASE-REPORT-001`, shipped by `PKG-PROMPT-ROUTER-001`): the
//! P1–P13 protocol's phase report as a prompt contract's `output_schema`, and the check of a
//! saved report against that same schema.
//!
//! Owns: [`check_phase_report`] and the JSON-path form of output errors the router records
//! ([`output_error_paths`]: a missing key is named by its own path, `/rollback`, not by its
//! parent's). Never does: write the ledger (the router records `INVALID_OUTPUT` when it routes
//! with this contract; a check of a saved file is a read).

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::contract::{PROMPT_CONTRACT_SCHEMA, PromptContract};
use crate::plane::Plane;
use crate::schema::SchemaSet;

/// Id of the phase-report contract.
pub const PHASE_REPORT_CONTRACT_ID: &str = "PRC-PHASE-REPORT-001";
/// Plane-relative path of the phase-report contract.
pub const PHASE_REPORT_CONTRACT_PATH: &str = "HOT/contracts/PRC-PHASE-REPORT-001.yaml";
/// The 12 required keys of a phase report, in the protocol's order.
pub const PHASE_REPORT_KEYS: [&str; 12] = [
    "phase_meta",
    "objective",
    "invariants",
    "module_scope",
    "data_models",
    "flow",
    "guardrails",
    "tests",
    "acceptance",
    "rollback",
    "dependency_graph",
    "status",
];

/// Errors checking a phase report (not the report's own faults: those are in [`ReportCheck`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PhaseReportError {
    /// The contract is not installed.
    #[error("{} is missing (install PKG-PROMPT-ROUTER-001)", path.display())]
    MissingContract {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The contract, or the plane's schemas, could not be loaded.
    #[error("phase-report contract")]
    Contract(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The contract has no usable `output_schema`.
    #[error("{}: output_schema: {message}", path.display())]
    OutputSchema {
        /// The contract.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The report could not be read.
    #[error("reading the report")]
    Read(#[source] crate::fsx::FsError),
}

/// The result of checking a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportCheck {
    /// The file checked.
    pub file: PathBuf,
    /// Whether it satisfies the contract's `output_schema`.
    pub valid: bool,
    /// Every fault, `JSON-PATH: message`.
    pub errors: Vec<String>,
}

/// Every error of `value` against `schema`, as `JSON-PATH: message`; a missing required key
/// is named by its own path (`/rollback: "rollback" is a required property`).
pub fn output_error_paths(schema: &jsonschema::Validator, value: &Value) -> Vec<String> {
    schema
        .iter_errors(value)
        .map(|e| match e.kind() {
            jsonschema::error::ValidationErrorKind::Required { property } => {
                let key = property.as_str().map_or_else(|| property.to_string(), str::to_string);
                let key = key.replace('~', "~0").replace('/', "~1");
                format!("{}/{key}: {e}", e.instance_path())
            }
            _ => format!("{}: {e}", e.instance_path()),
        })
        .collect()
}

/// Checks the report in `file` (JSON) against the `output_schema` of the plane's
/// `PRC-PHASE-REPORT-001`.
pub fn check_phase_report(plane: &Plane, file: &Path) -> Result<ReportCheck, PhaseReportError> {
    let contract_path =
        plane.resolve(PHASE_REPORT_CONTRACT_PATH).map_err(|e| PhaseReportError::Contract(Box::new(e)))?;
    if !contract_path.is_file() {
        return Err(PhaseReportError::MissingContract { path: contract_path });
    }
    let schemas = SchemaSet::for_plane(plane).map_err(|e| PhaseReportError::Contract(Box::new(e)))?;
    let c: PromptContract = schemas
        .load_document(PROMPT_CONTRACT_SCHEMA, &contract_path)
        .map_err(|e| PhaseReportError::Contract(Box::new(e)))?;
    let bad = |message: String| PhaseReportError::OutputSchema { path: contract_path.clone(), message };
    let schema = c.output_schema.as_ref().ok_or_else(|| bad("absent".into()))?;
    let v = jsonschema::validator_for(schema).map_err(|e| bad(e.to_string()))?;
    let text = crate::fsx::read_to_string(file).map_err(PhaseReportError::Read)?;
    let errors = match serde_json::from_str::<Value>(&text) {
        Ok(value) => output_error_paths(&v, &value),
        Err(e) => vec![format!(": not JSON: {e}")],
    };
    Ok(ReportCheck { file: file.to_path_buf(), valid: errors.is_empty(), errors })
}
