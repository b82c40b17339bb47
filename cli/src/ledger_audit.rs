//! `cpctl ledger verify|checkpoint|export|import`: the audit side of the ledger.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use cp_kernel::{
    Checkpoint, CheckpointError, ExportError, KeyPairFile, LedgerName, LedgerSet, LedgerStore, PublicKeyFile,
    VerifyReport, cp2, cp2::Cp2Error, export_jsonl, record_checkpoint, save_checkpoint, verify_against_checkpoint,
    verify_plane, verify_store,
};

use crate::common::{CmdResult, Outcome, Refused, Settings, open_existing, render};

/// Ledger file formats the audit commands read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// A ledger of this plane (`--ledger NAME`).
    Native,
    /// A Control Plane v2 (Python) JSONL ledger file.
    #[value(name = "cp2-jsonl")]
    Cp2Jsonl,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Ledger to verify (`TIER/name`); default: every ledger of the plane.
    #[arg(long)]
    ledger: Option<String>,
    /// Format of what is verified.
    #[arg(long, value_enum, default_value = "native")]
    format: Format,
    /// The ledger file (with `--format cp2-jsonl`).
    #[arg(required_if_eq("format", "cp2-jsonl"))]
    file: Option<PathBuf>,
    /// Also verify against this signed checkpoint (its origin names the ledger).
    #[arg(long, requires = "pubkey", conflicts_with = "file")]
    checkpoint: Option<PathBuf>,
    /// Public key file that signed the checkpoint.
    #[arg(long, requires = "checkpoint")]
    pubkey: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct CheckpointArgs {
    /// Ledger to checkpoint (`TIER/name`).
    #[arg(long)]
    ledger: String,
    /// Ed25519 key pair file to sign with.
    #[arg(long)]
    key: PathBuf,
    /// Write the checkpoint here (default: print it).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also keep it in the plane (HOT/ledger/checkpoints/), where gate G6 verifies against it.
    #[arg(long)]
    save: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Ledger to export (`TIER/name`).
    #[arg(long)]
    ledger: String,
    /// Write the JSONL here (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// Format of the file to import.
    #[arg(long, value_enum)]
    format: Format,
    /// The file to import.
    file: PathBuf,
    /// Native ledger to append to (`TIER/name`, e.g. `HOT/imported`; created if needed). No
    /// default: importing into a ledger the plane already writes would mix two histories.
    #[arg(long)]
    ledger: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCmd {
    /// Verify ledgers: re-hash stored bytes, check seq and every link; report the first bad seq.
    #[command(after_help = "Examples:\n  cpctl ledger verify\n  cpctl ledger verify --ledger HOT/packages --json\n  \
                            cpctl ledger verify --format cp2-jsonl old-plane/ledger/governance.jsonl\n  \
                            cpctl ledger verify --checkpoint gov.cp.json --pubkey audit.pub.json\n\
                            Exit codes: 0 every ledger verifies, 2 a ledger does not, 3 I/O error.\n")]
    Verify(VerifyArgs),
    /// Sign a checkpoint (origin, size, Merkle root) of a verified ledger with Ed25519.
    #[command(after_help = "Example:\n  cpctl ledger checkpoint --ledger HOT/packages --key audit.key.json --save\n  \
                            cpctl ledger checkpoint --ledger HOT/packages --key audit.key.json \
                            --out gov.cp.json")]
    Checkpoint(CheckpointArgs),
    /// Export a verified ledger as native JSONL (one canonical JSON entry per line).
    #[command(after_help = "Example:\n  cpctl ledger export --ledger HOT/packages --out packages.jsonl")]
    Export(ExportArgs),
    /// Import a verified Control Plane v2 (Python) ledger into a native ledger.
    #[command(after_help = "Example:\n  cpctl ledger import --format cp2-jsonl old-plane/ledger/governance.jsonl \
                            --ledger HOT/imported_governance")]
    Import(ImportArgs),
}

pub(crate) fn run(s: &Settings, c: AuditCmd) -> CmdResult {
    match c {
        AuditCmd::Verify(a) => verify(s, a),
        AuditCmd::Checkpoint(a) => checkpoint(s, a),
        AuditCmd::Export(a) => export(s, a),
        AuditCmd::Import(a) => import(s, a),
    }
}

/// The result of `ledger verify`: one report per ledger checked.
#[derive(Debug, Serialize)]
struct VerifyOutput {
    ok: bool,
    ledgers: Vec<VerifyReport>,
}

fn verify(s: &Settings, a: VerifyArgs) -> CmdResult {
    let reports = match (a.format, a.file, a.checkpoint) {
        (Format::Cp2Jsonl, Some(file), _) => vec![cp2::verify_file(&file)?],
        (Format::Cp2Jsonl, None, _) => anyhow::bail!("--format cp2-jsonl needs a FILE"),
        (Format::Native, Some(_), _) => anyhow::bail!("a FILE is only read with --format cp2-jsonl"),
        (Format::Native, None, Some(cp_path)) => {
            let cp = Checkpoint::load(&cp_path)?;
            let key = PublicKeyFile::load(a.pubkey.as_deref().context("--checkpoint needs --pubkey")?)?;
            let name = a.ledger.unwrap_or_else(|| cp.origin.clone());
            let set = LedgerSet::new(&s.plane()?);
            let store = open_existing(&set, &name)?;
            vec![verify_against_checkpoint(&*store, &cp, &key).map_err(refuse_checkpoint)?]
        }
        (Format::Native, None, None) => {
            let set = LedgerSet::new(&s.plane()?);
            match a.ledger {
                Some(name) => vec![verify_store(&*open_existing(&set, &name)?)?],
                None => verify_plane(&set)?,
            }
        }
    };
    let out = VerifyOutput { ok: reports.iter().all(|r| r.ok), ledgers: reports };
    render(s, &out, |o| {
        if o.ledgers.is_empty() {
            return "no ledgers".to_string();
        }
        o.ledgers.iter().map(VerifyReport::summary).collect::<Vec<_>>().join("\n")
    })?;
    Ok(if out.ok { Outcome::Ok } else { Outcome::Refused })
}

/// Signature, key and origin failures are a verified "no" (exit 2).
fn refuse_checkpoint(e: CheckpointError) -> anyhow::Error {
    match e {
        CheckpointError::BadSignature { .. }
        | CheckpointError::WrongKey { .. }
        | CheckpointError::WrongOrigin { .. } => anyhow::Error::new(Refused(e.to_string())),
        other => other.into(),
    }
}

/// `out.json` → `./out.json`, so that atomic writes find the file's directory.
fn beside_cwd(p: &std::path::Path) -> PathBuf {
    match p.parent() {
        Some(d) if d.as_os_str().is_empty() => std::path::Path::new(".").join(p),
        _ => p.to_path_buf(),
    }
}

fn open(s: &Settings, name: &str) -> anyhow::Result<std::sync::Arc<dyn LedgerStore>> {
    open_existing(&LedgerSet::new(&s.plane()?), name)
}

fn checkpoint(s: &Settings, a: CheckpointArgs) -> CmdResult {
    let store = open(s, &a.ledger)?;
    let key = KeyPairFile::load(&a.key)?;
    if a.save {
        refuse_untrusted_save(&s.plane()?, &key)?;
    }
    let cp = match Checkpoint::create(&*store, &key) {
        Ok(cp) => cp,
        Err(e @ CheckpointError::Broken { .. }) => return Err(Refused(e.to_string()).into()),
        Err(e) => return Err(e.into()),
    };
    if let Some(out) = &a.out {
        cp.save(&beside_cwd(out))?;
    }
    let plane = s.plane()?;
    let saved = if a.save { Some(save_checkpoint(&plane, &cp)?) } else { None };
    record_checkpoint(&LedgerSet::new(&plane), &cp)?;
    let written = a.out.as_ref().or(saved.as_ref()).map(|p| p.display().to_string());
    render(s, &cp, |cp| match &written {
        Some(p) => {
            format!("checkpoint of {}: size {} root {} (key {}) written to {p}", cp.origin, cp.size, cp.root, cp.key_id)
        }
        None => serde_json::to_string_pretty(cp).unwrap_or_default(),
    })?;
    Ok(Outcome::Ok)
}

/// Removes a ledger this command created (its file and SQLite side files), after a refusal.
fn remove_ledger_files(set: &LedgerSet, name: &str) -> anyhow::Result<()> {
    let path = set.path_of(&LedgerName::parse(name)?);
    for suffix in ["", "-wal", "-shm", "-journal", ".lock"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        let p = PathBuf::from(p);
        if p.exists() {
            cp_kernel::fsx::remove_file(&p)?;
        }
    }
    Ok(())
}

/// A checkpoint saved in the plane is checked by G6 with the signer's key from the plane trust
/// store; one signed by a key the plane does not trust would only make G6 fail later. Refused
/// before anything is signed, saved or logged.
fn refuse_untrusted_save(plane: &cp_kernel::Plane, key: &KeyPairFile) -> anyhow::Result<()> {
    let trusted = plane.config().trusted_keys.iter().any(|t| t.key_id == key.key_id && t.public_key == key.public_key);
    if trusted {
        return Ok(());
    }
    Err(Refused(format!(
        "CHECKPOINT_KEY_UNTRUSTED: key {} is not in the plane trust store, so gate G6 could not check a \
         checkpoint saved with it; trust its public key first (cp-install trust add --pubkey FILE) or write the \
         checkpoint elsewhere with --out instead of --save",
        key.key_id
    ))
    .into())
}

/// What `ledger export --out FILE` reports.
#[derive(Debug, Serialize)]
struct ExportOutput {
    ledger: String,
    entries: u64,
    out: String,
}

fn export(s: &Settings, a: ExportArgs) -> CmdResult {
    let store = open(s, &a.ledger)?;
    let refuse = |e: ExportError| -> anyhow::Error {
        match e {
            ExportError::Broken { .. } => Refused(e.to_string()).into(),
            other => other.into(),
        }
    };
    match &a.out {
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            export_jsonl(&*store, &mut w).map_err(refuse)?;
            w.flush()?;
        }
        Some(path) => {
            let mut buf = Vec::new();
            let report = export_jsonl(&*store, &mut buf).map_err(refuse)?;
            cp_kernel::fsx::write_atomic(beside_cwd(path), &buf)?;
            let o = ExportOutput { ledger: report.ledger, entries: report.entries, out: path.display().to_string() };
            render(s, &o, |o| format!("exported {} entries of {} to {}", o.entries, o.ledger, o.out))?;
        }
    }
    Ok(Outcome::Ok)
}

