//! `cpctl auth issue|inspect`.

use clap::Subcommand;
use serde::Serialize;

use cp_kernel::{AuthSecret, PromptRouter, RouterOptions, SchemaSet, TokenClaims, decode_token_unverified};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Subcommand)]
pub(crate) enum AuthCmd {
    /// Issue a token, logged as AUTH_TOKEN_ISSUED. Secret: CP_AUTH_SECRET_FILE, else
    /// CP_AUTH_SECRET, else the plane's operator secret HOT/plane/auth-secret (created, mode
    /// 0600, when none exists).
    #[command(after_help = "Example:\n  cpctl auth issue --principal alice --role agent --tenant acme --ttl 3600")]
    Issue {
        /// Who the token is for.
        #[arg(long)]
        principal: String,
        /// Role (repeatable; keys of router_config auth.roles).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The only tenant the token may act for.
        #[arg(long)]
        tenant: String,
        /// Lifetime in seconds (default: auth.default_ttl_s).
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// Decode a token and verify it when the secret is available.
    #[command(after_help = "Example:\n  cpctl auth inspect cp1.7b22….3f0a --json")]
    Inspect {
        /// The token.
        token: String,
    },
}

#[derive(Serialize)]
struct Issued {
    token: String,
    claims: TokenClaims,
}

#[derive(Serialize)]
struct Inspected {
    claims: TokenClaims,
    verified: bool,
    error: Option<String>,
}

pub(crate) fn run(s: &Settings, c: AuthCmd) -> CmdResult {
    let plane = s.plane()?;
    if matches!(c, AuthCmd::Issue { .. }) {
        let min = cp_kernel::load_router_configs(&plane, &SchemaSet::for_plane(&plane)?)?.router.auth.min_secret_bytes;
        let (_, from, created) = AuthSecret::ensure_for_plane(&plane, min)?;
        if created {
            tracing::warn!("created the plane's auth secret {from} (mode 0600); every cpctl command finds it");
        }
    }
    let router = PromptRouter::open(&plane, RouterOptions::new())?;
    match c {
        AuthCmd::Issue { principal, roles, tenant, ttl } => {
            let (token, claims) = router.issue_token(&principal, &roles, &tenant, ttl)?;
            render(s, &Issued { token, claims }, |i| i.token.clone())?;
            Ok(Outcome::Ok)
        }
        AuthCmd::Inspect { token } => {
            let claims = decode_token_unverified(&token)?;
            let (verified, error) = match router.verify_token(&token) {
                Ok(_) => (true, None),
                Err(e) => (false, Some(e.to_string())),
            };
            let out = Inspected { claims, verified, error };
            render(s, &out, |i| {
                format!(
                    "principal {} roles {} tenant {} expires_at_ms {} token_id {}\nverified: {}{}",
                    i.claims.principal,
                    i.claims.roles.join(","),
                    i.claims.tenant,
                    i.claims.expires_at_ms,
                    i.claims.token_id,
                    i.verified,
                    i.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
                )
            })?;
            Ok(if out.verified { Outcome::Ok } else { Outcome::Refused })
        }
    }
}
