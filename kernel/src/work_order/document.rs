//! The work-order document (schema `work_order`), as recorded in `WO_CREATED`.

use serde::{Deserialize, Serialize};

/// A work order: what is to be done, for which tenant, under what budget. Its state is not a
/// field: it is derived from the ledger ([`super::WorkOrderState`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkOrder {
    /// `WO-…` identifier, unique in the ledger.
    pub id: String,
    /// Tenant it belongs to.
    pub tenant: String,
    /// Title.
    pub title: String,
    /// Framework the work is done under (`FMWK-NNN`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    /// Class of agent expected to execute it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_class: Option<String>,
    /// Hard limits of its budget scope `work_order/<tenant>/<id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<WorkOrderBudget>,
    /// Parent work order (same tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Acceptance notes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acceptance: Vec<String>,
}

/// Hard limits of a work order's budget scope; an absent limit takes `budget_config`
/// `defaults.work_order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkOrderBudget {
    /// Tokens (input + output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Cost micro-units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_micros: Option<u64>,
}

impl WorkOrder {
    /// A work order with only the required fields.
    pub fn new(id: impl Into<String>, tenant: impl Into<String>, title: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            tenant: tenant.into(),
            title: title.into(),
            framework: None,
            agent_class: None,
            budget: None,
            parent: None,
            acceptance: Vec::new(),
        }
    }
}
