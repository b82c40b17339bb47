//! `cpctl wo create|show|list|transition|history`: work orders on the router's ledger, as the
//! token's principal and tenant. A refused creation or transition exits 2 (it is logged).

use clap::Subcommand;

use cp_kernel::{
    Plane, PromptRouter, RouterError, RouterOptions, WorkOrder, WorkOrderBudget, WorkOrderError, WorkOrderState,
    WorkOrders, env_vars,
};

use crate::common::{CmdResult, Outcome, Refused, Settings, render};

#[derive(Debug, Subcommand)]
pub(crate) enum WoCmd {
    /// Create a work order (token role in `create_roles`); allocates its budget scope.
    #[command(
        after_help = "Example:\n  cpctl wo create --id WO-42 --tenant acme --title 'Summarise Q3' --budget-tokens 200000"
    )]
    Create {
        /// Work-order id (`WO-…`).
        #[arg(long)]
        id: String,
        /// Tenant (must be the token's).
        #[arg(long)]
        tenant: String,
        /// Title.
        #[arg(long)]
        title: String,
        /// Framework (`FMWK-NNN`).
        #[arg(long)]
        framework: Option<String>,
        /// Agent class expected to execute it.
        #[arg(long)]
        agent_class: Option<String>,
        /// Hard token limit of its budget scope (default: budget_config defaults.work_order).
        #[arg(long)]
        budget_tokens: Option<u64>,
        /// Parent work order.
        #[arg(long)]
        parent: Option<String>,
        /// Acceptance note (repeatable).
        #[arg(long = "acceptance")]
        acceptance: Vec<String>,
        /// Auth token.
        #[arg(long, env = env_vars::CP_AUTH_TOKEN, hide_env_values = true, default_value = "")]
        token: String,
    },
    /// Show a work order of the token's tenant and its state.
    #[command(after_help = "Example:\n  cpctl wo show WO-42 --json")]
    Show {
        /// Work-order id.
        id: String,
        /// Auth token.
        #[arg(long, env = env_vars::CP_AUTH_TOKEN, hide_env_values = true, default_value = "")]
        token: String,
    },
    /// List the work orders of the token's tenant.
    #[command(after_help = "Example:\n  cpctl wo list --json")]
    List {
        /// Auth token.
        #[arg(long, env = env_vars::CP_AUTH_TOKEN, hide_env_values = true, default_value = "")]
        token: String,
    },
    /// Move a work order to another state (legal transitions and roles: work_orders.yaml).
    #[command(after_help = "Example:\n  cpctl wo transition WO-42 --to dispatched --reason 'plan approved'")]
    Transition {
        /// Work-order id.
        id: String,
        /// State to enter.
        #[arg(long)]
        to: String,
        /// Why (recorded).
        #[arg(long)]
        reason: String,
        /// Auth token.
        #[arg(long, env = env_vars::CP_AUTH_TOKEN, hide_env_values = true, default_value = "")]
        token: String,
    },
    /// Every creation, transition and refusal of a work order.
    #[command(after_help = "Example:\n  cpctl wo history WO-42")]
    History {
        /// Work-order id.
        id: String,
        /// Auth token.
        #[arg(long, env = env_vars::CP_AUTH_TOKEN, hide_env_values = true, default_value = "")]
        token: String,
    },
}

/// A logged refusal or denial exits 2; anything else is an error.
fn refusal(e: WorkOrderError) -> anyhow::Error {
    match e {
        WorkOrderError::Refused { .. } | WorkOrderError::AccessDenied { .. } | WorkOrderError::NotFound { .. } => {
            Refused(e.to_string()).into()
        }
        e => e.into(),
    }
}

fn denied(e: RouterError) -> anyhow::Error {
    match e {
        RouterError::Rejected { .. } => Refused(e.to_string()).into(),
        e => e.into(),
    }
}

fn state_line(w: &WorkOrderState) -> String {
    format!("{} [{}] {} (tenant {})", w.work_order.id, w.state, w.work_order.title, w.work_order.tenant)
}

pub(crate) fn run(s: &Settings, c: WoCmd) -> CmdResult {
    let plane: Plane = s.plane()?;
    let router = PromptRouter::open(&plane, RouterOptions::new())?;
    let wos: WorkOrders = router.work_orders(&plane)?;
    match c {
        WoCmd::Create { id, tenant, title, framework, agent_class, budget_tokens, parent, acceptance, token } => {
            let who = router.work_order_principal(&token).map_err(denied)?;
            let mut wo = WorkOrder::new(id, tenant, title);
            wo.framework = framework;
            wo.agent_class = agent_class;
            wo.budget = budget_tokens.map(|n| WorkOrderBudget { max_tokens: Some(n), max_cost_micros: None });
            wo.parent = parent;
            wo.acceptance = acceptance;
            let e = wos.create(&who, wo).map_err(refusal)?;
            let wid = e.work_order_id.clone().unwrap_or_default();
            render(s, &e, |e| format!("created {wid} ({}): WO_CREATED seq {}", wos.config().initial_state, e.seq))?;
        }
        WoCmd::Show { id, token } => {
            let who = router.work_order_principal(&token).map_err(denied)?;
            let w = wos.get(&who, &id).map_err(refusal)?;
            render(s, &w, state_line)?;
        }
        WoCmd::List { token } => {
            let who = router.work_order_principal(&token).map_err(denied)?;
            let v = wos.list(&who)?;
            render(s, &v, |v| {
                if v.is_empty() {
                    format!("no work orders for tenant {}", who.tenant)
                } else {
                    v.iter().map(state_line).collect::<Vec<_>>().join("\n")
                }
            })?;
        }
        WoCmd::Transition { id, to, reason, token } => {
            let who = router.work_order_principal(&token).map_err(denied)?;
            let e = wos.transition(&who, &id, &to, &reason).map_err(refusal)?;
            let from = e.metadata.get("from").and_then(|v| v.as_str()).unwrap_or("").to_string();
            render(s, &e, |e| format!("{id}: {from} → {to} (WO_TRANSITIONED seq {})", e.seq))?;
        }
        WoCmd::History { id, token } => {
            let who = router.work_order_principal(&token).map_err(denied)?;
            let w = wos.get(&who, &id).map_err(refusal)?;
            render(s, &w.history, |h| {
                h.iter()
                    .map(|i| {
                        let from = i.from.as_deref().map(|f| format!("{f} → ")).unwrap_or_default();
                        let code = i.code.as_deref().map(|c| format!(" [{c}]")).unwrap_or_default();
                        format!("seq {} {} {from}{} by {}{code}: {}", i.seq, i.event_type, i.to, i.actor, i.reason)
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })?;
        }
    }
    Ok(Outcome::Ok)
}
