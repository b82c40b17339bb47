//! `cp-install` — install Control Plane packages through the gates.
//!
//! Thin: parse → resolve the plane root and the package source → one library call → render
//! text or `--json`. Errors and exit codes as `cpctl` reports them (`cp_installer::cli_support`):
//! 0 ok, 1 usage or unexpected failure, 2 a verified "no" (gate, ownership, version,
//! dependency), 3 I/O.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use cp_installer::cli_support::{self, Outcome, Refused};
use cp_installer::cp2::{Cp2InstallReport, Cp2Options, install_cp2_set};
use cp_installer::{
    InstallEvent, InstallOptions, InstallOutcome, Installer, builtin_pins, builtin_sources, compute_pins, pack_all,
    pack_package, pins_text, write_signature,
};
use cp_kernel::{
    InstallConfig, KeyPairFile, LedgerName, LedgerSet, NewEntry, Plane, PlaneConfig, PublicKeyFile, TrustedKey,
    env_vars, event, read_archive, resolve_root, sha256_prefixed,
};

/// Install Control Plane packages (and their dependencies) through the gates G0A, G0B, G1,
/// G1-COMPLETE and G5.
#[derive(Debug, Parser)]
#[command(name = "cp-install", version, about, long_about = None)]
#[command(
    after_help = "Examples:\n  cp-install --root ./cp-root --bootstrap\n  cp-install --root ./cp-root PKG-ATTENTION-001\n  cp-install --root ./cp-root --archive PKG-X-1.0.0.tar.gz --dry-run --json"
)]
struct Cli {
    /// Plane root (else $CONTROL_PLANE_ROOT, else ./cp-root).
    #[arg(long, global = true, env = env_vars::CONTROL_PLANE_ROOT)]
    root: Option<PathBuf>,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(flatten)]
    install: InstallArgs,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Debug, Args)]
struct InstallArgs {
    /// Package ids to install with their dependencies (from --store, else the built-in set).
    ids: Vec<String>,
    /// Directory of archives (`PKG-X-<version>.tar.gz`); default: the built-in set.
    #[arg(long)]
    store: Option<PathBuf>,
    /// Install this archive file (its `.sig` beside it is checked).
    #[arg(long, conflicts_with_all = ["ids", "bootstrap"])]
    archive: Vec<PathBuf>,
    /// Install the whole bootstrap set in layer order.
    #[arg(long, conflicts_with = "ids")]
    bootstrap: bool,
    /// Run every check; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Waive the signature requirement for unsigned packages (written to the ledger).
    #[arg(long)]
    dev: bool,
    /// Allow a lower version, or reinstall the same one (logged).
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Remove an installed package (only the files it owns); refused while others depend on it.
    #[command(after_help = "Example:\n  cp-install --root ./cp-root uninstall PKG-ATTENTION-001")]
    Uninstall {
        /// Package id.
        package: String,
        /// Check only.
        #[arg(long)]
        dry_run: bool,
    },
    /// Build deterministic archives from package sources (a package directory or a repository).
    #[command(after_help = "Example:\n  cp-install pack packages/PKG-ATTENTION-001 --out ./store")]
    Pack {
        /// Package source directory (with manifest.json) or repository root (packs every package).
        dir: PathBuf,
        /// Output store directory.
        #[arg(long)]
        out: PathBuf,
        /// Repository root used to resolve packages/sources.json (default: found from DIR).
        #[arg(long)]
        repo: Option<PathBuf>,
    },
    /// Generate an Ed25519 key pair file (mode 0600) and its public key file (`.pub.json`).
    #[command(after_help = "Example:\n  cp-install keygen --out ~/.cp/release.key.json")]
    Keygen {
        /// Key file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a detached signature `<ARCHIVE>.sig` over the archive's manifest hash.
    #[command(after_help = "Example:\n  cp-install sign store/PKG-X-1.0.0.tar.gz --key ~/.cp/release.key.json")]
    Sign {
        /// The archive.
        archive: PathBuf,
        /// Key pair file.
        #[arg(long)]
        key: PathBuf,
    },
    /// Manage the plane's trust store.
    #[command(subcommand)]
    Trust(TrustCmd),
    /// Check (or --write) the pinned digests of the built-in set against a fresh pack.
    #[command(after_help = "Example:\n  cp-install pins --write")]
    Pins {
        /// Rewrite packages/bootstrap_pins.json in the source tree.
        #[arg(long)]
        write: bool,
    },
    /// Install Control Plane v2 (Python) archives as they are: v1.2 manifests without layer or
    /// framework_id, shipped registries, Python layout (see docs/MIGRATION-CP2.md).
    #[command(
        after_help = "Examples:\n  cp-install --root ./cp-root cp2 --dev ./CP_BOOTSTRAP/*.tar.gz\n  cp-install --root ./cp-root cp2 --dev --cp2-compat --sequence ./CP_BOOTSTRAP/bootstrap_sequence.json ./CP_BOOTSTRAP/*.tar.gz"
    )]
    Cp2 {
        /// The v2 archives (the whole set, or packages whose dependencies are installed).
        #[arg(required = true)]
        archives: Vec<PathBuf>,
        /// The Python installer's order file (default: bootstrap_sequence.json beside the archives).
        #[arg(long)]
        sequence: Option<PathBuf>,
        /// Accept asset paths outside the framework's path_authorizations, recorded as waivers
        /// (POLICY_WAIVED, policy cp2.path_authorization). Default: refuse.
        #[arg(long)]
        cp2_compat: bool,
        /// Waive the signature requirement (v2 archives are unsigned; logged).
        #[arg(long)]
        dev: bool,
    },
    /// Roll back or complete interrupted installs.
    #[command(after_help = "Example:\n  cp-install --root ./cp-root recover")]
    Recover,
}

