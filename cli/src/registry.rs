//! `cpctl registry show`.

use std::collections::BTreeMap;

use clap::Subcommand;
use serde::Serialize;

use cp_kernel::{RegistryKind, read_kind_table};

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Subcommand)]
pub(crate) enum RegistryCmd {
    /// Show a registry of the plane (frameworks, specs, file_ownership, packages_state), with
    /// rows filtered by exact column values.
    #[command(
        after_help = "Example:\n  cpctl registry show file_ownership --filter package_id=PKG-LAYOUT-001\n  cpctl registry show frameworks --json"
    )]
    Show {
        /// Registry: frameworks, specs, file_ownership or packages_state (or its file name).
        name: String,
        /// Keep rows whose COLUMN equals VALUE (repeatable; all must match).
        #[arg(long = "filter", value_name = "COLUMN=VALUE", value_parser = parse_filter)]
        filters: Vec<(String, String)>,
    },
}

fn parse_filter(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected COLUMN=VALUE, got {s:?}"))
}

#[derive(Debug, Serialize)]
struct Shown {
    registry: String,
    file: String,
    columns: Vec<String>,
    rows: Vec<BTreeMap<String, String>>,
}

pub(crate) fn run(s: &Settings, c: RegistryCmd) -> CmdResult {
    let RegistryCmd::Show { name, filters } = c;
    let Some(kind) = RegistryKind::parse(&name) else {
        let known: Vec<&str> = RegistryKind::ALL.iter().map(|k| k.name()).collect();
        anyhow::bail!("unknown registry {name:?} (known: {})", known.join(", "));
    };
    if let Some((col, _)) = filters.iter().find(|(c, _)| !kind.columns().contains(&c.as_str())) {
        anyhow::bail!("registry {} has no column {col:?} (columns: {})", kind.name(), kind.columns().join(", "));
    }
    let plane = s.plane()?;
    let path = kind.path_in(&plane);
    let table = read_kind_table(&path, kind)?;
    let filter: BTreeMap<String, String> = filters.into_iter().collect();
    let shown = Shown {
        registry: kind.name().to_string(),
        file: plane.relative(&path).unwrap_or_else(|| path.display().to_string()),
        columns: table.columns.clone(),
        rows: table.filter(&filter),
    };
    render(s, &shown, text)?;
    Ok(Outcome::Ok)
}

fn text(t: &Shown) -> String {
    let widths: Vec<usize> = t
        .columns
        .iter()
        .map(|c| t.rows.iter().map(|r| r.get(c).map_or(0, |v| v.chars().count())).max().unwrap_or(0).max(c.len()))
        .collect();
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:w$}")).collect();
        parts.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(t.columns.iter().map(String::as_str).collect());
    for r in &t.rows {
        out.push_str(&line(t.columns.iter().map(|c| r.get(c).map_or("", String::as_str)).collect()));
    }
    out.push_str(&format!("{} row{} ({})", t.rows.len(), if t.rows.len() == 1 { "" } else { "s" }, t.file));
    out
}
