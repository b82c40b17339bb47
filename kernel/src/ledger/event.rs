//! Event types written by the kernel, defined once.

/// A package install began.
pub const INSTALL_STARTED: &str = "INSTALL_STARTED";
/// A package was installed (written last in the install transaction).
pub const INSTALLED: &str = "INSTALLED";
/// A package install failed; the plane is unchanged.
pub const INSTALL_FAILED: &str = "INSTALL_FAILED";
/// A package was uninstalled.
pub const UNINSTALLED: &str = "UNINSTALLED";
/// An interrupted install was rolled back or completed by recovery.
pub const INSTALL_RECOVERED: &str = "INSTALL_RECOVERED";
/// A policy was waived (e.g. unsigned package under `--dev`).
pub const POLICY_WAIVED: &str = "POLICY_WAIVED";
/// A prompt was dispatched to a provider.
pub const PROMPT_SENT: &str = "PROMPT_SENT";
/// A provider response was received.
pub const PROMPT_RECEIVED: &str = "PROMPT_RECEIVED";
/// A prompt was refused before dispatch.
pub const PROMPT_REJECTED: &str = "PROMPT_REJECTED";
/// A dispatched prompt failed.
pub const PROMPT_FAILED: &str = "PROMPT_FAILED";
/// A budget was allocated to a scope.
pub const BUDGET_ALLOCATED: &str = "BUDGET_ALLOCATED";
/// A soft budget limit was crossed.
pub const BUDGET_WARNING: &str = "BUDGET_WARNING";
/// A dangling reservation was released by recovery.
pub const BUDGET_RECOVERED: &str = "BUDGET_RECOVERED";
/// An auth token was issued.
pub const AUTH_TOKEN_ISSUED: &str = "AUTH_TOKEN_ISSUED";
/// Dev mode (auth waived) was used.
pub const AUTH_DEV_MODE: &str = "AUTH_DEV_MODE";
/// A torn tail was removed from a JSONL ledger.
pub const LEDGER_REPAIRED: &str = "LEDGER_REPAIRED";
/// A Control Plane v2 ledger entry was imported (original hashes in metadata).
pub const CP2_IMPORTED: &str = "CP2_IMPORTED";
/// A checkpoint was emitted.
pub const CHECKPOINT: &str = "CHECKPOINT";
/// The plane was initialised.
pub const PLANE_INITIALIZED: &str = "PLANE_INITIALIZED";
/// A non-prompt request (budget read or allocation, ledger read) was refused by auth.
pub const ACCESS_DENIED: &str = "ACCESS_DENIED";
/// A route request used a contract no package owns (`decision` ALLOW under `warn`, DENY under `refuse`).
pub const CONTRACT_UNGOVERNED: &str = "CONTRACT_UNGOVERNED";
/// A public key was added to the plane's trust store (logged to `HOT/governance`).
pub const TRUST_KEY_ADDED: &str = "TRUST_KEY_ADDED";
/// A compensating entry corrected a settled request's cost (signed delta; never an edit).
pub const COST_ADJUSTED: &str = "COST_ADJUSTED";
/// The router entered a degrade profile (automatic trigger or operator).
pub const DEGRADE_ENTERED: &str = "DEGRADE_ENTERED";
/// The router left a degrade profile.
pub const DEGRADE_EXITED: &str = "DEGRADE_EXITED";
/// A work order was created (`metadata.work_order` = the document, `metadata.state` = its
/// initial state); its budget scope is allocated in the same transaction.
pub const WO_CREATED: &str = "WO_CREATED";
/// A work order moved from one lifecycle state to another (`metadata.from`, `metadata.to`).
pub const WO_TRANSITIONED: &str = "WO_TRANSITIONED";
/// A work-order creation or transition was refused (illegal, role not allowed, unknown, raced).
pub const WO_TRANSITION_REFUSED: &str = "WO_TRANSITION_REFUSED";
/// A local operator read one tenant's data without a token (operator mode), recorded.
pub const OPERATOR_READ: &str = "OPERATOR_READ";
/// One agent run/step/model-call event ingested by the operations service (`cpctl serve`), one
/// entry per event: written by its first versions, still read (new ingests write
/// [`OPS_EVENTS`]).
pub const OPS_EVENT: &str = "OPS_EVENT";
/// The events of one accepted ingest request of the operations service (`metadata.events`:
/// `{id, event}` in request order, duplicates left out).
pub const OPS_EVENTS: &str = "OPS_EVENTS";
/// The cost fact of one ingested event: written by the operations service's first versions,
/// still read (new ingests write [`COST_FACTS`]).
pub const COST_FACT: &str = "COST_FACT";
/// The cost facts of the events of one event-store entry (`metadata.event_seq`, `metadata.facts`).
pub const COST_FACTS: &str = "COST_FACTS";
/// A budget alert was claimed for sending (before delivery, so that it is sent once).
pub const ALERT_SENT: &str = "ALERT_SENT";
/// Delivering a claimed budget alert failed after every retry (it is claimed again later).
pub const ALERT_FAILED: &str = "ALERT_FAILED";

/// Every event type above (the vocabulary's `event_types` must list them all).
pub const ALL: &[&str] = &[
    INSTALL_STARTED,
    INSTALLED,
    INSTALL_FAILED,
    UNINSTALLED,
    INSTALL_RECOVERED,
    POLICY_WAIVED,
    PROMPT_SENT,
    PROMPT_RECEIVED,
    PROMPT_REJECTED,
    PROMPT_FAILED,
    BUDGET_ALLOCATED,
    BUDGET_WARNING,
    BUDGET_RECOVERED,
    AUTH_TOKEN_ISSUED,
    AUTH_DEV_MODE,
    LEDGER_REPAIRED,
    CP2_IMPORTED,
    CHECKPOINT,
    PLANE_INITIALIZED,
    ACCESS_DENIED,
    CONTRACT_UNGOVERNED,
    TRUST_KEY_ADDED,
    COST_ADJUSTED,
    DEGRADE_ENTERED,
    DEGRADE_EXITED,
    WO_CREATED,
    WO_TRANSITIONED,
    WO_TRANSITION_REFUSED,
    OPERATOR_READ,
    OPS_EVENT,
    OPS_EVENTS,
    COST_FACT,
    COST_FACTS,
    ALERT_SENT,
    ALERT_FAILED,
];
