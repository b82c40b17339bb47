//! HMAC-SHA256 auth tokens bound to a principal, roles, a tenant and an expiry, and the
//! roles → actions authorisation the router applies before anything is sent or read.
//!
//! Owns: token format, issuing, constant-time verification, the secret's sources, and the
//! [`AuthConfig`] section of `router_config`. Never does: write the ledger (the router logs
//! issuance, denials and dev mode) or accept a token it cannot verify (no "any non-empty token").
//!
//! Token format: `cp1.<hex(payload JSON)>.<hex(HMAC-SHA256(secret, "cp1.<hex(payload JSON)>"))>`
//! where the payload is [`TokenClaims`]. The secret comes from the file named by
//! `CP_AUTH_SECRET_FILE` (which must lie outside the plane), else from `CP_AUTH_SECRET`, else
//! from the plane's operator secret `HOT/plane/auth-secret` ([`AuthSecret::for_plane`]): in the
//! operator area (not a governed root, never packaged, never read by the attention service),
//! mode 0600, created by `cpctl quickstart` or `cpctl auth issue` when no secret exists.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::env_vars;
use crate::fsx::{self, FsError};

/// Token format prefix.
pub(crate) const TOKEN_PREFIX: &str = "cp1";

/// Errors of the auth module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Reading the secret file failed.
    #[error(transparent)]
    Io(#[from] FsError),
    /// Neither secret source is set.
    #[error(
        "no auth secret: set {} (a file outside the plane) or {}",
        env_vars::CP_AUTH_SECRET_FILE,
        env_vars::CP_AUTH_SECRET
    )]
    NoSecret,
    /// The secret file lies inside the plane.
    #[error("auth secret file {} lies inside the plane {}; keep it outside", path.display(), plane.display())]
    SecretInsidePlane {
        /// The file.
        path: PathBuf,
        /// The plane root.
        plane: PathBuf,
    },
    /// The secret is too short.
    #[error("auth secret from {source_name} has {got} bytes, at least {min} required")]
    SecretTooShort {
        /// Where it came from.
        source_name: String,
        /// Its length.
        got: usize,
        /// Minimum (`auth.min_secret_bytes`).
        min: usize,
    },
    /// The token is malformed, forged or expired.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// A TTL beyond the configured maximum was asked for.
    #[error("ttl {asked} s exceeds auth.max_ttl_s {max} s")]
    TtlTooLong {
        /// Asked.
        asked: u64,
        /// Maximum.
        max: u64,
    },
    /// A role not in the config.
    #[error("unknown role {0:?} (not in router_config auth.roles)")]
    UnknownRole(String),
    /// The operator secret file is readable by others than its owner.
    #[error("auth secret {} has mode {mode:o}; it must be 600 (chmod 600 {})", path.display(), path.display())]
    SecretPermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A TTL of 0 s: the token would be expired when issued.
    #[error("ttl 0 s: a token must live at least one second")]
    TtlZero,
}

/// File name of the operator secret in the plane's operator area (`HOT/plane/`).
pub const OPERATOR_SECRET_FILE: &str = "auth-secret";

/// An action a role may be granted (the strings of `auth.roles` in `router_config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Route a prompt.
    #[serde(rename = "route")]
    Route,
    /// Read a tenant's budget.
    #[serde(rename = "budget.read")]
    BudgetRead,
    /// Allocate a budget.
    #[serde(rename = "budget.allocate")]
    BudgetAllocate,
    /// Release dangling reservations.
    #[serde(rename = "budget.recover")]
    BudgetRecover,
    /// Read a tenant's ledger entries.
    #[serde(rename = "ledger.read")]
    LedgerRead,
    /// Issue tokens.
    #[serde(rename = "auth.issue")]
    AuthIssue,
}

impl Action {
    /// The config string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Route => "route",
            Self::BudgetRead => "budget.read",
            Self::BudgetAllocate => "budget.allocate",
            Self::BudgetRecover => "budget.recover",
            Self::LedgerRead => "ledger.read",
            Self::AuthIssue => "auth.issue",
        }
    }
}

/// The `auth` section of `router_config`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Waive token checks (each router start in dev mode logs `AUTH_DEV_MODE`; default false).
    pub dev_mode: bool,
    /// Token lifetime when none is asked for (seconds; default 3600).
    pub default_ttl_s: u64,
    /// Longest lifetime that may be issued (seconds; default 2592000 = 30 days).
    pub max_ttl_s: u64,
    /// Minimum secret length (bytes; default 32).
    pub min_secret_bytes: usize,
    /// Role → actions granted.
    pub roles: BTreeMap<String, Vec<Action>>,
}

