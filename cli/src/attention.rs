//! `cpctl attention`: assemble a context, validate a template, explain template resolution.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;

use cp_kernel::{AttentionRequest, AttentionService, SchemaSet, validate_template_file};

use crate::common::{CmdResult, Outcome, Refused, Settings, render};

#[derive(Debug, Subcommand)]
pub(crate) enum AttentionCmd {
    /// Assemble the context for a request (YAML or JSON file).
    #[command(after_help = "Example:\n  cpctl --root ./cp-root attention assemble --request req.yaml --json")]
    Assemble {
        /// The request file (`AttentionRequest`: agent_id, agent_class, tier, tenant_id, …).
        #[arg(long)]
        request: PathBuf,
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

/// Reads a request through the bounded reader (the plane's `parse_limits.max_document_bytes`;
/// a FIFO or a device is refused unread).
fn load_request(s: &Settings, path: &std::path::Path) -> anyhow::Result<AttentionRequest> {
    let text = s.plane()?.config().parse_limits.clone().unwrap_or_default().read_document(path)?;
    let value = cp_kernel::parse_document(path, &text)?;
    serde_json::from_value(value).with_context(|| format!("{}: not an attention request", path.display()))
}

pub(crate) fn run(s: &Settings, c: AttentionCmd) -> CmdResult {
    match c {
        AttentionCmd::Assemble { request } => {
            let req = load_request(s, &request)?;
            let plane = s.plane()?;
            let svc = AttentionService::builder(&plane).build()?;
            let ctx = svc.assemble(&req)?;
            render(s, &ctx, |c| {
                let mut out = format!(
                    "template {} {} · {} fragment(s) · {} tokens · {} queries · {} ms · halting: {:?} · cache {:?}\ncontext_hash {}\n",
                    c.template_id,
                    c.template_version,
                    c.fragments.len(),
                    c.budget_used.tokens,
                    c.budget_used.queries,
                    c.budget_used.elapsed_ms,
                    c.halting.reason,
                    c.cache,
                    c.context_hash
                );
                for st in &c.pipeline_trace {
                    out.push_str(&format!(
                        "  {:<24} {:<18} {:?} fragments={} tokens={} rerun={} {}\n",
                        st.stage, st.kind, st.status, st.fragments_produced, st.tokens_produced, st.rerun, st.detail
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
            let req = load_request(s, &request)?;
            let plane = s.plane()?;
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
                        "  {:<24} {:<18} {:?}{}\n",
                        st.stage,
                        st.kind,
                        st.origin,
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
