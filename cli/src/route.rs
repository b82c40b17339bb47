//! `cpctl route --request REQ.yaml`: route one prompt request through the plane's router.
//!
//! Order: read and schema-check the file → open the router (provider from `--provider`, the
//! file's `provider`, `CP_OPENAI_BASE_URL`, else the config's default) → authorise (the token's
//! tenant is the only tenant; another tenant or session anywhere in the file is refused and
//! logged before anything is read) → assemble the context when the file has an `attention`
//! section → route.

use std::path::PathBuf;

use clap::Args;

use cp_kernel::{
    AttentionRequest, Plane, PromptRouter, RequestFile, RoutedContext, RouterError, RouterOptions, assemble_recorded,
    choose_provider, env_vars,
};

use crate::common::{CmdResult, Outcome, Refused, Settings, render};

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  cpctl route --request request.yaml --json\n  \
cpctl route --request request.yaml --provider openai   # CP_OPENAI_BASE_URL, CP_OPENAI_API_KEY\n\n\
request.yaml (every field: docs/REQUESTS.md, schema route_request):\n  contract: HOT/contracts/PRC-QUICKSTART-001.yaml\n  context: \"the plane has 12 packages\"\n  \
input: {question: \"how many packages?\"}\n  provenance: {session_id: s1, agent_id: a1}\n\n\
Instead of `context`, an `attention: {agent_id: a1, agent_class: KERNEL.semantic, tier: ho1}` section\n\
has the attention service assemble the context first (with the request's provenance and contract).\n\
The tenant is always the token's.")]
pub(crate) struct RouteArgs {
    /// The request file (YAML or JSON): contract path, context text, input, provenance.
    #[arg(long)]
    request: PathBuf,
    /// Auth token (else the file's `auth_token`).
    #[arg(long, env = env_vars::CP_AUTH_TOKEN, hide_env_values = true)]
    token: Option<String>,
    /// Provider to route to (a key of `providers` in router_config: mock, openai, anthropic as
    /// shipped); else the file's `provider`, else `openai` when CP_OPENAI_BASE_URL is set, else
    /// the config's default_provider.
    #[arg(long)]
    provider: Option<String>,
}

pub(crate) fn run(s: &Settings, a: RouteArgs) -> CmdResult {
    let plane = s.plane()?;
    let doc = RequestFile::read(&plane, &a.request)?;
    let mut opts = RouterOptions::new();
    if let Some(p) = choose_provider(a.provider, doc.file.provider.clone()) {
        opts = opts.default_provider(p);
    }
    let router = PromptRouter::open(&plane, opts)?;
    let routed = router.authorize_route_request(&plane, doc, a.token).map_err(refusal)?;
    if !routed.contract_source.governed {
        eprintln!(
            "warning: contract {} is not governed (no package owns it); recorded as CONTRACT_UNGOVERNED \
             (router_config ungoverned_contracts: refuse would refuse it)",
            routed.contract_source.path
        );
    }
    let mut req = routed.prompt;
    if let Some(attention) = routed.attention {
        req.context = assemble(&plane, &attention)?;
    }
    let resp = router.route(req).map_err(refusal)?;
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

/// Refusals and provider failures are a verified "no" (exit 2); the rest keeps its type.
pub(crate) fn refusal(e: RouterError) -> anyhow::Error {
    match e {
        e @ (RouterError::Rejected { .. } | RouterError::Failed { .. }) => Refused(e.to_string()).into(),
        e => e.into(),
    }
}

/// Assembles the context with the attention service (the request's tenant is the token's).
/// Attention and routing stay separate: this command composes them.
/// Every ledger read is bounded at the heads of this instant, recorded (with the template, the
/// contract and the hash of every read) for `cpctl replay`.
fn assemble(plane: &Plane, request: &AttentionRequest) -> anyhow::Result<RoutedContext> {
    let (ctx, record) = assemble_recorded(plane, request)?;
    tracing::info!(template = %ctx.template_id, fragments = ctx.fragments.len(), "context assembled");
    let mut routed = RoutedContext::from(&ctx);
    routed.replay = Some(record.to_value());
    Ok(routed)
}
