//! `cpctl budget show|allocate|recover|reconcile|adjust`.

use clap::Subcommand;

use cp_kernel::{AdjustRequest, LimitConfig, PromptRouter, RouterError, RouterOptions, ScopeKey, ScopeKind, env_vars};

use crate::common::{CmdResult, Outcome, Refused, Settings, limit, render};

#[derive(Debug, Subcommand)]
pub(crate) enum BudgetCmd {
    /// Show a tenant's scopes and open reservations (token bound to that tenant, `budget.read`).
    #[command(after_help = "Example:\n  cpctl budget show --tenant acme --token $CP_AUTH_TOKEN --json")]
    Show {
        /// Tenant.
        #[arg(long)]
        tenant: String,
        /// Auth token.
        #[arg(long, env = env_vars::CP_AUTH_TOKEN, hide_env_values = true)]
        token: String,
    },
    /// Allocate limits to a scope (`budget.allocate`), logged as BUDGET_ALLOCATED.
    #[command(
        after_help = "Example:\n  cpctl budget allocate --scope session/acme/s1 --max-tokens 200000 --max-cost-micros 5000000"
    )]
    Allocate {
        /// Scope: tenant/T, session/T/S, work_order/T/W or agent/T/A.
        #[arg(long)]
        scope: String,
        /// Hard limit in tokens (absent = unlimited).
        #[arg(long)]
        max_tokens: Option<u64>,
        /// Hard limit in cost micro-units (absent = unlimited).
        #[arg(long)]
        max_cost_micros: Option<u64>,
        /// Warning threshold in percent (default: budget_config defaults for the scope kind).
        #[arg(long)]
        warn_pct: Option<u8>,
        /// Auth token.
        #[arg(long, env = env_vars::CP_AUTH_TOKEN, hide_env_values = true)]
        token: String,
    },
    /// Release the reservations of dangling PROMPT_SENT entries (run when no router is active).
    #[command(after_help = "Example:\n  cpctl budget recover --json")]
    Recover,
    /// Recompute every scope from the ledger and compare with the budgeter (differences exit 2).
    #[command(after_help = "Example:\n  cpctl budget reconcile --scope tenant/acme --json")]
    Reconcile {
        /// Only this scope (tenant/T, session/T/S, work_order/T/W or agent/T/A).
        #[arg(long)]
        scope: Option<String>,
    },
    /// Correct a settled request's cost with a COST_ADJUSTED compensating entry (`budget.allocate`).
    #[command(
        after_help = "Example:\n  cpctl budget adjust --tenant acme --request R1 --delta-micros=-120 --reason \"provider refund\""
    )]
    Adjust {
        /// Tenant of the request.
        #[arg(long)]
        tenant: String,
        /// The request id (PROMPT_RECEIVED metadata.request_id).
        #[arg(long)]
        request: String,
        /// Signed correction in micro-units.
        #[arg(long, allow_hyphen_values = true, default_value_t = 0)]
        delta_micros: i64,
        /// Signed correction in tokens.
        #[arg(long, allow_hyphen_values = true, default_value_t = 0)]
        delta_tokens: i64,
        /// Why (required).
        #[arg(long)]
        reason: String,
        /// Auth token.
        #[arg(long, env = env_vars::CP_AUTH_TOKEN, hide_env_values = true)]
        token: String,
    },
}

pub(crate) fn refusal(e: RouterError) -> anyhow::Error {
    match e {
        RouterError::Rejected { .. } => Refused(e.to_string()).into(),
        e => e.into(),
    }
}

pub(crate) fn run(s: &Settings, c: BudgetCmd) -> CmdResult {
    let plane = s.plane()?;
    let router = PromptRouter::open(&plane, RouterOptions::new())?;
    match c {
        BudgetCmd::Show { tenant, token } => {
            let r = router.budget_show(&token, &tenant).map_err(refusal)?;
            render(s, &r, |r| {
                let mut out = format!("tenant {}\n", r.tenant);
                for (k, v) in &r.scopes {
                    out.push_str(&format!(
                        "  {k}: spent {} tokens / {} micros, reserved {} / {}, limits {} tokens / {} micros\n",
                        v.spent_tokens,
                        v.spent_micros,
                        v.reserved_tokens,
                        v.reserved_micros,
                        limit(v.max_tokens),
                        limit(v.max_cost_micros)
                    ));
                }
                out.push_str(&format!("  open reservations: {}", r.open_reservations.len()));
                out
            })?;
        }
        BudgetCmd::Allocate { scope, max_tokens, max_cost_micros, warn_pct, token } => {
            let scope: ScopeKey = scope.parse()?;
            let d = &router.budgeter().config().defaults;
            let default_pct = match scope.kind {
                ScopeKind::Tenant => d.tenant.warn_threshold_pct,
                ScopeKind::Session => d.session.warn_threshold_pct,
                ScopeKind::WorkOrder => d.work_order.warn_threshold_pct,
                ScopeKind::Agent => d.agent.warn_threshold_pct,
            };
            let limit =
                LimitConfig { max_tokens, max_cost_micros, warn_threshold_pct: warn_pct.unwrap_or(default_pct) };
            let e = router.allocate(&token, &scope, limit).map_err(refusal)?;
            render(s, &e, |e| format!("allocated {scope}: BUDGET_ALLOCATED seq {}", e.seq))?;
        }
        BudgetCmd::Reconcile { scope } => return crate::budget_reconcile::reconcile(s, &router, scope.as_deref()),
        BudgetCmd::Adjust { tenant, request, delta_micros, delta_tokens, reason, token } => {
            let req = AdjustRequest { tenant, request_id: request, delta_micros, delta_tokens, reason };
            return crate::budget_reconcile::adjust(s, &router, &token, &req);
        }
        BudgetCmd::Recover => {
            let v = router.recover()?;
            render(s, &v, |v| {
                if v.is_empty() {
                    "no dangling reservations".to_string()
                } else {
                    v.iter()
                        .map(|e| format!("BUDGET_RECOVERED seq {}: {}", e.seq, e.reason.as_deref().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            })?;
        }
    }
    Ok(Outcome::Ok)
}
