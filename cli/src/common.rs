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

    /// Opens the plane at the resolved root (a Control Plane v2 plane is refused with the
    /// command that migrates it).
    pub(crate) fn plane(&self) -> anyhow::Result<Plane> {
        self.refuse_cp2()?;
        Ok(Plane::open(&self.root)?)
    }

    /// Refuses a plane installed by Control Plane v2 (the Python system), saying what it is and
    /// how to migrate it, before anything reads it as a native plane.
    pub(crate) fn refuse_cp2(&self) -> anyhow::Result<()> {
        match cp_installer::cp2::detect_cp2_plane(&self.root) {
            Some(signs) => Err(Refused(signs.message()).into()),
            None => Ok(()),
        }
    }

    /// The plane for a repair command (`plane recover`, `gates`): an invalid layout or plane
    /// config falls back to the built-in one, with a warning saying what is wrong and how to
    /// repair it.
    pub(crate) fn plane_for_repair(&self) -> anyhow::Result<Plane> {
        self.refuse_cp2()?;
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

/// Opens an existing ledger; an unknown name is refused with the ledgers the plane has.
pub(crate) fn open_existing(
    set: &cp_kernel::LedgerSet,
    name: &str,
) -> anyhow::Result<std::sync::Arc<dyn cp_kernel::LedgerStore>> {
    match set.open_existing(name) {
        Err(cp_kernel::LedgerError::NotFound(_)) => {
            let have: Vec<String> = set.list()?.iter().map(ToString::to_string).collect();
            let have = if have.is_empty() { "none yet".to_string() } else { have.join(", ") };
            anyhow::bail!("no ledger {name} on this plane (it has: {have})")
        }
        other => Ok(other?),
    }
}

/// The wire name of a serializable value (an enum's serde name, `halting: budget_exhausted`),
/// for text output: never Rust debug formatting.
pub(crate) fn wire<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Null) => "-".to_string(),
        Ok(other) => other.to_string(),
        Err(_) => "?".to_string(),
    }
}

/// A limit for text output: the number, or `unlimited`.
pub(crate) fn limit(v: Option<u64>) -> String {
    v.map_or_else(|| "unlimited".to_string(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_carry_no_debug_formatting() {
        assert_eq!(limit(Some(2_000_000)), "2000000");
        assert_eq!(limit(None), "unlimited");
        assert_eq!(wire(&cp_kernel::Tier::Ho1), "ho1");
        assert_eq!(wire(&Option::<u64>::None), "-");
        assert_eq!(wire(&vec!["a", "b"]), r#"["a","b"]"#);
    }
}
