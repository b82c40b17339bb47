//! Where a route request's contract comes from, and whether it is governed.
//!
//! A contract is governed when it lies inside the plane and a package owns it (the ownership
//! registry). A request may name one that is not — a file beside the request, or a loose file
//! in the plane — and the router's `ungoverned_contracts` policy decides: `warn` routes it,
//! `refuse` does not. Either way a `CONTRACT_UNGOVERNED` entry (ALLOW or DENY, with the path and
//! the file's SHA-256) is written before anything is routed, so the ledger says which prompts
//! ran under a contract no package vouches for.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use super::config::UngovernedContracts;
use super::{NotLogged, PromptRouter, RejectCode, RouterError};
use crate::auth::Principal;
use crate::hashing::sha256_prefixed;
use crate::ledger::{NewEntry, Provenance, event};
use crate::package::receipt::current_owners;
use crate::plane::Plane;

/// Where the contract of a route request was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContractSource {
    /// Plane-relative path when the file is inside the plane, else the path as resolved.
    pub path: String,
    /// `sha256:` + hex of the file's bytes.
    pub sha256: String,
    /// Inside the plane and owned by a package.
    pub governed: bool,
}

/// The contract file a request names: plane-relative first, else relative to the request file.
pub(crate) fn resolve_contract_path(plane: &Plane, request: &Path, contract: &str) -> PathBuf {
    let in_plane = plane.resolve(contract).ok().filter(|p| p.is_file());
    in_plane.unwrap_or_else(|| request.parent().unwrap_or(Path::new(".")).join(contract))
}

/// Describes the contract file at `path` (already loaded and checked by the caller).
pub(crate) fn contract_source(plane: &Plane, path: &Path) -> Result<ContractSource, RouterError> {
    let limits = plane.config().parse_limits.clone().unwrap_or_default();
    let text = limits.read_document(path)?;
    let sha256 = sha256_prefixed(text.as_bytes());
    let relative = plane_relative(plane, path);
    // An unreadable ownership registry vouches for nothing: the contract counts as ungoverned.
    let governed = relative
        .as_deref()
        .is_some_and(|rel| current_owners(plane).map(|owners| owners.contains_key(rel)).unwrap_or(false));
    let path = relative.unwrap_or_else(|| path.display().to_string());
    Ok(ContractSource { path, sha256, governed })
}

/// `path` relative to the plane root (`/`-separated), when it lies inside the plane.
fn plane_relative(plane: &Plane, path: &Path) -> Option<String> {
    let root = plane.root().canonicalize().ok()?;
    let file = path.canonicalize().ok()?;
    let rel = file.strip_prefix(&root).ok()?;
    Some(rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"))
}

impl PromptRouter {
    /// Records the use of an ungoverned contract (`CONTRACT_UNGOVERNED`, tenant and session of
    /// the request) and applies the `ungoverned_contracts` policy: `Ok` under `warn`, a logged
    /// refusal (`CONTRACT_UNGOVERNED`) under `refuse`. Governed contracts write nothing.
    pub(crate) fn admit_contract(
        &self,
        source: &ContractSource,
        principal: &Principal,
        provenance: &Provenance,
    ) -> Result<(), RouterError> {
        if source.governed {
            return Ok(());
        }
        let refuse = self.config().ungoverned_contracts == UngovernedContracts::Refuse;
        let message = format!(
            "contract {} is not governed (no package owns it){}",
            source.path,
            if refuse {
                "; router_config ungoverned_contracts: refuse — install it in a package (cpctl template install \
                 does this for templates; for contracts, pack and install a package that declares it)"
            } else {
                "; routed under ungoverned_contracts: warn, and recorded"
            }
        );
        let entry = NewEntry::new(event::CONTRACT_UNGOVERNED)
            .decision(if refuse { "DENY" } else { "ALLOW" })
            .reason(message.clone())
            .provenance(Provenance {
                tenant_id: Some(principal.tenant.clone()),
                session_id: provenance.session_id.clone(),
                work_order_id: provenance.work_order_id.clone(),
                agent_id: provenance.agent_id.clone(),
                ..Provenance::default()
            })
            .meta("contract", json!(source))
            .meta("policy", if refuse { "refuse" } else { "warn" })
            .meta("principal", principal.principal.clone());
        let entry = crate::policy::stamp(entry, crate::policy::ROUTER_UNGOVERNED_CONTRACTS, &principal.principal);
        let logged = self.budgeter.append(vec![entry]).map_err(RouterError::Budget)?;
        let Some(entry) = logged.into_iter().next() else {
            return Err(RouterError::NotLogged { what: NotLogged::ContractUse });
        };
        if refuse {
            return Err(self.rejected(RejectCode::ContractUngoverned, message, &entry));
        }
        Ok(())
    }
}
