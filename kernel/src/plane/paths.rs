//! Locating the plane root: `--root` > `$CONTROL_PLANE_ROOT` > `./cp-root`.

use std::path::{Path, PathBuf};

use crate::env_vars;

/// Which layer supplied the plane root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RootSource {
    /// The `--root` flag.
    Flag,
    /// The `CONTROL_PLANE_ROOT` environment variable.
    Env,
    /// The default `./cp-root`.
    Default,
}

/// Resolves the plane root from an optional flag value, then the environment, then the default.
pub fn resolve_root(flag: Option<&Path>) -> (PathBuf, RootSource) {
    if let Some(p) = flag {
        return (p.to_path_buf(), RootSource::Flag);
    }
    match std::env::var_os(env_vars::CONTROL_PLANE_ROOT) {
        Some(v) if !v.is_empty() => (PathBuf::from(v), RootSource::Env),
        _ => (PathBuf::from(env_vars::DEFAULT_ROOT), RootSource::Default),
    }
}
