//! Who reads: the identity flags of every read surface (`otel export|push`, `report`,
//! `aef export`, `ledger query`) and the tenant the kernel grants them
//! ([`cp_kernel::PromptRouter::read_scope`]): a token's own tenant, or — operator mode on a
//! local plane — the one named tenant, said on stderr and recorded as `OPERATOR_READ`.

use clap::Args;

use cp_kernel::{Plane, PromptRouter, ReadAccess, ReadGrant, RouterError, RouterOptions};

use crate::common::Refused;

/// Identity flags of a read surface.
#[derive(Debug, Args, Default)]
pub(crate) struct ReadAccessArgs {
    /// Auth token (a role granting ledger.read); only the token's tenant is read. Given
    /// explicitly: `$CP_AUTH_TOKEN` is not read here, so a shell holding an agent's token keeps
    /// the local operator's `ledger query`.
    #[arg(long, conflicts_with = "operator")]
    pub(crate) token: Option<String>,
    /// Operator mode on a local plane: read the --tenant named without a token (needs the
    /// plane's auth secret; said on stderr and recorded as OPERATOR_READ).
    #[arg(long)]
    pub(crate) operator: bool,
}

impl ReadAccessArgs {
    /// The tenant this caller may read on `surface`, `asked` being the one named (`--tenant`).
    /// A denial (logged by the kernel) exits 2.
    pub(crate) fn grant(&self, plane: &Plane, asked: Option<&str>, surface: &str) -> anyhow::Result<ReadGrant> {
        let router = PromptRouter::open(plane, RouterOptions::new())?;
        let access = if self.operator {
            ReadAccess::Operator { user: local_user() }
        } else {
            ReadAccess::Token(self.token.clone().unwrap_or_default())
        };
        let g = router.read_scope(&access, asked, surface).map_err(|e| match e {
            RouterError::Rejected { .. } => anyhow::Error::from(Refused(format!(
                "{e}{}",
                if self.token.is_none() && !self.operator {
                    " (pass --token, or --operator on a local plane)"
                } else {
                    ""
                }
            ))),
            e => e.into(),
        })?;
        if let Some(seq) = g.recorded_seq {
            eprintln!(
                "operator mode: {} reads tenant {} without a token (recorded as OPERATOR_READ seq {seq})",
                g.actor, g.tenant
            );
        }
        Ok(g)
    }
}

/// The local user recorded as `operator:<user>` (`$USER`, else `local`).
fn local_user() -> String {
    std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "local".into())
}

/// Records a read of the local plane's files made with no token and no operator mode
/// (`OPERATOR_READ`, credential `local-files`, `asked` the tenant named or every tenant) and
/// returns what to say on stderr: the record's `seq`, or why nothing could be recorded (a plane
/// without a prompt router has no ledger for it).
pub(crate) fn record_local_read(plane: &Plane, asked: Option<&str>, surface: &str) -> String {
    let who = match asked {
        Some(t) => format!("tenant {t}'s entries"),
        None => "every tenant's entries".to_string(),
    };
    let said = format!("read {who} as the local operator without a token (pass --token to read as one tenant)");
    let recorded = PromptRouter::open(plane, RouterOptions::new())
        .and_then(|r| r.record_local_read(&local_user(), asked, surface));
    match recorded {
        Ok(seq) => format!("note: {said}; recorded as OPERATOR_READ seq {seq}"),
        Err(e) => format!("note: {said}; not recorded: {e}"),
    }
}
