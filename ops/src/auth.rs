//! Who may call the service: a bearer token of the kernel's HMAC format (`cp1.…`), verified
//! with the plane's auth secret, carrying a role of `auth.ingest_roles` (to write) or
//! `auth.read_roles` (to read); the caller acts for the token's tenant only. `--dev` waives the
//! check (loopback only, logged as `POLICY_WAIVED` at start).

use cp_kernel::{AuthSecret, Clock, verify_token};

use crate::config::OpsAuthConfig;

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Write events or adjustments.
    Ingest,
    /// Read metrics.
    Read,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Principal (`dev` in dev mode).
    pub principal: String,
    /// The tenant the token is bound to; `None` in dev mode (any tenant).
    pub tenant: Option<String>,
}

/// A refused request: 401 (no valid token) or 403 (valid token, wrong role or tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// Why.
    pub message: String,
    /// Principal when the token verified.
    pub principal: Option<String>,
    /// The tenant the request named, when it named one.
    pub tenant_asked: Option<String>,
    /// The tenant the verified token is bound to.
    pub tenant_held: Option<String>,
}

impl Refusal {
    /// The kernel's reject code of this refusal: `AUTH_DENIED` (no valid token), `ACCESS_DENIED`
    /// (a token of another tenant) or `FORBIDDEN` (a role without the right).
    pub fn code(&self) -> &'static str {
        match (self.status, &self.tenant_asked, &self.tenant_held) {
            (401, _, _) => "AUTH_DENIED",
            (_, Some(a), Some(h)) if a != h => "ACCESS_DENIED",
            _ => "FORBIDDEN",
        }
    }
}

/// The authoriser.
pub struct Gate {
    secret: Option<AuthSecret>,
    dev: bool,
    roles: OpsAuthConfig,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate").field("dev", &self.dev).field("secret", &self.secret.is_some()).finish()
    }
}

impl Gate {
    /// A gate; without a secret every token is refused (unless `dev`).
    pub fn new(secret: Option<AuthSecret>, dev: bool, roles: OpsAuthConfig) -> Self {
        Self { secret, dev, roles }
    }

    /// Whether the check is waived.
    pub fn dev(&self) -> bool {
        self.dev
    }

    /// Checks the `Authorization` header value for `need` at the clock's time.
    pub fn check(&self, header: Option<&str>, need: Need, clock: &dyn Clock) -> Result<Caller, Refusal> {
        if self.dev {
            return Ok(Caller { principal: "dev".into(), tenant: None });
        }
        let denied = |m: &str| Refusal {
            status: 401,
            message: m.to_string(),
            principal: None,
            tenant_asked: None,
            tenant_held: None,
        };
        let Some(secret) = &self.secret else {
            return Err(denied("no auth secret is configured; every token is refused"));
        };
        let token = header
            .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| denied("missing Authorization: Bearer <token>"))?;
        let claims = verify_token(secret, token, clock.now_ms()).map_err(|e| denied(&e.to_string()))?;
        let allowed = match need {
            Need::Ingest => &self.roles.ingest_roles,
            Need::Read => &self.roles.read_roles,
        };
        if !claims.roles.iter().any(|r| allowed.contains(r)) {
            return Err(Refusal {
                status: 403,
                message: format!("roles {} grant none of {}", claims.roles.join(","), allowed.join(",")),
                principal: Some(claims.principal),
                tenant_asked: None,
                tenant_held: Some(claims.tenant),
            });
        }
        Ok(Caller { principal: claims.principal, tenant: Some(claims.tenant) })
    }
}

impl Caller {
    /// The tenant a request acts for: the token's (a differing `asked` tenant is refused with
    /// 403), or in dev mode the asked one, else `dev_tenant`.
    pub fn tenant_for(&self, asked: Option<&str>, dev_tenant: &str) -> Result<String, Refusal> {
        match (&self.tenant, asked) {
            (Some(t), Some(a)) if t != a => Err(Refusal {
                status: 403,
                message: format!("token is bound to tenant {t:?}, not {a:?}"),
                principal: Some(self.principal.clone()),
                tenant_asked: Some(a.to_string()),
                tenant_held: Some(t.clone()),
            }),
            (Some(t), _) => Ok(t.clone()),
            (None, Some(a)) => Ok(a.to_string()),
            (None, None) => Ok(dev_tenant.to_string()),
        }
    }
}