#[derive(Debug, Subcommand)]
enum TrustCmd {
    /// Trust a public key for package signatures (written to HOT/plane/plane.json and logged).
    #[command(
        after_help = "Example:\n  cp-install --root ./cp-root trust add release.key.pub.json --note 'release team'"
    )]
    Add {
        /// Public key file (or key pair file; its secret is ignored).
        pubkey: PathBuf,
        /// Who holds the key.
        #[arg(long, default_value = "")]
        note: String,
    },
}

fn main() -> ExitCode {
    let cli: Cli = match cli_support::parse() {
        Ok(c) => c,
        Err(code) => return code,
    };
    cli_support::init_tracing(cli.verbose);
    let json = cli.json;
    cli_support::finish_as(run(cli).map(|()| Outcome::Ok), json)
}

fn print<T: serde::Serialize>(json: bool, v: &T, text: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    cli_support::render(json, v, text)
}

fn outcome_line(o: &InstallOutcome) -> String {
    let action = serde_json::to_value(o.action).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    format!("{action} {} {} ({} files, trust {})", o.package_id, o.version, o.files, o.trust)
}

fn cp2_lines(r: &Cp2InstallReport) -> String {
    let mut out = String::new();
    for p in &r.packages {
        out.push_str(&format!(
            "{} (layer {} from {}){}{}\n",
            outcome_line(&p.outcome),
            p.layer,
            p.layer_source.as_str(),
            if p.external_deps.is_empty() {
                String::new()
            } else {
                format!(", external_deps recorded: {}", p.external_deps.len())
            },
            if p.waived_paths.is_empty() {
                String::new()
            } else {
                format!(", {} paths waived (--cp2-compat)", p.waived_paths.len())
            },
        ));
    }
    for (path, rows) in &r.registry_rows_left {
        for (key, pkg) in rows {
            out.push_str(&format!("left: {path} row {key} (shipped by {pkg}): no installed manifest declares it\n"));
        }
    }
    out
}

