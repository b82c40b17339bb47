//! `cpctl template install FILE.yaml`: validate an attention template, wrap it in a package
//! under the attention framework, sign it with the operator's key and install it through the
//! gates (`cp_installer::template`).

use std::path::PathBuf;

use clap::Subcommand;

use cp_installer::template::{TemplateInstallError, install_template};

use crate::common::{CmdResult, Outcome, Refused, Settings, render, wire};

#[derive(Debug, Subcommand)]
pub(crate) enum TemplateCmd {
    /// Install (or upgrade) an attention template the governed way: validate, package, sign with
    /// the operator key (HOT/plane/operator.key.json, created and trusted on first use), install
    /// through the gates. Re-running is a no-op; a higher `version` upgrades.
    #[command(after_help = "Example:\n  cpctl template install my-template.yaml\n\n\
Tutorial: docs/TUTORIAL-template.md")]
    Install {
        /// The template file (YAML or JSON, schema attention_template).
        file: PathBuf,
        /// Run every check; change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub(crate) fn run(s: &Settings, c: TemplateCmd) -> CmdResult {
    let TemplateCmd::Install { file, dry_run } = c;
    let plane = s.plane()?;
    let done = match install_template(&plane, &file, dry_run) {
        Ok(d) => d,
        Err(e @ (TemplateInstallError::Invalid { .. } | TemplateInstallError::SameVersionChanged { .. })) => {
            return Err(Refused(e.to_string()).into());
        }
        Err(TemplateInstallError::Install(e)) => return Err(e.into()),
        Err(e) => return Err(e.into()),
    };
    render(s, &done, |d| {
        format!(
            "{} {} {} as {} ({}), signed by operator key {}{}",
            wire(&d.outcome.action),
            d.template_id,
            d.outcome.version,
            d.package_id,
            d.installed_path,
            d.key_id,
            if d.key_created { " (created and trusted)" } else { "" }
        )
    })?;
    Ok(Outcome::Ok)
}