fn import(s: &Settings, a: ImportArgs) -> CmdResult {
    if a.format != Format::Cp2Jsonl {
        anyhow::bail!("only --format cp2-jsonl can be imported");
    }
    let Some(ledger) = a.ledger else {
        anyhow::bail!(
            "say which native ledger to import into, e.g. `cpctl ledger import --format cp2-jsonl {} --ledger \
             HOT/imported` (created if needed)",
            a.file.display()
        );
    };
    LedgerName::parse(&ledger)?;
    // Verify before anything is created: a refused import leaves no ledger behind.
    let checked = cp2::verify_file(&a.file)?;
    if let Some(defect) = checked.first_bad {
        return Err(Refused(Cp2Error::Broken { path: a.file.display().to_string(), defect }.to_string()).into());
    }
    let plane = s.plane()?;
    let existed = LedgerSet::new(&plane).list()?.iter().any(|n| n.to_string() == ledger);
    let result = {
        let set = LedgerSet::new(&plane);
        let store = set.open(&ledger)?;
        cp2::import(&a.file, &*store)
    };
    let rep = match result {
        Ok(r) => r,
        Err(e) => {
            if !existed {
                remove_ledger_files(&LedgerSet::new(&plane), &ledger)?;
            }
            return Err(match e {
                e @ Cp2Error::Broken { .. } => Refused(e.to_string()).into(),
                e => e.into(),
            });
        }
    };
    render(s, &rep, |r| {
        format!(
            "imported {} entries from {} into {} (seq {}..={})",
            r.imported,
            r.source,
            r.ledger,
            r.first_seq.map_or("-".into(), |x| x.to_string()),
            r.last_seq.map_or("-".into(), |x| x.to_string())
        )
    })?;
    Ok(Outcome::Ok)
}
