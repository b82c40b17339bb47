//! `cpctl plane init|info|recover|migrate`.

use clap::Subcommand;
use serde::Serialize;

use cp_kernel::{LAYOUT_PATH, Plane, PlaneConfig, RegistryKind, RootSource, Tier, read_kind_table};

use crate::common::{CmdResult, Outcome, Settings, render};
use crate::plane_recover;

#[derive(Debug, Subcommand)]
pub(crate) enum PlaneCmd {
    /// Create a plane: the tier directories and HOT/plane/plane.json (idempotent: an existing
    /// plane is opened and left as it is).
    #[command(after_help = "Example:\n  cpctl --root ./cp-root plane init --plane-id prod-eu")]
    Init {
        /// Identifier of the plane (used only when the plane is created).
        #[arg(long, default_value = "cp-plane")]
        plane_id: String,
    },
    /// Show the plane's root, layout, operator config, registries and ledgers.
    #[command(after_help = "Example:\n  cpctl --root ./cp-root plane info --json")]
    Info,
    #[command(flatten)]
    Recover(plane_recover::RecoverCmd),
    /// Migrate a plane installed by Control Plane v2 (the Python system) into a new native plane
    /// at --root: ledgers verified and imported (linked to the Python chain's last hash),
    /// governed documents carried into a package installed through the gates, a report of what
    /// was carried and left. The old plane is never modified.
    #[command(after_help = "Example:\n  cpctl --root ./cp-root plane migrate --from-cp2 ./old-cp2-plane")]
    Migrate(crate::plane_migrate::MigrateArgs),
}

#[derive(Debug, Serialize)]
struct RegistryInfo {
    name: String,
    file: String,
    /// Number of rows; `None` when the file does not exist yet.
    rows: Option<usize>,
}

#[derive(Debug, Serialize)]
struct Info {
    /// `true` when this command created the plane (`plane init` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    created: Option<bool>,
    root: String,
    root_source: RootSource,
    plane_id: String,
    /// `HOT/config/layout.json` when installed, else `built-in`.
    layout: String,
    tiers: Vec<String>,
    governed_roots: Vec<String>,
    ledger_backend: String,
    durability: String,
    require_signatures: bool,
    trusted_keys: usize,
    registries: Vec<RegistryInfo>,
    ledgers: Vec<String>,
}

pub(crate) fn run(s: &Settings, c: PlaneCmd) -> CmdResult {
    match c {
        PlaneCmd::Init { plane_id } => {
            s.refuse_cp2()?;
            let existed = s.root.join(Tier::Hot.dir_name()).is_dir();
            let p = Plane::init(&s.root, PlaneConfig { plane_id, ..PlaneConfig::default() })?;
            info(s, &p, Some(!existed))
        }
        PlaneCmd::Info => info(s, &s.plane()?, None),
        PlaneCmd::Recover(c) => plane_recover::run(s, c),
        PlaneCmd::Migrate(a) => crate::plane_migrate::run(s, a),
    }
}

fn lower<T: std::fmt::Debug>(v: T) -> String {
    format!("{v:?}").to_lowercase()
}

fn info(s: &Settings, p: &Plane, created: Option<bool>) -> CmdResult {
    let set = cp_kernel::LedgerSet::new(p);
    let mut registries = Vec::new();
    for k in RegistryKind::ALL {
        let path = k.path_in(p);
        let rows = if path.exists() { Some(read_kind_table(&path, k)?.rows.len()) } else { None };
        registries.push(RegistryInfo { name: k.name().to_string(), file: p.relative(&path).unwrap_or_default(), rows });
    }
    let layout = p.layout();
    let i = Info {
        created,
        root: p.root().display().to_string(),
        root_source: s.root_source,
        plane_id: p.config().plane_id.clone(),
        layout: if p.root().join(LAYOUT_PATH).exists() { LAYOUT_PATH.to_string() } else { "built-in".to_string() },
        tiers: layout.tiers.clone(),
        governed_roots: layout.governed_roots.clone(),
        ledger_backend: lower(set.backend()),
        durability: lower(p.config().durability.unwrap_or(layout.ledger.durability)),
        require_signatures: p.config().require_signatures,
        trusted_keys: p.config().trusted_keys.len(),
        registries,
        ledgers: set.list()?.iter().map(|n| n.to_string()).collect(),
    };
    render(s, &i, |i| {
        let mut out = String::new();
        match i.created {
            Some(true) => out.push_str(&format!("created plane {} at {}\n", i.plane_id, i.root)),
            Some(false) => {
                out.push_str(&format!("plane {} already exists at {} (left unchanged)\n", i.plane_id, i.root))
            }
            None => out.push_str(&format!("plane {} at {}\n", i.plane_id, i.root)),
        }
        out.push_str(&format!("root from: {}\n", lower(i.root_source)));
        out.push_str(&format!("layout: {}\n", i.layout));
        out.push_str(&format!("tiers: {}\n", i.tiers.join(", ")));
        out.push_str(&format!("governed roots: {}\n", i.governed_roots.join(", ")));
        out.push_str(&format!("ledger: {} ({} durability)\n", i.ledger_backend, i.durability));
        out.push_str(&format!("signatures required: {} ({} trusted keys)\n", i.require_signatures, i.trusted_keys));
        out.push_str("registries:\n");
        for r in &i.registries {
            let rows = r.rows.map_or("absent".to_string(), |n| format!("{n} rows"));
            out.push_str(&format!("  {:15} {rows:>9}  {}\n", r.name, r.file));
        }
        out.push_str(&format!(
            "ledgers: {}",
            if i.ledgers.is_empty() { "(none)".to_string() } else { i.ledgers.join(", ") }
        ));
        out
    })?;
    Ok(Outcome::Ok)
}