fn open_or_init(root: &Path) -> anyhow::Result<Plane> {
    if root.join("HOT").is_dir() { Ok(Plane::open(root)?) } else { Ok(Plane::init(root, PlaneConfig::default())?) }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let (root, _) = resolve_root(cli.root.as_deref());
    let json = cli.json;
    match cli.cmd {
        Some(Cmd::Uninstall { package, dry_run }) => {
            let plane = cli_support::open_for_repair(&root)?;
            let opts = InstallOptions { dry_run, ..InstallOptions::default() };
            let o = Installer::new(&plane).uninstall(&package, &opts)?;
            print(json, &o, outcome_line)
        }
        Some(Cmd::Pack { dir, out, repo }) => {
            let packed = if dir.join("manifest.json").is_file() {
                let repo = repo.unwrap_or_else(|| {
                    dir.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
                });
                vec![pack_package(&repo, &dir.to_string_lossy(), &out)?]
            } else {
                pack_all(repo.as_deref().unwrap_or(&dir), &out)?
            };
            print(json, &packed, |v| {
                v.iter()
                    .map(|p| {
                        format!(
                            "packed {} {} → {} (layer {}, manifest {})\n",
                            p.package_id,
                            p.version,
                            p.path.display(),
                            p.layer,
                            p.manifest_sha256
                        )
                    })
                    .collect()
            })
        }
        Some(Cmd::Keygen { out }) => {
            let k = KeyPairFile::generate()?;
            if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                cp_kernel::fsx::create_dir_all(dir)?;
            }
            k.save(&out)?;
            let pubpath = out.with_extension("pub.json");
            k.public().save(&pubpath)?;
            let v = serde_json::json!({"key_id": k.key_id, "key_file": out, "public_key_file": pubpath});
            print(json, &v, |_| {
                format!("key {} written to {} (public: {})", k.key_id, out.display(), pubpath.display())
            })
        }
        Some(Cmd::Sign { archive, key }) => {
            let k = KeyPairFile::load(&key)?;
            let caps = InstallConfig::builtin()?.archive;
            let read = read_archive(&archive, &caps, None)?;
            let m = read.manifest_bytes.ok_or_else(|| Refused("archive has no manifest.json".into()))?;
            let sig = write_signature(&archive, &sha256_prefixed(&m), &k)?;
            print(json, &sig, |s| format!("signed {} with key {} ({})", archive.display(), s.key_id, s.manifest_sha256))
        }
        Some(Cmd::Trust(TrustCmd::Add { pubkey, note })) => {
            let mut plane = Plane::open(&root)?;
            let k = PublicKeyFile::load(&pubkey)?;
            let mut cfg = plane.config().clone();
            if !cfg.trusted_keys.iter().any(|t| t.key_id == k.key_id) {
                cfg.trusted_keys.push(TrustedKey { key_id: k.key_id.clone(), public_key: k.public_key.clone(), note });
                plane.save_config(cfg)?;
                LedgerSet::new(&plane).open(LedgerName::GOVERNANCE)?.append(
                    NewEntry::new(event::TRUST_KEY_ADDED)
                        .decision("ALLOW")
                        .reason(format!("key {} added to the trust store", k.key_id))
                        .meta("key_id", k.key_id.as_str())
                        .meta("public_key", k.public_key.as_str()),
                )?;
            }
            print(json, &k, |k| format!("trusted key {}", k.key_id))
        }
        Some(Cmd::Pins { write }) => {
            let repo = builtin_sources()?;
            let work = std::env::temp_dir().join(format!("cp-install-pins-{}", std::process::id()));
            let fresh = compute_pins(&repo, &work)?;
            let current = builtin_pins()?;
            if write {
                let path = repo.join(cp_installer::PINS_PATH);
                cp_kernel::fsx::write_atomic(&path, pins_text(&fresh))?;
                return print(json, &fresh, |_| format!("wrote {} pins to {}", fresh.len(), path.display()));
            }
            print(json, &fresh, pins_text)?;
            if fresh != current {
                return Err(Refused(
                    "compiled-in pins differ from the sources; run `cp-install pins --write` and rebuild".into(),
                )
                .into());
            }
            Ok(())
        }
        Some(Cmd::Cp2 { archives, sequence, cp2_compat, dev }) => {
            let plane = open_or_init(&root)?;
            let opts = Cp2Options { compat: cp2_compat, dev, sequence, ..Cp2Options::default() };
            let r = install_cp2_set(&plane, &archives, &opts)?;
            print(json, &r, cp2_lines)
        }
        Some(Cmd::Recover) => {
            let plane = cli_support::open_for_repair(&root)?;
            let acts = Installer::new(&plane).recover()?;
            print(json, &acts, |a| {
                if a.is_empty() {
                    "nothing to recover".into()
                } else {
                    a.iter().map(|t| format!("{} {} {}\n", t.action, t.package_id, t.txn_id)).collect()
                }
            })
        }
        None => install(&root, json, cli.install),
    }
}

fn install(root: &Path, json: bool, a: InstallArgs) -> anyhow::Result<()> {
    if a.ids.is_empty() && a.archive.is_empty() && !a.bootstrap {
        return Err(Refused("nothing to install: give PKG-IDs, --archive FILE or --bootstrap".into()).into());
    }
    let plane = open_or_init(root)?;
    let inst = Installer::new(&plane);
    let pinned = builtin_pins().context("compiled-in pins")?;
    let opts = InstallOptions { dev: a.dev, force: a.force, dry_run: a.dry_run, pinned, ..InstallOptions::default() };
    let mut outs = Vec::new();
    if !a.archive.is_empty() {
        for f in &a.archive {
            outs.push(inst.install_archive(f, None, &opts)?);
        }
        return print(json, &outs, |v| v.iter().map(|o| outcome_line(o) + "\n").collect());
    }
    let src = match a.store {
        Some(s) => s,
        None => builtin_sources()?,
    };
    let bar = (!json && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let mut progress = |ev: InstallEvent| {
        if let Some(b) = &bar {
            match ev {
                InstallEvent::Started { package_id, total, .. } => {
                    b.set_length(total as u64);
                    b.set_message(package_id);
                }
                InstallEvent::Finished { .. } => b.inc(1),
            }
        }
    };
    let r = if a.bootstrap {
        inst.install_bootstrap(&src, &opts, &mut progress)
    } else {
        inst.install_ids_from(&src, &a.ids, &opts, &mut progress)
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    outs.extend(r?);
    print(json, &outs, |v| v.iter().map(|o| outcome_line(o) + "\n").collect())
}
