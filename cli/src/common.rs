//! Settings resolution and rendering shared by every command; errors, exit codes and tracing
//! are `cp_installer::cli_support`'s, shared with `cp-install`.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use cp_kernel::{Plane, RootSource, env_vars, resolve_root};

/// Flags every command accepts.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Plane root (else $CONTROL_PLANE_ROOT, else ./cp-root).
    #[arg(long, global = true, env = env_vars::CONTROL_PLANE_ROOT)]
    pub(crate) root: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// More log output (-v info, -vv debug, -vvv trace); logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub(crate) verbose: u8,
}

/// Resolved settings.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) root: PathBuf,
    #[allow(dead_code)]
    pub(crate) root_source: RootSource,
    pub(crate) json: bool,
}

impl Settings {
    pub(crate) fn resolve(g: &Global) -> Self {
        // clap already folded $CONTROL_PLANE_ROOT into `root`; the source is Env when the flag
        // value equals the variable.
        let env = std::env::var_os(env_vars::CONTROL_PLANE_ROOT).map(PathBuf::from);
        let (root, mut source) = resolve_root(g.root.as_deref());
        if source == RootSource::Flag && env.as_deref() == Some(root.as_path()) {
            source = RootSource::Env;
        }
        tracing::debug!(root = %root.display(), ?source, "plane root resolved");
        Self { root, root_source: source, json: g.json }
    }

    /// Opens the plane at the resolved root.
    pub(crate) fn plane(&self) -> anyhow::Result<Plane> {
        Ok(Plane::open(&self.root)?)
    }

    /// The plane for a repair command (`plane recover`, `gates`): an invalid layout or plane
    /// config falls back to the built-in one, with a warning saying what is wrong and how to
    /// repair it.
    pub(crate) fn plane_for_repair(&self) -> anyhow::Result<Plane> {
        cp_installer::cli_support::open_for_repair(&self.root)
    }
}

pub(crate) use cp_installer::cli_support::{Outcome, Refused};

/// Result type of every command.
pub(crate) type CmdResult = anyhow::Result<Outcome>;

/// Prints `value` as pretty JSON when `--json`, else as `text(value)`.
pub(crate) fn render<T: Serialize>(s: &Settings, value: &T, text: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    cp_installer::cli_support::render(s.json, value, text)
}