/// The HMAC secret (never printed).
#[derive(Clone)]
pub struct AuthSecret(Vec<u8>);

impl fmt::Debug for AuthSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthSecret(<{} bytes>)", self.0.len())
    }
}

impl AuthSecret {
    /// A secret from bytes, at least `min` long.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>, min: usize, source_name: &str) -> Result<Self, AuthError> {
        let b = bytes.into();
        if b.len() < min {
            return Err(AuthError::SecretTooShort { source_name: source_name.to_string(), got: b.len(), min });
        }
        Ok(Self(b))
    }

    /// The secret from `CP_AUTH_SECRET_FILE` (refused inside `plane_root`; trailing newline
    /// trimmed), else `CP_AUTH_SECRET`.
    pub fn from_env(plane_root: &Path, min: usize) -> Result<Self, AuthError> {
        let file = std::env::var_os(env_vars::CP_AUTH_SECRET_FILE).map(PathBuf::from);
        let value = std::env::var(env_vars::CP_AUTH_SECRET).ok();
        Self::from_sources(file.as_deref(), value.as_deref(), plane_root, min)
    }

    /// The secret from a file (which must lie outside `plane_root`), else from a value.
    pub fn from_sources(
        file: Option<&Path>,
        value: Option<&str>,
        plane_root: &Path,
        min: usize,
    ) -> Result<Self, AuthError> {
        if let Some(path) = file {
            let real = fsx::canonicalize(path)?;
            let root = fsx::canonicalize(plane_root).unwrap_or_else(|_| plane_root.to_path_buf());
            if real.starts_with(&root) {
                return Err(AuthError::SecretInsidePlane { path: path.to_path_buf(), plane: root });
            }
            let mut bytes = fsx::read(&real)?;
            while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                bytes.pop();
            }
            return Self::from_bytes(bytes, min, &path.display().to_string());
        }
        match value {
            Some(s) if !s.is_empty() => Self::from_bytes(s.as_bytes().to_vec(), min, env_vars::CP_AUTH_SECRET),
            _ => Err(AuthError::NoSecret),
        }
    }

    /// Where the plane keeps its operator secret: `HOT/plane/auth-secret` (the operator area of
    /// the layout, outside every governed root).
    pub fn operator_path(plane: &crate::Plane) -> PathBuf {
        plane.dir(crate::Tier::Hot, "plane").join(OPERATOR_SECRET_FILE)
    }

    /// The plane's secret: `CP_AUTH_SECRET_FILE`, else `CP_AUTH_SECRET`, else the operator
    /// secret file (refused unless mode 0600); [`AuthError::NoSecret`] when none exists. Also
    /// returns where it came from.
    pub fn for_plane(plane: &crate::Plane, min: usize) -> Result<(Self, String), AuthError> {
        match Self::from_env(plane.root(), min) {
            Ok(s) => return Ok((s, "environment".into())),
            Err(AuthError::NoSecret) => {}
            Err(e) => return Err(e),
        }
        let path = Self::operator_path(plane);
        if !path.is_file() {
            return Err(AuthError::NoSecret);
        }
        check_private(&path)?;
        let mut bytes = fsx::read(&path)?;
        while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            bytes.pop();
        }
        let s = Self::from_bytes(bytes, min, &path.display().to_string())?;
        Ok((s, path.display().to_string()))
    }

    /// As [`AuthSecret::for_plane`], creating the operator secret (random, hex, mode 0600) when
    /// no secret exists. The flag says whether it was created.
    pub fn ensure_for_plane(plane: &crate::Plane, min: usize) -> Result<(Self, String, bool), AuthError> {
        match Self::for_plane(plane, min) {
            Ok((s, from)) => return Ok((s, from, false)),
            Err(AuthError::NoSecret) => {}
            Err(e) => return Err(e),
        }
        let path = Self::operator_path(plane);
        let mut bytes = vec![0u8; min.max(32)];
        getrandom::fill(&mut bytes)
            .map_err(|e| FsError::new("generate secret for", &path, std::io::Error::other(e.to_string())))?;
        write_private(&path, const_hex::encode(&bytes).as_bytes())?;
        let (s, from) = Self::for_plane(plane, min)?;
        Ok((s, from, true))
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length; the error branch is unreachable but kept typed.
        match <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) {
            Ok(mut m) => {
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }
}

/// Refuses a secret file that its group or others may read (unix).
fn check_private(path: &Path) -> Result<(), AuthError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fsx::metadata(path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(AuthError::SecretPermissions { path: path.to_path_buf(), mode });
        }
    }
    Ok(())
}

