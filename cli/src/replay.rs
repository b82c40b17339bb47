//! `cpctl replay --session S | --request R`: re-assembles each recorded prompt's context against
//! the plane as it was (ledger reads bounded at the recorded heads) and compares `context_hash`;
//! a difference is reported cause by cause. Exit 0 when everything reproduces, 2 on drift.

use std::sync::Arc;

use clap::Args;

use cp_kernel::{
    Action, DriftCause, MockProvider, PromptRouter, Provider, ProviderKind, ReplayReport, ReplaySelector, ReplayStatus,
    Rerunnable, RouterOptions, env_vars, replay_prompts,
};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  cpctl replay --tenant acme --session s1 --json\n  cpctl replay --tenant acme --request 0193…"
)]
pub(crate) struct ReplayArgs {
    /// Every prompt of this session.
    #[arg(long, conflicts_with = "request", required_unless_present = "request")]
    session: Option<String>,
    /// One request (PROMPT_SENT metadata.request_id).
    #[arg(long)]
    request: Option<String>,
    /// Tenant (the token must be bound to it, `ledger.read`).
    #[arg(long)]
    tenant: String,
    /// Auth token.
    #[arg(long, env = env_vars::CP_AUTH_TOKEN, hide_env_values = true)]
    token: String,
}

pub(crate) fn run(s: &Settings, a: ReplayArgs) -> CmdResult {
    let plane = s.plane()?;
    let router = PromptRouter::open(&plane, RouterOptions::new())?;
    router.authorize(&a.token, Action::LedgerRead, &a.tenant).map_err(crate::budget::refusal)?;
    let sel = match (a.session, a.request) {
        (Some(s), _) => ReplaySelector::Session(s),
        (None, Some(r)) => ReplaySelector::Request(r),
        (None, None) => anyhow::bail!("give --session or --request"),
    };
    let r = replay_prompts(&plane, &router.config().ledger, &a.tenant, &sel, &mocks(&router))?;
    render(s, &r, text)?;
    Ok(if r.reproduces() { Outcome::Ok } else { Outcome::Refused })
}

/// The mock providers of the router config: deterministic, so their calls are re-run.
fn mocks(router: &PromptRouter) -> Rerunnable {
    let cpt = router.budgeter().config().chars_per_token;
    router
        .config()
        .providers
        .iter()
        .filter(|(_, c)| c.kind == ProviderKind::Mock)
        .map(|(n, _)| (n.clone(), Arc::new(MockProvider::new(n.clone(), cpt)) as Arc<dyn Provider>))
        .collect()
}

fn text(r: &ReplayReport) -> String {
    let mut out = format!(
        "{} prompt(s): {} identical, {} drifted, {} not replayable (context given inline)\n",
        r.prompts.len(),
        r.identical,
        r.drifted,
        r.not_replayable
    );
    for p in &r.prompts {
        let status = match p.status {
            ReplayStatus::Identical => "identical",
            ReplayStatus::Drift => "DRIFT",
            ReplayStatus::NotReplayable => "not replayable",
        };
        let call = match &p.response {
            Some(c) if c.reproduces() => format!(" (call re-run with {}: same response)", c.provider),
            _ => String::new(),
        };
        out.push_str(&format!("  seq {} request {}: {status}{call}\n", p.seq, p.request_id));
        for c in &p.causes {
            out.push_str(&format!("    {}\n", cause_text(c)));
        }
    }
    out.trim_end().to_string()
}

fn cause_text(c: &DriftCause) -> String {
    let pkg = |p: &Option<String>| p.clone().unwrap_or_else(|| "no package".into());
    match c {
        DriftCause::FileChanged { path, old_sha256, new_sha256, old_package, new_package } => {
            format!("file {path} changed: {old_sha256} ({}) -> {new_sha256} ({})", pkg(old_package), pkg(new_package))
        }
        DriftCause::ReadChanged { source, source_id, old_sha256, new_sha256 } => {
            format!("{source} {source_id} changed: {old_sha256} -> {new_sha256}")
        }
        DriftCause::ReadMissing { source, source_id } => format!("{source} {source_id} is no longer read"),
        DriftCause::ReadAdded { source, source_id } => format!("{source} {source_id} is read now, not then"),
        DriftCause::TemplateChanged { old, new } => format!("template changed: {old} -> {new}"),
        DriftCause::LedgerDiverged { ledger, seq, recorded, now } => format!(
            "LEDGER REWRITTEN (should be impossible): {ledger} seq {seq} was {recorded}, is {}",
            now.as_deref().unwrap_or("gone")
        ),
        DriftCause::ResponseChanged { provider, prompt_differs } => format!(
            "re-run with {provider}: {} differs",
            if *prompt_differs { "the rendered prompt" } else { "the response" }
        ),
        DriftCause::AssemblyFailed { message } => format!("assembly fails now: {message}"),
        DriftCause::Unexplained => "context differs and no recorded read explains it".into(),
    }
}
