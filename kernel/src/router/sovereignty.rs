//! Tenant sovereignty for read surfaces (ledger queries, telemetry export, reports, AEF export,
//! the ops API): [`PromptRouter::read_scope`] decides which tenant a caller may read.
//!
//! Owns: the decision and its record. A token reads only its own tenant; naming another is
//! denied and logged (`ACCESS_DENIED`, `policy_id` `tenant.sovereignty`, `principal`,
//! `tenant_asked`, `tenant_held`, `surface`); no token, a forged or an expired one is denied and
//! logged (`AUTH_DENIED`). Operator mode — a local caller holding the plane's auth secret, who
//! could mint any tenant's token anyway — may read any one tenant, and every such read is
//! recorded (`OPERATOR_READ`, decision `ALLOW`, actor `operator:<user>`).
//! Never does: read the data itself; the surface does, for the granted tenant only.

use serde::Serialize;

use super::{PromptRouter, RejectCode, RouterError};
use crate::auth::{Action, AuthError};
use crate::ledger::{NewEntry, Provenance, event};
use crate::policy::{self, PolicyDecision};

/// Who is reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadAccess {
    /// A bearer token (the tenant read is the token's).
    Token(String),
    /// Operator mode on a local plane, by the named local user.
    Operator {
        /// Local user name (recorded as `operator:<user>`).
        user: String,
    },
}

/// What a read surface may return: one tenant's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadGrant {
    /// The tenant whose data may be read.
    pub tenant: String,
    /// Who reads (a principal, or `operator:<user>`).
    pub actor: String,
    /// Whether operator mode granted it (then `recorded_seq` is the `OPERATOR_READ` entry).
    pub operator: bool,
    /// `seq` of the `OPERATOR_READ` entry of an operator-mode read.
    pub recorded_seq: Option<u64>,
}

impl PromptRouter {
    /// The tenant `access` may read on `surface` (`otel.export`, `report`, `aef.export`,
    /// `ledger.query`, …), `asked` being the tenant the caller names (a token's own when
    /// `None`). Denials are logged and returned as [`RouterError::Rejected`].
    pub fn read_scope(
        &self,
        access: &ReadAccess,
        asked: Option<&str>,
        surface: &str,
    ) -> Result<ReadGrant, RouterError> {
        match access {
            ReadAccess::Token(token) => self.token_scope(token, asked, surface),
            ReadAccess::Operator { user } => self.operator_scope(user, asked, surface),
        }
    }

    fn token_scope(&self, token: &str, asked: Option<&str>, surface: &str) -> Result<ReadGrant, RouterError> {
        let now = self.clock.now_ms();
        let held = if self.config.auth.dev_mode {
            asked.unwrap_or_default().to_string()
        } else {
            match self.auth.verify(token, now) {
                Ok(c) => {
                    let asked = asked.unwrap_or(&c.tenant);
                    if asked != c.tenant {
                        let m = format!("{} holds a token of tenant {:?}, not {asked:?}", c.principal, c.tenant);
                        return Err(self.read_denied(
                            RejectCode::Forbidden,
                            m,
                            Some(&c.principal),
                            asked,
                            Some(&c.tenant),
                            surface,
                        ));
                    }
                    c.tenant
                }
                Err(e) => {
                    let m = if token.trim().is_empty() { "no token".to_string() } else { e.to_string() };
                    let asked = asked.unwrap_or_default();
                    return Err(self.read_denied(RejectCode::AuthDenied, m, None, asked, None, surface));
                }
            }
        };
        let p = self.authorize(token, Action::LedgerRead, &held)?;
        Ok(ReadGrant { tenant: held, actor: p.principal, operator: false, recorded_seq: None })
    }

