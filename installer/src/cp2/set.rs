//! Installing a whole Control Plane v2 set: read every manifest, refuse the set before anything
//! moves when a dependency is missing or cyclic, derive layers and the order, then convert and
//! install each package through the ordinary transaction and gates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use cp_kernel::{GovernancePolicy, InstallConfig, Plane, fsx, load_receipts, plane_schemas, read_archive_with};

use super::Cp2Error;
use super::convert::{Plan, convert};
use super::manifest::{Cp2Manifest, read_cp2_manifest};
use super::sequence::{LayerSource, Node, SEQUENCE_FILE, Sequence, order};
use crate::{InstallOptions, InstallOutcome, Installer};

/// The framework a genesis or kernel package without `framework_id` is placed under (the
/// plane-governance framework the Python system's genesis packages belong to).
pub const DEFAULT_GENESIS_FRAMEWORK: &str = "FMWK-000";

/// Options of a v2 set install.
#[derive(Debug, Clone)]
pub struct Cp2Options {
    /// `--cp2-compat`: accept (and record as waivers) asset paths outside the framework's
    /// `path_authorizations`. Default: refuse.
    pub compat: bool,
    /// `--dev`: waive the signature requirement (v2 archives are unsigned; logged).
    pub dev: bool,
    /// The order file; default: `bootstrap_sequence.json` beside the first archive, if any.
    pub sequence: Option<PathBuf>,
    /// The framework of genesis/kernel packages without `framework_id`.
    pub genesis_framework: String,
}

impl Default for Cp2Options {
    fn default() -> Self {
        Self { compat: false, dev: false, sequence: None, genesis_framework: DEFAULT_GENESIS_FRAMEWORK.into() }
    }
}

/// One package of the set as installed.
#[derive(Debug, Clone, Serialize)]
pub struct Cp2Package {
    /// Package id.
    pub package_id: String,
    /// The v2 archive.
    pub archive: PathBuf,
    /// Layer used.
    pub layer: u32,
    /// Where it came from.
    pub layer_source: LayerSource,
    /// `external_deps` as recorded.
    pub external_deps: Vec<Value>,
    /// The install outcome.
    pub outcome: InstallOutcome,
    /// Paths accepted under `--cp2-compat` (recorded as waivers).
    pub waived_paths: Vec<String>,
    /// What the compatibility reader derived (also under `cp2` in the `INSTALLED` entry).
    pub record: serde_json::Map<String, Value>,
}

/// What `install_cp2_set` did.
#[derive(Debug, Clone, Serialize)]
pub struct Cp2InstallReport {
    /// The order file used, if any.
    pub sequence: Option<PathBuf>,
    /// Packages in install order.
    pub packages: Vec<Cp2Package>,
    /// Rows of shipped registries merged into the derived ones: `path → keys present`.
    pub registry_rows_merged: BTreeMap<String, Vec<String>>,
    /// Rows of shipped registries the derived registry does not list (no installed manifest
    /// declares them), with the shipping package: `path → [(key, package)]`.
    pub registry_rows_left: BTreeMap<String, Vec<(String, String)>>,
}

struct Member {
    archive: PathBuf,
    manifest: Cp2Manifest,
}

fn read_members(archives: &[PathBuf], plane: &Plane) -> Result<BTreeMap<String, Member>, Cp2Error> {
    let caps = InstallConfig::for_plane(plane).map_err(|e| Cp2Error::Read(e.to_string()))?.archive;
    let mut out: BTreeMap<String, Member> = BTreeMap::new();
    for a in archives {
        let read = read_archive_with(a, &caps, None, false)
            .map_err(|source| Cp2Error::Archive { archive: a.clone(), source })?;
        let bytes = read.manifest_bytes.unwrap_or_default();
        let manifest = read_cp2_manifest(&bytes, a)?;
        if let Some(first) = out.get(&manifest.package_id) {
            return Err(Cp2Error::Duplicate {
                package: manifest.package_id.clone(),
                first: first.archive.clone(),
                second: a.clone(),
            });
        }
        out.insert(manifest.package_id.clone(), Member { archive: a.clone(), manifest });
    }
    Ok(out)
}

fn sequence_file(archives: &[PathBuf], opts: &Cp2Options) -> Option<PathBuf> {
    if let Some(s) = &opts.sequence {
        return Some(s.clone());
    }
    let beside = archives.first()?.parent()?.join(SEQUENCE_FILE);
    beside.is_file().then_some(beside)
}

