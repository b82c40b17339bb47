//! `plane migrate --from-cp2 OLD --root NEW`: a plane installed by Control Plane v2 (the
//! Python system) becomes a new native plane. The old plane is only read.
//!
//! 1. OLD must show the v2 signs (see `plane`); NEW must not exist or be empty.
//! 2. Every Python ledger (`<tier>/ledger/*.jsonl` but `index.jsonl`) verifies; the first bad
//!    one is reported with its first bad line and entry id, and nothing is created.
//! 3. NEW is created and the native bootstrap set installed (pinned digests), as `quickstart`.
//! 4. Each Python ledger is imported into the native ledger `<TIER>/cp2_<name>` (entries keep
//!    their Python id, timestamp and hashes under `metadata.cp2`), followed by a link entry
//!    `CP2_IMPORTED` carrying the Python chain's last `entry_hash`.
//! 5. The governed documents that have a native meaning — prompt contracts (valid against the
//!    native schema), prompt packs, attention templates, frameworks and spec packs the native
//!    plane does not already have — are carried into one native package
//!    `PKG-CP2-MIGRATED-001` installed through the gates (unsigned: `--dev` waiver; paths
//!    outside FMWK-000's authorisations: the `--cp2-compat` waiver; both logged).
//! 6. Everything else is left, each file with its reason (Python code, Python receipts,
//!    registries the native installer derives, the Python layout, files the native plane
//!    already governs); the report is returned and written to
//!    `NEW/HOT/cp2_migration/report.json`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value, json};

use cp_kernel::{
    ArchiveFile, FrameworkSet, LedgerName, LedgerSet, NewEntry, Plane, PlaneConfig, PromptContract, SchemaSet, cp2,
    event, fsx, plane_schemas, sha256_prefixed,
};

use super::{Cp2Error, detect_cp2_plane};
use crate::{InstallOptions, InstallOutcome, Installer, builtin_pins, builtin_sources};

/// Id of the package the carried documents are installed as.
pub const MIGRATED_PACKAGE: &str = "PKG-CP2-MIGRATED-001";
/// Framework and spec of the migrated package (the plane-governance framework).
const MIGRATED_FRAMEWORK: (&str, &str) = ("FMWK-000", "SPEC-CORE-001");
/// Where the report is written in the new plane (not a governed root).
pub const MIGRATION_REPORT: &str = "HOT/cp2_migration/report.json";

/// One imported ledger.
#[derive(Debug, Clone, Serialize)]
pub struct MigratedLedger {
    /// The Python file (relative to OLD).
    pub source: String,
    /// The native ledger.
    pub ledger: String,
    /// Entries imported.
    pub imported: u64,
    /// The Python chain's last `entry_hash` (carried by the link entry).
    pub source_head: Option<String>,
    /// `seq` of the `CP2_IMPORTED` link entry.
    pub link_seq: u64,
}

/// A file of OLD not carried, and why.
#[derive(Debug, Clone, Serialize)]
pub struct LeftFile {
    /// Path relative to OLD.
    pub path: String,
    /// Why.
    pub reason: String,
}

/// What `migrate_cp2_plane` did.
#[derive(Debug, Clone, Serialize)]
pub struct MigrateReport {
    /// The v2 plane (unchanged).
    pub from: PathBuf,
    /// The new native plane.
    pub root: PathBuf,
    /// The imported ledgers.
    pub ledgers: Vec<MigratedLedger>,
    /// Files carried into the migrated package.
    pub carried: Vec<String>,
    /// Files left, with reasons.
    pub left: Vec<LeftFile>,
    /// The migrated package's install, when anything was carried.
    pub package: Option<InstallOutcome>,
    /// The native bootstrap packages installed.
    pub bootstrap: usize,
}