    fn operator_scope(&self, user: &str, asked: Option<&str>, surface: &str) -> Result<ReadGrant, RouterError> {
        let actor = format!("operator:{user}");
        let Some(tenant) = asked.filter(|t| !t.is_empty()) else {
            let m = "operator mode reads one named tenant: pass --tenant".to_string();
            return Err(self.read_denied(RejectCode::InvalidInput, m, Some(&actor), "", None, surface));
        };
        if matches!(self.auth.verify("", self.clock.now_ms()), Err(AuthError::NoSecret)) {
            let m = "operator mode needs the plane's auth secret (CP_AUTH_SECRET, CP_AUTH_SECRET_FILE or the plane's operator secret file)".to_string();
            return Err(self.read_denied(RejectCode::AuthDenied, m, Some(&actor), tenant, None, surface));
        }
        let reason = format!("{actor} read tenant {tenant} through {surface} in operator mode (no token)");
        let seq = self.record_operator_read(&actor, tenant, surface, reason, "operator-mode")?;
        Ok(ReadGrant { tenant: tenant.to_string(), actor, operator: true, recorded_seq: Some(seq) })
    }

    /// Records a read of the plane's ledgers made by a local user with no token and no
    /// operator mode — `cpctl ledger query` over the plane's own files, which the caller can
    /// read anyway — as `OPERATOR_READ` (decision `ALLOW`, actor `operator:<user>`,
    /// `credential` `local-files`, `tenant_asked` the tenant named or `*` for every tenant).
    /// Returns the entry's `seq`. Such a read is never a grant: it is said and recorded.
    pub fn record_local_read(&self, user: &str, asked: Option<&str>, surface: &str) -> Result<u64, RouterError> {
        let actor = format!("operator:{user}");
        let tenant = asked.filter(|t| !t.is_empty()).unwrap_or("*");
        let what = if tenant == "*" { "every tenant".to_string() } else { format!("tenant {tenant}") };
        let reason = format!("{actor} read {what} through {surface} from the local plane's files (no token)");
        self.record_operator_read(&actor, tenant, surface, reason, "local-files")
    }

    /// Appends one `OPERATOR_READ` and returns its `seq`.
    fn record_operator_read(
        &self,
        actor: &str,
        tenant: &str,
        surface: &str,
        reason: String,
        credential: &str,
    ) -> Result<u64, RouterError> {
        let d = PolicyDecision::new(policy::TENANT_SOVEREIGNTY, "ALLOW", reason, actor);
        let e = d
            .apply(NewEntry::new(event::OPERATOR_READ))
            // No tenant provenance: the record is the operator's act, not the tenant's data (a
            // tenant-scoped export or follower does not pick it up); `tenant_asked` names it.
            .meta("surface", surface)
            .meta("tenant_asked", tenant)
            .meta("credential", credential);
        let appended = self.budgeter.append(vec![e])?;
        Ok(appended.first().map(|e| e.seq).unwrap_or_default())
    }

    /// Logs a read denial (`ACCESS_DENIED` under the tenant asked) and returns its error.
    fn read_denied(
        &self,
        code: RejectCode,
        message: String,
        principal: Option<&str>,
        asked: &str,
        held: Option<&str>,
        surface: &str,
    ) -> RouterError {
        let actor = principal.unwrap_or("unknown");
        let pid = if held.is_some() { policy::TENANT_SOVEREIGNTY } else { policy::of_reject_code(code.as_str()) };
        let d = PolicyDecision::new(pid, "DENY", message.clone(), actor);
        let e = d
            .apply(NewEntry::new(event::ACCESS_DENIED))
            .provenance(Provenance {
                tenant_id: Some(asked.to_string()).filter(|t| !t.is_empty()),
                ..Provenance::default()
            })
            .meta("code", code.as_str())
            .meta("action", "ledger.read")
            .meta("surface", surface)
            .meta("principal", principal.map(str::to_string))
            .meta("tenant_asked", asked)
            .meta("tenant_held", held.map(str::to_string));
        match self.budgeter.append(vec![e]).map(|v| v.into_iter().next()) {
            Ok(Some(entry)) => self.rejected(code, message, &entry),
            Ok(None) => RouterError::NotLogged { what: super::NotLogged::Denial },
            Err(err) => RouterError::Budget(err),
        }
    }
}