/// Creates `path` (new, mode 0600 on unix) with `data`, synced.
fn write_private(path: &Path, data: &[u8]) -> Result<(), AuthError> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        fsx::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = fsx::open_with(path, &opts)?;
    f.write_all(data).and_then(|()| f.sync_all()).map_err(|e| FsError::new("write", path, e))?;
    Ok(())
}

/// What a token asserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenClaims {
    /// Who.
    pub principal: String,
    /// Roles (keys of `auth.roles`).
    pub roles: Vec<String>,
    /// The only tenant the token may act for.
    pub tenant: String,
    /// Issue time (Unix ms).
    pub issued_at_ms: u64,
    /// Expiry (Unix ms, exclusive).
    pub expires_at_ms: u64,
    /// Unique token id.
    pub token_id: String,
}

/// Issues a signed token for `claims`.
pub fn issue(secret: &AuthSecret, claims: &TokenClaims) -> String {
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let signed = format!("{TOKEN_PREFIX}.{}", const_hex::encode(payload));
    let mac = secret.mac(signed.as_bytes());
    format!("{signed}.{}", const_hex::encode(mac))
}

/// Decodes a token's claims WITHOUT verifying it (for `cpctl auth inspect`).
pub fn decode_unverified(token: &str) -> Result<TokenClaims, AuthError> {
    let bad = |m: &str| AuthError::InvalidToken(m.to_string());
    let mut parts = token.trim().split('.');
    let (Some(prefix), Some(payload), Some(_mac), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("expected cp1.<payload>.<mac>"));
    };
    if prefix != TOKEN_PREFIX {
        return Err(bad("unknown token version"));
    }
    let bytes = const_hex::decode(payload).map_err(|_| bad("payload is not hex"))?;
    serde_json::from_slice(&bytes).map_err(|e| AuthError::InvalidToken(format!("payload: {e}")))
}

/// Verifies a token's MAC (constant time) and expiry at `now_ms`; returns its claims.
pub fn verify(secret: &AuthSecret, token: &str, now_ms: u64) -> Result<TokenClaims, AuthError> {
    let token = token.trim();
    let (signed, mac_hex) =
        token.rsplit_once('.').ok_or_else(|| AuthError::InvalidToken("expected cp1.<payload>.<mac>".into()))?;
    let given = const_hex::decode(mac_hex).map_err(|_| AuthError::InvalidToken("mac is not hex".into()))?;
    let want = secret.mac(signed.as_bytes());
    if want.is_empty() || !bool::from(want.ct_eq(&given)) {
        return Err(AuthError::InvalidToken("signature does not verify".into()));
    }
    let claims = decode_unverified(token)?;
    if now_ms >= claims.expires_at_ms {
        return Err(AuthError::InvalidToken(format!("expired at {} ms", claims.expires_at_ms)));
    }
    Ok(claims)
}

/// Why access was denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum DenialKind {
    /// No valid token (missing, malformed, forged, expired, no secret).
    AuthDenied,
    /// A valid token without the right (action or tenant).
    Forbidden,
}

/// A denial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Denial {
    /// Kind.
    pub kind: DenialKind,
    /// Principal, when the token verified.
    pub principal: Option<String>,
    /// Why.
    pub message: String,
    /// The tenant the verified token is bound to, when it verified.
    pub tenant_held: Option<String>,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// Who (`dev` in dev mode).
    pub principal: String,
    /// Roles.
    pub roles: Vec<String>,
    /// Tenant.
    pub tenant: String,
    /// Token id (empty in dev mode).
    pub token_id: String,
    /// Whether dev mode waived the check.
    pub dev_mode: bool,
}

/// Authorises actions with a config and a secret.
#[derive(Debug, Clone)]
pub(crate) struct Authorizer {
    config: AuthConfig,
    secret: Option<AuthSecret>,
}

/// An `AUTH_DENIED` denial (no valid token) with `message`.
fn auth_denied(message: String) -> Denial {
    Denial { kind: DenialKind::AuthDenied, principal: None, message, tenant_held: None }
}

/// The principal of dev mode: nothing verified, the tenant the request names.
fn dev_principal(tenant: &str) -> Principal {
    Principal {
        principal: "dev".into(),
        roles: Vec::new(),
        tenant: tenant.to_string(),
        token_id: String::new(),
        dev_mode: true,
    }
}

impl From<TokenClaims> for Principal {
    fn from(c: TokenClaims) -> Self {
        Principal { principal: c.principal, roles: c.roles, tenant: c.tenant, token_id: c.token_id, dev_mode: false }
    }
}

impl Authorizer {
    /// An authorizer; without a secret every token is denied (unless dev mode).
    pub(crate) fn new(config: AuthConfig, secret: Option<AuthSecret>) -> Self {
        Self { config, secret }
    }

