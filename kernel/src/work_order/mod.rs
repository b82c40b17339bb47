//! Work orders: a document (schema `work_order`) and a lifecycle from config
//! (`HOT/config/work_orders.yaml`, schema `work_orders`, shipped by `PKG-PROMPT-ROUTER-001`).
//!
//! Owns: [`WorkOrders`] (create, transition, read), the lifecycle ([`LifecycleConfig`]), and
//! the derivation of a work order's state from the ledger ([`derive_work_orders`]).
//! Never does: keep a work order's state anywhere but the ledger — no file, no cache that could
//! disagree with it — or decide a transition outside the ledger's write lock (so two processes
//! racing the same transition cannot both win: the loser is refused and logged).
//!
//! On the ledger (the router's, so that creating a work order and allocating its budget scope
//! are one transaction, and the router's guard reads them where it writes):
//! * `WO_CREATED` — provenance `tenant_id`, `work_order_id`, `framework_id`; `metadata`:
//!   `work_order` (the document), `state` (the initial state), `policy_id` `wo.lifecycle`,
//!   `actor`; followed in the same transaction by the scope's `BUDGET_ALLOCATED`;
//! * `WO_TRANSITIONED` — `metadata`: `from`, `to`, `transition` (its name), `policy_id`,
//!   `actor`; `reason` is the caller's;
//! * `WO_TRANSITION_REFUSED` — `decision` `REFUSED`; `metadata`: `code`
//!   ([`RefusalCode`]), `from` (when the work order exists), `to`, `roles`, `policy_id`, `actor`;
//! * `ACCESS_DENIED` — another tenant's work order (`policy_id` `tenant.sovereignty`,
//!   `principal`, `tenant_asked`, `tenant_held`).

mod book;
mod config;
mod document;
mod state;

pub use book::WorkOrders;
pub use config::{
    LifecycleConfig, SHIPPED_WORK_ORDERS_CONFIG, TransitionRule, WORK_ORDER_SCHEMA, WORK_ORDERS_CONFIG_PATH,
    WORK_ORDERS_CONFIG_SCHEMA, WORK_ORDERS_PACKAGE,
};
pub use document::{WorkOrder, WorkOrderBudget};
pub use state::{HistoryItem, WorkOrderState, derive as derive_work_orders};

use std::path::PathBuf;

use serde::Serialize;

use crate::ledger::LedgerError;
use crate::schema::DocumentError;

/// Why a creation or transition was refused (`metadata.code` of `WO_TRANSITION_REFUSED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum RefusalCode {
    /// No work order with that id (for the caller's tenant).
    UnknownWorkOrder,
    /// A work order with that id exists already.
    DuplicateId,
    /// The parent is not a work order of the same tenant.
    UnknownParent,
    /// The state asked for is not declared.
    UnknownState,
    /// The lifecycle has no such transition from the current state (including from a terminal
    /// state, and the loser of a race, whose state has moved on).
    IllegalTransition,
    /// The caller's roles do not include one the transition (or creation) allows.
    RoleNotAllowed,
}

impl RefusalCode {
    /// The code as recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownWorkOrder => "UNKNOWN_WORK_ORDER",
            Self::DuplicateId => "DUPLICATE_ID",
            Self::UnknownParent => "UNKNOWN_PARENT",
            Self::UnknownState => "UNKNOWN_STATE",
            Self::IllegalTransition => "ILLEGAL_TRANSITION",
            Self::RoleNotAllowed => "ROLE_NOT_ALLOWED",
        }
    }
}

/// Errors of the work-order module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkOrderError {
    /// The ledger failed.
    #[error("work-order ledger error")]
    Ledger(
        #[from]
        #[source]
        LedgerError,
    ),
    /// The plane could not resolve a path.
    #[error("plane error")]
    Plane(#[source] Box<crate::plane::PlaneError>),
    /// The lifecycle config is not installed.
    #[error("{} is missing (install {package})", path.display())]
    MissingConfig {
        /// Where it was looked for.
        path: PathBuf,
        /// Package that ships it.
        package: &'static str,
    },
    /// A config or document failed its schema.
    #[error("invalid document")]
    Document(
        #[from]
        #[source]
        DocumentError,
    ),
    /// The lifecycle config is inconsistent.
    #[error("invalid lifecycle {}: {}", path.display(), problems.iter().map(|(p, m)| format!("{p}: {m}")).collect::<Vec<_>>().join("; "))]
    InvalidConfig {
        /// The config.
        path: PathBuf,
        /// `(field path, what is wrong)`.
        problems: Vec<(String, String)>,
    },
    /// A work-order document could not be encoded.
    #[error("invalid work order: {0}")]
    InvalidDocument(String),
    /// Refused by the lifecycle, logged as `WO_TRANSITION_REFUSED`.
    #[error("refused ({}): {message} (logged at seq {seq})", code.as_str())]
    Refused {
        /// Why.
        code: RefusalCode,
        /// In words.
        message: String,
        /// Id of the `WO_TRANSITION_REFUSED` entry.
        entry_id: String,
        /// Its `seq`.
        seq: u64,
    },
    /// Another tenant's work order, logged as `ACCESS_DENIED`.
    #[error("access denied: {message} (logged at seq {seq})")]
    AccessDenied {
        /// In words.
        message: String,
        /// Id of the `ACCESS_DENIED` entry.
        entry_id: String,
        /// Its `seq`.
        seq: u64,
    },
    /// No such work order for the caller's tenant.
    #[error("no work order {id} for tenant {tenant}")]
    NotFound {
        /// Id asked for.
        id: String,
        /// The caller's tenant.
        tenant: String,
    },
}

#[cfg(test)]
mod tests;
