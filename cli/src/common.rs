//! Settings resolution, rendering and exit codes shared by every command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use cp_kernel::env_vars;
use cp_kernel::plane::{Plane, RootSource, resolve_root};

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
}

/// A command's outcome: success, or a verified "no" (exit 2) already rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    #[allow(dead_code)]
    Refused,
}

/// Result type of every command.
pub(crate) type CmdResult = anyhow::Result<Outcome>;

/// Prints `value` as pretty JSON when `--json`, else as `text(value)`.
pub(crate) fn render<T: Serialize>(s: &Settings, value: &T, text: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    if s.json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        let t = text(value);
        if !t.is_empty() {
            println!("{}", t.trim_end());
        }
    }
    Ok(())
}

/// Marker error for a verified "no" that should exit 2 (validation failed, chain broken…).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Refused(pub(crate) String);

pub(crate) fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("CP_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

/// Exit codes of the schema and registry errors: a bad schema or malformed registry is an
/// invalid document (2), its unreadable file is I/O (3).
fn foundation_exit_code(cause: &(dyn std::error::Error + 'static)) -> Option<u8> {
    use cp_kernel::registry::RegistryError;
    use cp_kernel::schema::SchemaError;
    match (cause.downcast_ref::<SchemaError>(), cause.downcast_ref::<RegistryError>()) {
        (Some(SchemaError::Io(_)), _) | (_, Some(RegistryError::Io(_))) => Some(3),
        (Some(_), _) | (_, Some(_)) => Some(2),
        _ => None,
    }
}

fn exit_code_of(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(code) = foundation_exit_code(cause) {
            return code;
        }
        if cause.is::<Refused>() || cause.is::<cp_kernel::schema::DocumentError>() {
            if let Some(cp_kernel::schema::DocumentError::Io(_)) = cause.downcast_ref() {
                return 3;
            }
            return 2;
        }
        if cause.is::<cp_kernel::fsx::FsError>() || cause.is::<std::io::Error>() {
            return 3;
        }
    }
    1
}

/// Prints the error chain (`error:` / `caused by:` / `hint:`) and maps the outcome to an exit code.
pub(crate) fn finish(r: CmdResult) -> ExitCode {
    match r {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Refused) => ExitCode::from(2),
        Err(e) => {
            eprintln!("error: {e}");
            for c in e.chain().skip(1) {
                eprintln!("  caused by: {c}");
            }
            if let Some(h) = hint(&e) {
                eprintln!("  hint: {h}");
            }
            ExitCode::from(exit_code_of(&e))
        }
    }
}

fn hint(e: &anyhow::Error) -> Option<String> {
    for c in e.chain() {
        if let Some(cp_kernel::plane::PlaneError::NotAPlane { root }) = c.downcast_ref() {
            return Some(format!("create it with `cpctl --root {} plane init`", root.display()));
        }
    }
    None
}