fn python_ledgers(old: &Path) -> Result<Vec<(String, String)>, Cp2Error> {
    let mut out = Vec::new();
    for tier in ["HOT", "HO2", "HO1"] {
        let dir = old.join(tier).join("ledger");
        if !dir.is_dir() {
            continue;
        }
        for e in fsx::read_dir(&dir)? {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(stem) = name.strip_suffix(".jsonl").filter(|s| *s != "index") {
                out.push((format!("{tier}/ledger/{name}"), format!("{tier}/cp2_{}", native_name(stem))));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn native_name(stem: &str) -> String {
    stem.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect()
}

fn verify_all(old: &Path, ledgers: &[(String, String)]) -> Result<(), Cp2Error> {
    for (rel, _) in ledgers {
        let report = cp2::verify_file(&old.join(rel)).map_err(|e| Cp2Error::Read(e.to_string()))?;
        if let Some(d) = report.first_bad {
            return Err(Cp2Error::LedgerBroken { path: rel.clone(), defect: d.message });
        }
    }
    Ok(())
}

/// Migrates the v2 plane `old` into a new native plane at `new_root` (see the module docs).
pub fn migrate_cp2_plane(old: &Path, new_root: &Path) -> Result<MigrateReport, Cp2Error> {
    if detect_cp2_plane(old).is_none() {
        return Err(Cp2Error::NotCp2Plane { root: old.to_path_buf() });
    }
    if new_root.exists() && !fsx::read_dir(new_root)?.is_empty() {
        return Err(Cp2Error::TargetNotEmpty { root: new_root.to_path_buf() });
    }
    let ledgers = python_ledgers(old)?;
    verify_all(old, &ledgers)?;
    let plane = Plane::init(new_root, PlaneConfig::default())?;
    let opts = InstallOptions {
        pinned: builtin_pins().map_err(|e| Cp2Error::Read(e.to_string()))?,
        ..InstallOptions::default()
    };
    let sources = builtin_sources().map_err(|e| Cp2Error::Read(e.to_string()))?;
    let boot = Installer::new(&plane).install_bootstrap(&sources, &opts, &mut |_| {}).map_err(|e| {
        Cp2Error::Install { package: "(bootstrap)".into(), archive: sources.clone(), source: Box::new(e) }
    })?;
    let plane = Plane::open(new_root)?;
    let imported =
        ledgers.iter().map(|(rel, name)| import_one(&plane, old, rel, name)).collect::<Result<Vec<_>, _>>()?;
    let (carried, left) = inventory(&plane, old)?;
    let package = if carried.is_empty() { None } else { Some(install_carried(&plane, old, &carried)?) };
    let report = MigrateReport {
        from: old.to_path_buf(),
        root: plane.root().to_path_buf(),
        ledgers: imported,
        carried: carried.clone(),
        left,
        package,
        bootstrap: boot.len(),
    };
    let text =
        serde_json::to_vec_pretty(&report).map_err(|e| fsx::FsError::new("encode", MIGRATION_REPORT, e.into()))?;
    fsx::create_dir_all(plane.root().join(MIGRATION_REPORT).parent().unwrap_or(plane.root()))?;
    fsx::write_atomic(plane.root().join(MIGRATION_REPORT), text)?;
    Ok(report)
}

fn import_one(plane: &Plane, old: &Path, rel: &str, name: &str) -> Result<MigratedLedger, Cp2Error> {
    let ledger = LedgerName::parse(name).map_err(|e| Cp2Error::Read(e.to_string()))?;
    let store = LedgerSet::new(plane).open(&ledger.to_string()).map_err(|e| Cp2Error::Read(e.to_string()))?;
    let r = cp2::import(&old.join(rel), &*store).map_err(|e| Cp2Error::Read(e.to_string()))?;
    let link = NewEntry::new(event::CP2_IMPORTED)
        .decision("ALLOW")
        .reason(format!("{} entries imported from the Control Plane v2 ledger {rel}", r.imported))
        .meta("source", rel)
        .meta("source_head", r.source_head.clone().map_or(Value::Null, Value::from))
        .meta("imported", r.imported)
        .meta("first_seq", r.first_seq.map_or(Value::Null, Value::from))
        .meta("last_seq", r.last_seq.map_or(Value::Null, Value::from))
        .meta("policy_id", "cp2.migrate")
        .meta("actor", "operator");
    let written = store.append(link).map_err(|e| Cp2Error::Read(e.to_string()))?;
    Ok(MigratedLedger {
        source: rel.to_string(),
        ledger: ledger.to_string(),
        imported: r.imported,
        source_head: r.source_head,
        link_seq: written.seq,
    })
}

/// Why a file of OLD is not carried, or `None` when it is.
fn verdict(plane: &Plane, schemas: &SchemaSet, fw: &FrameworkSet, old: &Path, rel: &str) -> Option<String> {
    let parts: Vec<&str> = rel.split('/').collect();
    let dir = parts.get(1).copied().unwrap_or_default();
    if rel.ends_with(".py") || matches!(dir, "kernel" | "scripts" | "tests") {
        return Some("Python code: the native kernel is the code".into());
    }
    if dir == "ledger" {
        return Some(if rel.ends_with("index.jsonl") {
            "Python offset index: the native ledger indexes itself".into()
        } else {
            "imported into a native ledger (see ledgers)".into()
        });
    }
    if dir == "installed" {
        return Some("Python receipt: the install history is in the imported ledger".into());
    }
    if dir == "registries" {
        return Some("registry: the native installer derives its registries from receipts".into());
    }
    if rel == cp_kernel::LAYOUT_PATH {
        return Some("Python layout: the native plane has its own layout".into());
    }
    if plane.root().join(rel).exists() {
        return Some("the native plane already governs this path (its own package's file wins)".into());
    }
    let file = old.join(rel);
    match (dir, parts.len()) {
        ("contracts", 3) => {
            PromptContract::load(schemas, &file).err().map(|e| format!("not a valid native contract: {e}"))
        }
        ("prompt_packs", 3) if rel.ends_with(".txt") => None,
        ("attention_templates", 3) => schemas
            .load_document::<Value>("attention_template", &file)
            .err()
            .map(|e| format!("not a valid attention template: {e}")),
        (d, _) if d.starts_with("FMWK-") => {
            let id = d.split('_').next().unwrap_or(d);
            fw.frameworks.contains_key(id).then(|| format!("the native plane's {id} governs")).or_else(|| {
                schemas.load_document::<Value>("framework", &file).err().map(|e| format!("not a valid framework: {e}"))
            })
        }
        ("spec_packs", _) => {
            let id = parts.get(2).copied().unwrap_or_default();
            fw.specs.contains_key(id).then(|| format!("the native plane's {id} governs")).or_else(|| {
                schemas.load_document::<Value>("spec", &file).err().map(|e| format!("not a valid spec pack: {e}"))
            })
        }
        _ => Some("no native meaning".into()),
    }
}

fn inventory(plane: &Plane, old: &Path) -> Result<(Vec<String>, Vec<LeftFile>), Cp2Error> {
    let schemas = plane_schemas(plane).map_err(|e| Cp2Error::Read(e.to_string()))?;
    let fw = FrameworkSet::load(plane, &schemas, &[]).map_err(|e| Cp2Error::Read(e.to_string()))?;
    let (files, other) = fsx::walk_files(old)?;
    let mut carried = Vec::new();
    let mut left: Vec<LeftFile> =
        other.into_iter().map(|p| LeftFile { path: p, reason: "not a regular file".into() }).collect();
    for rel in files {
        match verdict(plane, &schemas, &fw, old, &rel) {
            None => carried.push(rel),
            Some(reason) => left.push(LeftFile { path: rel, reason }),
        }
    }
    Ok((carried, left))
}

fn install_carried(plane: &Plane, old: &Path, carried: &[String]) -> Result<InstallOutcome, Cp2Error> {
    let mut files = Vec::new();
    let mut assets = Vec::new();
    for rel in carried {
        let data = fsx::read(old.join(rel))?;
        assets.push(json!({"path": rel, "sha256": sha256_prefixed(&data), "classification": classify(rel)}));
        files.push(ArchiveFile { path: rel.clone(), data, executable: false });
    }
    let manifest = json!({
        "package_id": MIGRATED_PACKAGE, "version": "1.0.0", "schema_version": "1.2",
        "title": "Governed documents carried from a Control Plane v2 plane",
        "spec_id": MIGRATED_FRAMEWORK.1, "framework_id": MIGRATED_FRAMEWORK.0, "layer": 3,
        "dependencies": [], "assets": assets
    });
    let work = std::env::temp_dir().join(format!("cp2-migrate-{}", uuid::Uuid::now_v7()));
    let archive = work.join(format!("{MIGRATED_PACKAGE}-1.0.0.tar.gz"));
    let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| fsx::FsError::new("encode", &archive, e.into()))?;
    cp_kernel::write_archive(&archive, &bytes, &files)?;
    let mut record = Map::new();
    record.insert("migrated_from".into(), json!(old.display().to_string()));
    record.insert("carried".into(), json!(carried.len()));
    let opts = InstallOptions { dev: true, cp2_compat: true, cp2_record: Some(record), ..InstallOptions::default() };
    let out = Installer::new(plane).install_archive(&archive, Some(MIGRATED_PACKAGE), &opts);
    let _ = fsx::remove_dir_all(&work);
    out.map_err(|e| Cp2Error::Install { package: MIGRATED_PACKAGE.into(), archive, source: Box::new(e) })
}

fn classify(rel: &str) -> &'static str {
    let kinds: BTreeSet<(&str, &str)> = [
        ("contracts", "contract"),
        ("prompt_packs", "prompt_pack"),
        ("attention_templates", "template"),
        ("spec_packs", "spec"),
    ]
    .into_iter()
    .collect();
    let dir = rel.split('/').nth(1).unwrap_or_default();
    kinds.iter().find(|(d, _)| *d == dir).map_or("framework", |(_, k)| k)
}
