//! `cpctl route --request REQ.yaml`: route one prompt request through the plane's router.

use std::path::PathBuf;

use clap::Args;

use cp_kernel::{
    AttentionRequest, AttentionService, PromptRequest, PromptRouter, RequestFile, RoutedContext, RouterError,
    RouterOptions, env_vars,
};
use serde_json::{Value, json};

use crate::common::{CmdResult, Outcome, Refused, Settings, render};

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  cpctl route --request request.yaml --json\n\n\
request.yaml:\n  contract: HOT/contracts/PRC-QUICKSTART-001.yaml\n  context: \"the plane has 12 packages\"\n  \
input: {question: \"how many packages?\"}\n  provenance: {tenant_id: acme, session_id: s1, agent_id: a1}\n\n\
Instead of `context`, an `attention: {agent_id: a1, agent_class: KERNEL.semantic, tier: ho1}` section\n\
has the attention service assemble the context first (with the request's provenance and contract).")]
pub(crate) struct RouteArgs {
    /// The request file (YAML or JSON): contract path, context text, input, provenance.
    #[arg(long)]
    request: PathBuf,
    /// Auth token (else the file's `auth_token`).
    #[arg(long, env = env_vars::CP_AUTH_TOKEN, hide_env_values = true)]
    token: Option<String>,
}

pub(crate) fn run(s: &Settings, a: RouteArgs) -> CmdResult {
    let plane = s.plane()?;
    let (mut req, attention) = RequestFile::load_parts(&plane, &a.request, a.token)?;
    if let Some(agent) = attention {
        req.context = assemble(&plane, &req, agent)?;
    }
    let router = PromptRouter::open(&plane, RouterOptions::new())?;
    match router.route(req) {
        Ok(resp) => {
            render(s, &resp, |r| {
                format!(
                    "{}\n\nprovider {} model {} | tokens in {} (cached {}) out {} | cost {} micro-units (price book {}) | {} ms | output valid: {}\nledger: PROMPT_SENT seq {} → PROMPT_RECEIVED seq {}",
                    r.text,
                    r.provider,
                    r.model,
                    r.usage.input_tokens,
                    r.usage.cached_input_tokens,
                    r.usage.output_tokens,
                    r.cost_micros,
                    r.price_book_version,
                    r.latency_ms,
                    r.output_valid,
                    r.sent.seq,
                    r.received.seq
                )
            })?;
            Ok(Outcome::Ok)
        }
        Err(e @ (RouterError::Rejected { .. } | RouterError::Failed { .. })) => Err(Refused(e.to_string()).into()),
        Err(e) => Err(e.into()),
    }
}

/// Assembles the context for `req` with the attention service: the file's `attention` section
/// (agent id, class, tier, optional template override) plus the request's provenance and
/// contract. Attention and routing stay separate: this command composes them.
fn assemble(plane: &cp_kernel::Plane, req: &PromptRequest, agent: Value) -> anyhow::Result<RoutedContext> {
    let p = &req.provenance;
    let mut v = json!({
        "tenant_id": p.tenant_id, "session_id": p.session_id, "work_order_id": p.work_order_id,
        "framework_id": p.framework_id, "prompt_contract": req.contract,
    });
    if let (Some(base), Value::Object(extra)) = (v.as_object_mut(), agent) {
        base.extend(extra);
    }
    let request: AttentionRequest = serde_json::from_value(v)?;
    let ctx = AttentionService::builder(plane).build()?.assemble(&request)?;
    tracing::info!(template = %ctx.template_id, fragments = ctx.fragments.len(), "context assembled");
    Ok(RoutedContext::from(&ctx))
}