/// Installs the v2 archives `archives` on `plane`, in dependency order (see the module docs of
/// `cp2`). The whole set is checked (manifests, dependencies, order) before the first install.
pub fn install_cp2_set(plane: &Plane, archives: &[PathBuf], opts: &Cp2Options) -> Result<Cp2InstallReport, Cp2Error> {
    let members = read_members(archives, plane)?;
    let seq_path = sequence_file(archives, opts);
    let seq = match &seq_path {
        Some(p) => Sequence::load(p)?,
        None => Sequence::default(),
    };
    let receipts = load_receipts(plane).map_err(|e| Cp2Error::Read(e.to_string()))?;
    let installed: BTreeMap<String, u32> = receipts.values().map(|r| (r.package_id.clone(), r.layer)).collect();
    let nodes: Vec<Node<'_>> = members
        .values()
        .map(|m| Node { id: &m.manifest.package_id, layer: m.manifest.layer, deps: &m.manifest.dependencies })
        .collect();
    let placed = order(&nodes, &seq, &installed)?;
    let schemas = plane_schemas(plane).map_err(|e| Cp2Error::Read(e.to_string()))?;
    let policy = GovernancePolicy::for_plane(plane, &schemas).map_err(|e| Cp2Error::Read(e.to_string()))?;
    for (id, layer, _) in &placed {
        if members[id].manifest.framework_id.is_none() && !policy.genesis.layers.contains(layer) {
            return Err(Cp2Error::FrameworkRequired { package: id.clone(), layer: *layer });
        }
    }
    // Outside the plane: the install's recovery clears the plane's staging area.
    let work = std::env::temp_dir().join(format!("cp2-convert-{}", uuid::Uuid::now_v7()));
    fsx::create_dir_all(&work)?;
    let result = install_in_order(plane, &members, &placed, opts, &work);
    let _ = fsx::remove_dir_all(&work);
    let packages = result?;
    let (merged, left) = registry_merge_report(plane, &packages)?;
    Ok(Cp2InstallReport { sequence: seq_path, packages, registry_rows_merged: merged, registry_rows_left: left })
}

fn install_in_order(
    plane: &Plane,
    members: &BTreeMap<String, Member>,
    placed: &[(String, u32, LayerSource)],
    opts: &Cp2Options,
    work: &Path,
) -> Result<Vec<Cp2Package>, Cp2Error> {
    let mut out = Vec::new();
    for (id, layer, source) in placed {
        // Re-read: earlier packages of the set may have shipped schemas and configuration.
        let plane = Plane::open(plane.root())?;
        let schemas = plane_schemas(&plane).map_err(|e| Cp2Error::Read(e.to_string()))?;
        let caps = InstallConfig::for_plane(&plane).map_err(|e| Cp2Error::Read(e.to_string()))?.archive;
        let m = &members[id];
        let plan = Plan { layer: *layer, layer_source: *source, framework_default: Some(&opts.genesis_framework) };
        let conv = convert(&m.archive, &m.manifest, &plan, &plane, &schemas, &caps, work)?;
        let iopts = InstallOptions {
            dev: opts.dev,
            cp2_compat: opts.compat,
            cp2_record: Some(conv.record.clone()),
            ..InstallOptions::default()
        };
        let outcome = Installer::new(&plane)
            .install_archive(&conv.archive, Some(id), &iopts)
            .map_err(|e| Cp2Error::Install { package: id.clone(), archive: m.archive.clone(), source: Box::new(e) })?;
        let waived_paths = load_receipts(&plane)
            .map_err(|e| Cp2Error::Read(e.to_string()))?
            .get(id)
            .map(|r| r.waivers.iter().map(|w| w.path.clone()).collect())
            .unwrap_or_default();
        out.push(Cp2Package {
            package_id: id.clone(),
            archive: m.archive.clone(),
            layer: *layer,
            layer_source: *source,
            external_deps: m.manifest.external_deps.clone(),
            outcome,
            waived_paths,
            record: conv.record,
        });
    }
    Ok(out)
}

type MergeReport = (BTreeMap<String, Vec<String>>, BTreeMap<String, Vec<(String, String)>>);

/// Compares the keys of every shipped (merged) registry with the live derived registry.
fn registry_merge_report(plane: &Plane, packages: &[Cp2Package]) -> Result<MergeReport, Cp2Error> {
    let receipts_dir = plane.root().to_path_buf();
    let mut merged: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut left: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for p in packages {
        for (path, keys) in shipped_registries(p) {
            let live = receipts_dir.join(&path);
            let have: Vec<String> = if live.is_file() { first_column(&fsx::read(&live)?) } else { Vec::new() };
            for k in keys {
                if have.contains(&k) {
                    merged.entry(path.clone()).or_default().push(k);
                } else {
                    left.entry(path.clone()).or_default().push((k, p.package_id.clone()));
                }
            }
        }
    }
    Ok((merged, left))
}

/// `path → keys` of the registries `p` shipped (from its record).
fn shipped_registries(p: &Cp2Package) -> Vec<(String, Vec<String>)> {
    let Some(Value::Array(items)) = p.record.get("registries_merged") else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|i| {
            let path = i.get("path")?.as_str()?.to_string();
            let keys = i.get("keys")?.as_array()?.iter().filter_map(|k| k.as_str().map(str::to_string)).collect();
            Some((path, keys))
        })
        .collect()
}

fn first_column(data: &[u8]) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(data);
    r.records().filter_map(Result::ok).filter_map(|rec| rec.get(0).map(str::to_string)).collect()
}
