//! `cpctl cost --work-order WO`: what one work order cost — prompts, tokens, cost by provider
//! and model, and the compensating entries (`COST_ADJUSTED`).

use clap::Args;

use cp_kernel::{CostReport, PromptRouter, RouterOptions, env_vars};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  cpctl cost --tenant acme --work-order WO-7 --json")]
pub(crate) struct CostArgs {
    /// Work order.
    #[arg(long)]
    work_order: String,
    /// Tenant (the token must be bound to it, `budget.read`).
    #[arg(long)]
    tenant: String,
    /// Auth token.
    #[arg(long, env = env_vars::CP_AUTH_TOKEN, hide_env_values = true)]
    token: String,
}

pub(crate) fn run(s: &Settings, a: CostArgs) -> CmdResult {
    let plane = s.plane()?;
    let router = PromptRouter::open(&plane, RouterOptions::new())?;
    let r = router.work_order_cost(&a.token, &a.tenant, &a.work_order).map_err(crate::budget::refusal)?;
    render(s, &r, text)?;
    Ok(Outcome::Ok)
}

fn text(r: &CostReport) -> String {
    let mut out = format!(
        "work order {} of {}: {} prompt(s) sent, {} received, {} failed, {} rejected\n",
        r.work_order, r.tenant, r.prompts_sent, r.prompts_received, r.prompts_failed, r.prompts_rejected
    );
    out.push_str(&format!("  tokens: {} in, {} out\n", r.input_tokens, r.output_tokens));
    for l in &r.by_model {
        out.push_str(&format!(
            "  {}/{}: {} prompt(s), {} in / {} out tokens, {} micros\n",
            l.provider, l.model, l.prompts, l.input_tokens, l.output_tokens, l.cost_micros
        ));
    }
    for a in &r.adjustments {
        out.push_str(&format!(
            "  adjusted request {} by {} micros / {} tokens (seq {}, {}): {}\n",
            a.request_id, a.delta_micros, a.delta_tokens, a.seq, a.actor, a.reason
        ));
    }
    out.push_str(&format!(
        "  total: {} micros {} (settled {}, adjustments {})",
        r.total_micros, r.currency, r.settled_micros, r.adjusted_micros
    ));
    out
}
