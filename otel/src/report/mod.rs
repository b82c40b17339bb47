//! The compliance report: an EU AI Act-style traceability record of one tenant's session or
//! time window — per prompt who asked (principal, tenant, agent), under which work order,
//! template and contract, which sources (ids, content hashes, ranks), which provider and model,
//! tokens, cost and price-book version, output hash and validation; every budget, auth and
//! gate decision in the window; and the chain proof of each ledger (first/last entry hash of the
//! window, the latest signed checkpoint, the `verify` result). Rendered as HTML or PDF from one
//! list of sections, so both carry the same facts.

mod html;
mod model;
mod pdf;

pub use html::render_html;
pub use model::{ChainProof, ComplianceReport, Section, build_report};
pub use pdf::render_pdf;
