//! `cpctl route --request REQ.yaml`: route one prompt request through the plane's router.

use std::path::PathBuf;

use clap::Args;

use cp_kernel::env_vars;
use cp_kernel::router::{PromptRouter, RequestFile, RouterError, RouterOptions};

use crate::common::{CmdResult, Outcome, Refused, Settings, render};

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  cpctl route --request request.yaml --json\n\n\
request.yaml:\n  contract: HOT/contracts/PRC-QUICKSTART-001.yaml\n  context: \"the plane has 12 packages\"\n  \
input: {question: \"how many packages?\"}\n  provenance: {tenant_id: acme, session_id: s1, agent_id: a1}")]
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
    let req = RequestFile::load(&plane, &a.request, a.token)?;
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
