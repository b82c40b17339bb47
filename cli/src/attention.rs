//! `cpctl attention`: assemble a context, validate a template, explain template resolution.

use std::path::PathBuf;

use clap::Subcommand;

use cp_kernel::{
    AttentionRequest, AttentionService, Plane, PromptRouter, RouterOptions, SchemaSet, attention_request_for, env_vars,
    read_attention_request, validate_template_file,
};

use crate::common::{CmdResult, Outcome, Refused, Settings, render, wire};
use crate::route::refusal;

#[derive(Debug, Subcommand)]
pub(crate) enum AttentionCmd {
    /// Assemble the context for a request (YAML or JSON file) for the token's tenant.
    #[command(
        after_help = "Example:\n  cpctl --root ./cp-root attention assemble --request req.yaml --token \"$TOKEN\" --json\n\n\
req.yaml (every field: docs/REQUESTS.md, schema attention_request):\n  agent_id: a1\n  agent_class: KERNEL.semantic\n  tier: ho1\n\n\
The tenant is the token's (roles granting route or ledger.read); naming another tenant or another\n\
tenant's session is refused and logged as ACCESS_DENIED."
    )]
    Assemble {
        /// The request file (`AttentionRequest`: agent_id, agent_class, tier, session_id, …).
        #[arg(long)]
        request: PathBuf,
        /// Auth token: the tenant whose context is assembled.
        #[arg(long, env = env_vars::CP_AUTH_TOKEN, hide_env_values = true)]
        token: Option<String>,
    },
    /// Validate an attention template file (exit 2 with located errors when invalid).
    #[command(after_help = "Example:\n  cpctl attention validate HOT/attention_templates/ATT-KERNEL-001.yaml")]
    Validate {
        /// The template file.
        file: PathBuf,
    },
    /// Show the candidate templates for a request, which one wins and why, and the merged pipeline.
    #[command(after_help = "Example:\n  cpctl --root ./cp-root attention explain --request req.yaml")]
    Explain {
        /// The request file.
        #[arg(long)]
        request: PathBuf,
    },
}

/// An authorised request: schema-checked, token verified, tenant = the token's.
fn authorized_request(
    plane: &Plane,
    path: &std::path::Path,
    token: Option<String>,
) -> anyhow::Result<AttentionRequest> {
    let value = read_attention_request(plane, path)?;
    let router = PromptRouter::open(plane, RouterOptions::new())?;
    let (req, principal) = router
        .authorize_attention_request(plane, path, value, token.as_deref().unwrap_or_default())
        .map_err(refusal)?;
    tracing::info!(principal = %principal.principal, tenant = %principal.tenant, "attention request authorised");
    Ok(req)
}

pub(crate) fn run(s: &Settings, c: AttentionCmd) -> CmdResult {
    match c {
        AttentionCmd::Assemble { request, token } => {
            let plane = s.plane()?;
            let req = authorized_request(&plane, &request, token)?;
            let svc = AttentionService::builder(&plane).build()?;
            let ctx = svc.assemble(&req)?;
            render(s, &ctx, |c| {
                let mut out = format!(
                    "template {} {} · {} fragment(s) · {} tokens · {} queries · {} ms · halting: {} · cache {}\ncontext_hash {}\n",
                    c.template_id,
                    c.template_version,
                    c.fragments.len(),
                    c.budget_used.tokens,
                    c.budget_used.queries,
                    c.budget_used.elapsed_ms,
                    wire(&c.halting.reason),
                    wire(&c.cache),
                    c.context_hash
                );
                for st in &c.pipeline_trace {
                    out.push_str(&format!(
                        "  {:<24} {:<18} {} fragments={} tokens={} rerun={} {}\n",
                        st.stage,
                        st.kind,
                        wire(&st.status),
                        st.fragments_produced,
                        st.tokens_produced,
                        st.rerun,
                        st.detail
                    ));
                }
                for w in &c.warnings {
                    out.push_str(&format!("warning: {w}\n"));
                }
                out.push('\n');
                out.push_str(&c.context_text);
                out
            })?;
            Ok(Outcome::Ok)
        }
        AttentionCmd::Validate { file } => {
            let schemas = match s.plane() {
                Ok(p) => SchemaSet::for_plane(&p)?,
                Err(_) => SchemaSet::embedded()?,
            };
            let report = validate_template_file(&schemas, &file);
            render(s, &report, |r| {
                if r.valid {
                    format!(
                        "{}: valid ({} {}, {} stage(s))",
                        r.path.display(),
                        r.template_id.as_deref().unwrap_or(""),
                        r.version.as_deref().unwrap_or(""),
                        r.stages
                    )
                } else {
                    r.issues.iter().map(|i| format!("error: {i}")).collect::<Vec<_>>().join("\n")
                }
            })?;
            if report.valid {
                Ok(Outcome::Ok)
            } else {
                Err(Refused(format!(
                    "{}: invalid attention template ({} issue(s))",
                    file.display(),
                    report.issues.len()
                ))
                .into())
            }
        }
        AttentionCmd::Explain { request } => {
            let plane = s.plane()?;
            // Explaining reads templates only, no tenant data: no token needed.
            let value = read_attention_request(&plane, &request)?;
            let tenant = value.get("tenant_id").and_then(|t| t.as_str()).unwrap_or_default().to_string();
            let req = attention_request_for(&request, value, &tenant)?;
            let svc = AttentionService::builder(&plane).build()?;
            let ex = svc.explain(&req)?;
            render(s, &ex, |e| {
                let mut out = String::from("candidates:\n");
                for c in &e.candidates {
                    out.push_str(&format!(
                        "  {} {} [{}] {} — {}\n",
                        c.template_id,
                        c.version,
                        if c.specificity.is_empty() { "-" } else { &c.specificity },
                        if c.matched { "MATCH" } else { "no match" },
                        c.reason
                    ));
                }
                out.push_str(&format!(
                    "chosen: {} {} ({}): {}\npipeline:\n",
                    e.chosen, e.chosen_version, e.rule, e.why
                ));
                for st in &e.pipeline {
                    out.push_str(&format!(
                        "  {:<24} {:<18} {}{}\n",
                        st.stage,
                        st.kind,
                        wire(&st.origin),
                        if st.enabled { "" } else { " (disabled)" }
                    ));
                }
                for r in &e.required {
                    out.push_str(&format!("required: {r}\n"));
                }
                for w in &e.warnings {
                    out.push_str(&format!("warning: {w}\n"));
                }
                out
            })?;
            Ok(Outcome::Ok)
        }
    }
}
