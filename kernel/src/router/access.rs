//! Request scope: the tenant and principal of every context assembly and every route come from
//! the verified token and nowhere else.
//!
//! Owns: finding every field of a request document that names a tenant or a session
//! ([`scope_fields`]); [`PromptRouter::authorize_scope`], which verifies the token and refuses —
//! logged as `ACCESS_DENIED`, before anything of any tenant is read — a request naming another
//! tenant, or a session that another tenant's ledger entries carry; and the loaders of the two
//! request files (`route_request`, `attention_request` schemas, located errors) that run that
//! check before they build the typed request with the token's tenant.
//!
//! Never does: read entry content for the caller (the session check compares tenant ids only),
//! or record a named session in an entry's provenance (a refusal would otherwise claim the
//! session for the caller's tenant); it goes to `metadata.named` instead.
//!
//! A session belongs to the tenant whose entries first carry it: once any ledger of the plane
//! holds an entry with `session_id = S` and `tenant_id = T`, only tokens of `T` may name `S`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::contract_source::{ContractSource, contract_source, resolve_contract_path};
use super::{NotLogged, PromptRequest, PromptRouter, RejectCode, RequestFile, RoutedContext, RouterError, denial_code};
use crate::attention::AttentionRequest;
use crate::auth::{Action, Denial, DenialKind, Principal};
use crate::contract::PromptContract;
use crate::ledger::{LedgerError, LedgerQuery, LedgerSet, NewEntry, Provenance, event};
use crate::plane::Plane;
use crate::schema::{DocumentError, SchemaSet};

/// Schema of `cpctl route --request` files.
pub const ROUTE_REQUEST_SCHEMA: &str = "route_request";
/// Schema of `cpctl attention assemble|explain --request` files.
pub const ATTENTION_REQUEST_SCHEMA: &str = "attention_request";
/// Actions that allow routing a prompt.
pub const ROUTE_ACTIONS: &[Action] = &[Action::Route];
/// Actions that allow assembling a context (it reads the tenant's ledger entries).
pub const ASSEMBLE_ACTIONS: &[Action] = &[Action::Route, Action::LedgerRead];

/// Keys that name a tenant, wherever they appear in a request.
const TENANT_KEYS: &[&str] = &["tenant_id", "tenant"];
/// Keys that name a session, wherever they appear in a request.
const SESSION_KEYS: &[&str] = &["session_id", "session"];

/// What a request field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NamedScope {
    /// A tenant.
    Tenant,
    /// A session.
    Session,
}

/// A field of a request that names a tenant or a session.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ScopeField {
    /// JSON pointer of the field in the request (`/attention/tenant_id`).
    pub pointer: String,
    /// What it names.
    pub kind: NamedScope,
    /// The value (non-string values as their JSON text, which never equals a tenant id).
    pub value: String,
}

/// Every field of `doc`, at any depth, whose key names a tenant (`tenant_id`, `tenant`) or a
/// session (`session_id`, `session`) with a scalar value; `null`, objects and arrays name
/// nothing (their contents are walked).
pub fn scope_fields(doc: &Value) -> Vec<ScopeField> {
    let mut out = Vec::new();
    walk(doc, "", &mut out);
    out
}