    /// Checks that `token` is valid at `now_ms`, grants `action`, and is bound to `tenant`.
    pub(crate) fn authorize(
        &self,
        token: &str,
        action: Action,
        tenant: &str,
        now_ms: u64,
    ) -> Result<Principal, Denial> {
        if self.config.dev_mode {
            return Ok(dev_principal(tenant));
        }
        let c = self.verified(token, now_ms)?;
        let forbidden = |m: String| Denial {
            kind: DenialKind::Forbidden,
            principal: Some(c.principal.clone()),
            message: m,
            tenant_held: Some(c.tenant.clone()),
        };
        let granted = c.roles.iter().any(|r| self.config.roles.get(r).is_some_and(|a| a.contains(&action)));
        if !granted {
            return Err(forbidden(format!("roles {:?} do not grant {}", c.roles, action.as_str())));
        }
        if !bool::from(c.tenant.as_bytes().ct_eq(tenant.as_bytes())) {
            return Err(forbidden(format!("token is bound to tenant {:?}, not {tenant:?}", c.tenant)));
        }
        Ok(Principal::from(c))
    }

    /// Verifies `token` at `now_ms` and checks that it grants one of `actions`; the tenant is
    /// the token's own. In dev mode nothing is verified and the tenant is `dev_tenant` (the one
    /// the request names), refused when the request names none.
    pub(crate) fn authenticate(
        &self,
        token: &str,
        actions: &[Action],
        dev_tenant: Option<&str>,
        now_ms: u64,
    ) -> Result<Principal, Denial> {
        if self.config.dev_mode {
            let tenant = dev_tenant
                .filter(|t| !t.is_empty())
                .ok_or_else(|| auth_denied("dev mode has no token to take the tenant from: name tenant_id".into()))?;
            return Ok(dev_principal(tenant));
        }
        let c = self.verified(token, now_ms)?;
        let granted =
            c.roles.iter().any(|r| self.config.roles.get(r).is_some_and(|a| actions.iter().any(|x| a.contains(x))));
        if !granted {
            let wanted: Vec<&str> = actions.iter().map(|a| a.as_str()).collect();
            return Err(Denial {
                kind: DenialKind::Forbidden,
                principal: Some(c.principal.clone()),
                message: format!("roles {:?} grant none of {}", c.roles, wanted.join(", ")),
                tenant_held: Some(c.tenant.clone()),
            });
        }
        Ok(Principal::from(c))
    }

    /// The claims of `token` when a secret is configured and the token verifies at `now_ms`.
    fn verified(&self, token: &str, now_ms: u64) -> Result<TokenClaims, Denial> {
        let Some(secret) = &self.secret else {
            return Err(auth_denied("no auth secret is configured, every token is refused".into()));
        };
        if token.trim().is_empty() {
            return Err(auth_denied("no token".into()));
        }
        verify(secret, token, now_ms).map_err(|e| auth_denied(e.to_string()))
    }

    /// Claims for a new token; checks the roles exist and the TTL is allowed.
    pub(crate) fn claims(
        &self,
        principal: &str,
        roles: &[String],
        tenant: &str,
        ttl_s: Option<u64>,
        now_ms: u64,
    ) -> Result<TokenClaims, AuthError> {
        for r in roles {
            if !self.config.roles.contains_key(r) {
                return Err(AuthError::UnknownRole(r.clone()));
            }
        }
        let ttl = ttl_s.unwrap_or(self.config.default_ttl_s);
        if ttl == 0 {
            return Err(AuthError::TtlZero);
        }
        if ttl > self.config.max_ttl_s {
            return Err(AuthError::TtlTooLong { asked: ttl, max: self.config.max_ttl_s });
        }
        Ok(TokenClaims {
            principal: principal.to_string(),
            roles: roles.to_vec(),
            tenant: tenant.to_string(),
            issued_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(ttl.saturating_mul(1000)),
            token_id: uuid::Uuid::now_v7().to_string(),
        })
    }

    /// Verifies a token (signature and expiry) without checking any action.
    pub(crate) fn verify(&self, token: &str, now_ms: u64) -> Result<TokenClaims, AuthError> {
        let s = self.secret.as_ref().ok_or(AuthError::NoSecret)?;
        verify(s, token, now_ms)
    }

    /// Signs `claims` (requires a secret).
    pub(crate) fn sign(&self, claims: &TokenClaims) -> Result<String, AuthError> {
        let s = self.secret.as_ref().ok_or(AuthError::NoSecret)?;
        Ok(issue(s, claims))
    }
}

#[cfg(test)]
mod tests;