fn walk(v: &Value, at: &str, out: &mut Vec<ScopeField>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let pointer = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                let kind = if TENANT_KEYS.contains(&k.as_str()) {
                    Some(NamedScope::Tenant)
                } else if SESSION_KEYS.contains(&k.as_str()) {
                    Some(NamedScope::Session)
                } else {
                    None
                };
                match (kind, x) {
                    // An object or array under such a key (a JSON Schema property named
                    // `tenant`, say) names nothing itself; its scalars are still walked.
                    (Some(_), Value::Null | Value::Object(_) | Value::Array(_)) | (None, _) => {}
                    (Some(kind), Value::String(s)) => {
                        out.push(ScopeField { pointer: pointer.clone(), kind, value: s.clone() })
                    }
                    (Some(kind), other) => {
                        out.push(ScopeField { pointer: pointer.clone(), kind, value: other.to_string() })
                    }
                }
                walk(x, &pointer, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                walk(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A route request file read and schema-checked, not yet authorised.
#[derive(Debug, Clone)]
pub struct RouteRequestDoc {
    /// The file.
    pub path: PathBuf,
    /// Its document.
    pub value: Value,
    /// Its typed form.
    pub file: RequestFile,
}

/// A route request after [`PromptRouter::authorize_route_request`]: tenant from the token.
#[derive(Debug, Clone)]
pub struct AuthorizedRoute {
    /// The prompt request (provenance tenant = the token's).
    pub prompt: PromptRequest,
    /// The attention request to assemble the context with, when the file has an `attention`
    /// section (tenant = the token's).
    pub attention: Option<AttentionRequest>,
    /// Who the token is.
    pub principal: Principal,
    /// Where the contract was read from and whether a package owns it (an ungoverned one has
    /// been recorded as `CONTRACT_UNGOVERNED` and admitted under the `warn` policy).
    pub contract_source: ContractSource,
}

fn decode_err(path: &Path, message: impl Into<String>) -> RouterError {
    RouterError::Document(DocumentError::Decode { path: path.to_path_buf(), message: message.into() })
}

fn read_checked(plane: &Plane, schema: &str, path: &Path) -> Result<Value, RouterError> {
    let schemas = SchemaSet::for_plane(plane)?;
    // The bounded reader: a regular file within the plane's document limit; a FIFO or a device
    // is refused unread.
    let text = plane.config().parse_limits.clone().unwrap_or_default().read_document(path)?;
    Ok(schemas.check_str(schema, path, &text)?.value)
}

impl RequestFile {
    /// Reads a route request file and checks it against the `route_request` schema (every
    /// violation with its line, column and field path). Nothing is authorised or resolved yet.
    pub fn read(plane: &Plane, path: &Path) -> Result<RouteRequestDoc, RouterError> {
        let value = read_checked(plane, ROUTE_REQUEST_SCHEMA, path)?;
        let file: RequestFile = serde_json::from_value(value.clone()).map_err(|e| decode_err(path, e.to_string()))?;
        if file.attention.is_some() && file.context.is_some() {
            return Err(decode_err(path, "give either `context` (text) or `attention` (assemble it), not both"));
        }
        Ok(RouteRequestDoc { path: path.to_path_buf(), value, file })
    }
}

/// Reads an attention request file and checks it against the `attention_request` schema.
pub fn read_attention_request(plane: &Plane, path: &Path) -> Result<Value, RouterError> {
    read_checked(plane, ATTENTION_REQUEST_SCHEMA, path)
}

/// Decodes an attention request document with `tenant` as its tenant.
pub fn attention_request_for(path: &Path, mut value: Value, tenant: &str) -> Result<AttentionRequest, RouterError> {
    if let Some(m) = value.as_object_mut() {
        m.insert("tenant_id".into(), json!(tenant));
    }
    serde_json::from_value(value).map_err(|e| decode_err(path, format!("not an attention request: {e}")))
}

impl PromptRouter {
    /// Verifies `token` (one of `actions` must be granted) and checks every named scope: a
    /// tenant field must be the token's tenant, a session must not belong to another tenant
    /// (see the module docs). A refusal is logged as `ACCESS_DENIED` before anything is read
    /// and returned as [`RouterError::Rejected`]. In dev mode the tenant is the first one named.
    pub fn authorize_scope(
        &self,
        plane: &Plane,
        token: &str,
        actions: &[Action],
        fields: &[ScopeField],
    ) -> Result<Principal, RouterError> {
        let action = actions.first().copied().unwrap_or(Action::Route);
        let dev_tenant = fields.iter().find(|f| f.kind == NamedScope::Tenant).map(|f| f.value.as_str());
        let principal = self
            .auth
            .authenticate(token, actions, dev_tenant, self.clock.now_ms())
            .map_err(|d| self.deny_scope(denial_code(&d), &d, action, None, None))?;
        for f in fields {
            let foreign = match f.kind {
                NamedScope::Tenant => f.value != principal.tenant,
                NamedScope::Session => self.session_of_other_tenant(plane, &f.value, &principal.tenant)?,
            };
            if foreign {
                let message = match f.kind {
                    NamedScope::Tenant => format!(
                        "{} names tenant {:?}, the token is bound to tenant {:?}",
                        f.pointer, f.value, principal.tenant
                    ),
                    NamedScope::Session => {
                        format!("{} names session {:?}, which belongs to another tenant", f.pointer, f.value)
                    }
                };
                let d = Denial {
                    kind: DenialKind::Forbidden,
                    principal: Some(principal.principal.clone()),
                    message,
                    tenant_held: Some(principal.tenant.clone()),
                };
                let tenant = Some(principal.tenant.as_str());
                return Err(self.deny_scope(RejectCode::AccessDenied, &d, action, tenant, Some(f)));
            }
        }
        Ok(principal)
    }

    /// Whether any ledger of the plane (and the router's own) holds an entry of session
    /// `session` whose tenant is not `tenant`.
    fn session_of_other_tenant(&self, plane: &Plane, session: &str, tenant: &str) -> Result<bool, RouterError> {
        let q = LedgerQuery {
            provenance: Provenance { session_id: Some(session.to_string()), ..Provenance::default() },
            ..LedgerQuery::default()
        };
        let other = |entries: Vec<crate::ledger::LedgerEntry>| {
            entries.iter().any(|e| e.tenant_id.as_deref().is_some_and(|t| t != tenant))
        };
        if other(self.store().query(&q)?) {
            return Ok(true);
        }
        let set = LedgerSet::new(plane);
        for name in set.list()? {
            let store = match set.open_existing(&name.to_string()) {
                Ok(s) => s,
                Err(LedgerError::NotFound(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            if other(store.query(&q)?) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Logs `ACCESS_DENIED` (tenant = the caller's when known; the named field in metadata)
    /// and returns the refusal.
    fn deny_scope(
        &self,
        code: RejectCode,
        d: &Denial,
        action: Action,
        tenant: Option<&str>,
        field: Option<&ScopeField>,
    ) -> RouterError {
        let mut e = NewEntry::new(event::ACCESS_DENIED)
            .decision("DENY")
            .reason(d.message.clone())
            .provenance(Provenance { tenant_id: tenant.map(str::to_string), ..Provenance::default() })
            .meta("code", code.as_str())
            .meta("action", action.as_str())
            .meta("principal", d.principal.clone())
            .meta("tenant_held", d.tenant_held.clone());
        if let Some(f) = field {
            e = e.meta("named", json!({"field": f.pointer, "kind": f.kind, "value": f.value}));
        }
        match self.budgeter.append(vec![e]).map(|v| v.into_iter().next()) {
            Ok(Some(entry)) => self.rejected(code, d.message.clone(), &entry),
            Ok(None) => RouterError::NotLogged { what: NotLogged::Denial },
            Err(err) => RouterError::Budget(err),
        }
    }

    /// Authorises a route request file (action `route`; `token` overrides the file's
    /// `auth_token`) and resolves it: provenance and attention tenant = the token's tenant,
    /// contract loaded (plane-relative, else relative to the file) only after authorisation.
    pub fn authorize_route_request(
        &self,
        plane: &Plane,
        doc: RouteRequestDoc,
        token: Option<String>,
    ) -> Result<AuthorizedRoute, RouterError> {
        let RouteRequestDoc { path, value, file: f } = doc;
        let token = token.or(f.auth_token.clone()).unwrap_or_default();
        let principal = self.authorize_scope(plane, &token, ROUTE_ACTIONS, &scope_fields(&value))?;
        let cpath = resolve_contract_path(plane, &path, &f.contract);
        let contract = PromptContract::load_in_plane(plane, &SchemaSet::for_plane(plane)?, &cpath)?;
        let contract_source = contract_source(plane, &cpath)?;
        let mut provenance = f.provenance;
        provenance.tenant_id = Some(principal.tenant.clone());
        self.admit_contract(&contract_source, &principal, &provenance)?;
        let attention = match f.attention {
            None => None,
            Some(section) => Some(attention_from_section(&path, &provenance, &contract, section, &principal.tenant)?),
        };
        let prompt = PromptRequest {
            context: RoutedContext::from_text(f.context.unwrap_or_default()),
            contract,
            input: if f.input.is_null() { json!({}) } else { f.input },
            provenance,
            auth_token: token,
        };
        Ok(AuthorizedRoute { prompt, attention, principal, contract_source })
    }

    /// Authorises an attention request document (actions `route` or `ledger.read`) and decodes
    /// it with the token's tenant.
    pub fn authorize_attention_request(
        &self,
        plane: &Plane,
        path: &Path,
        value: Value,
        token: &str,
    ) -> Result<(AttentionRequest, Principal), RouterError> {
        let principal = self.authorize_scope(plane, token, ASSEMBLE_ACTIONS, &scope_fields(&value))?;
        Ok((attention_request_for(path, value, &principal.tenant)?, principal))
    }
}

/// The attention request of a route file: its `attention` section over the request's
/// provenance and contract; the tenant is always `tenant`.
fn attention_from_section(
    path: &Path,
    p: &Provenance,
    contract: &PromptContract,
    section: Value,
    tenant: &str,
) -> Result<AttentionRequest, RouterError> {
    let mut base: Map<String, Value> = json!({
        "session_id": p.session_id, "work_order_id": p.work_order_id,
        "framework_id": p.framework_id, "prompt_contract": contract,
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    match section {
        Value::Object(extra) => base.extend(extra),
        _ => return Err(decode_err(path, "/attention: expected an object")),
    }
    attention_request_for(path, Value::Object(base), tenant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_fields_finds_tenants_and_sessions_at_any_depth() {
        let doc = json!({
            "provenance": {"tenant_id": "a", "session_id": "s"},
            "attention": {"tenant_id": "b", "nested": [{"tenant": "c"}, {"session": 7}]},
            "input": {"session_id": null, "other": "x", "tenant": {"type": "string"}}
        });
        let mut got: Vec<(String, NamedScope, String)> =
            scope_fields(&doc).into_iter().map(|f| (f.pointer, f.kind, f.value)).collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            got,
            vec![
                ("/attention/nested/0/tenant".into(), NamedScope::Tenant, "c".into()),
                ("/attention/nested/1/session".into(), NamedScope::Session, "7".into()),
                ("/attention/tenant_id".into(), NamedScope::Tenant, "b".into()),
                ("/provenance/session_id".into(), NamedScope::Session, "s".into()),
                ("/provenance/tenant_id".into(), NamedScope::Tenant, "a".into()),
            ]
        );
    }
}
