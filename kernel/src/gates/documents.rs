//! Governed documents (part of G0A): which plane files the kernel reads as documents, and the
//! check each one must pass — the same loader the kernel uses to read it (schema validation,
//! typed decode with unknown keys refused, and the loader's own consistency checks).
//!
//! Install time ([`check_staged_documents`]): every document a package ships, before any file
//! moves, against the plane's schemas overlaid with the schemas the package ships; and the
//! plane's documents whose schema the package replaces. Plane level
//! ([`check_plane_documents`], run by plane-level G0A): every governed document on the plane.
//! Each failure is one `G0A_DOCUMENT_INVALID` issue naming the plane path, with line, column
//! and field path in the message.
//! Never does: change anything.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::{GateCode, GateError, GateIssue};
use crate::attention::{ATTENTION_CONFIG_SCHEMA, ATTENTION_TEMPLATE_SCHEMA, AttentionConfig, load_template_str};
use crate::budget::{BUDGET_CONFIG_SCHEMA, BudgetConfig, PRICE_BOOK_SCHEMA, PriceBook};
use crate::contract::{PROMPT_CONTRACT_SCHEMA, PromptContract};
use crate::framework::{
    FRAMEWORK_SCHEMA, GOVERNANCE_POLICY_SCHEMA, GovernancePolicy, REGISTRIES_SCHEMA, RegistriesConfig, SPEC_SCHEMA,
    VOCABULARY_SCHEMA, Vocabulary, load_framework_file, load_spec_file,
};
use crate::fsx;
use crate::package::config::{INSTALL_CONFIG_SCHEMA, InstallConfig};
use crate::plane::{LAYOUT_SCHEMA, Layout, PLANE_CONFIG_SCHEMA, Plane, PlaneConfig, Tier};
use crate::router::{ROUTER_CONFIG_SCHEMA, RouterConfig};
use crate::schema::{SCHEMA_SUFFIX, SchemaSet};

/// What kind of governed document a plane file is, decided by where it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocumentKind {
    /// `HOT/schemas/<name>.schema.json`: a JSON Schema (meta-schema, compiles with the set).
    Schema,
    /// `HOT/config/<name>.json|yaml|yml`: a config document, checked against schema `<name>`.
    Config(String),
    /// `HOT/plane/plane.json`: the operator's plane config.
    PlaneConfig,
    /// `<TIER>/attention_templates/*.json|yaml|yml`.
    AttentionTemplate,
    /// `<TIER>/contracts/*.json|yaml|yml`.
    PromptContract,
    /// `HOT/FMWK-*/manifest.yaml`.
    Framework,
    /// `HOT/spec_packs/SPEC-*/manifest.yaml`.
    SpecPack,
}

fn document_ext(file: &str) -> bool {
    matches!(Path::new(file).extension().and_then(|e| e.to_str()), Some("json" | "yaml" | "yml"))
}

impl DocumentKind {
    /// The kind of the plane-relative path `rel` under `layout`, or `None` when the kernel does
    /// not read it as a document (standards, code, registries, other data).
    pub fn of(layout: &Layout, rel: &str) -> Option<Self> {
        let parts: Vec<&str> = rel.split('/').collect();
        let (tier, rest) = parts.split_first()?;
        let tier = Tier::ALL.into_iter().find(|t| t.dir_name() == *tier)?;
        let hot = tier == Tier::Hot;
        let dir = |name: &str| layout.dir_name(name).to_string();
        match rest {
            [d, f] if hot && *d == dir("schemas") && f.ends_with(SCHEMA_SUFFIX) => Some(Self::Schema),
            [d, f] if hot && *d == dir("config") && document_ext(f) => {
                Some(Self::Config(f.split('.').next().unwrap_or(f).to_string()))
            }
            [d, "plane.json"] if hot && *d == dir("plane") => Some(Self::PlaneConfig),
            [d, f] if *d == dir("attention_templates") && document_ext(f) => Some(Self::AttentionTemplate),
            [d, f] if *d == dir("contracts") && document_ext(f) => Some(Self::PromptContract),
            [d, "manifest.yaml"] if hot && d.starts_with("FMWK-") => Some(Self::Framework),
            [sp, d, "manifest.yaml"] if hot && *sp == dir("spec_packs") && d.starts_with("SPEC-") => {
                Some(Self::SpecPack)
            }
            _ => None,
        }
    }

    /// The schema the document is checked against (`None` for a schema file).
    pub fn schema_name(&self) -> Option<&str> {
        match self {
            Self::Schema => None,
            Self::Config(n) => Some(n),
            Self::PlaneConfig => Some(PLANE_CONFIG_SCHEMA),
            Self::AttentionTemplate => Some(ATTENTION_TEMPLATE_SCHEMA),
            Self::PromptContract => Some(PROMPT_CONTRACT_SCHEMA),
            Self::Framework => Some(FRAMEWORK_SCHEMA),
            Self::SpecPack => Some(SPEC_SCHEMA),
        }
    }
}

/// The name of the directory holding `rel` (`FMWK-003_Prompt_Routing` for its manifest).
fn parent_name(rel: &str) -> &str {
    rel.rsplit('/').nth(1).unwrap_or("")
}

/// Checks one config document with the loader the kernel reads it with.
fn check_config(schemas: &SchemaSet, name: &str, file: &Path) -> Result<(), String> {
    fn typed<T: serde::de::DeserializeOwned>(s: &SchemaSet, n: &str, f: &Path) -> Result<(), String> {
        s.load_document::<T>(n, f).map(drop).map_err(|e| e.to_string())
    }
    if !schemas.contains(name) {
        return Err(format!("no schema named {name:?} is installed or built in to check this config document against"));
    }
    match name {
        LAYOUT_SCHEMA => {
            // The plane reads its layout with the embedded schema: it must pass both.
            typed::<Layout>(schemas, name, file)?;
            Layout::load(file).map(drop).map_err(|e| crate::causes::with_causes(&e))
        }
        INSTALL_CONFIG_SCHEMA => typed::<InstallConfig>(schemas, name, file),
        GOVERNANCE_POLICY_SCHEMA => GovernancePolicy::load(schemas, file).map(drop).map_err(|e| e.to_string()),
        VOCABULARY_SCHEMA => Vocabulary::load(schemas, file).map(drop).map_err(|e| e.to_string()),
        REGISTRIES_SCHEMA => RegistriesConfig::load(schemas, file).map(drop).map_err(|e| e.to_string()),
        ATTENTION_CONFIG_SCHEMA => typed::<AttentionConfig>(schemas, name, file),
        ROUTER_CONFIG_SCHEMA => typed::<RouterConfig>(schemas, name, file),
        BUDGET_CONFIG_SCHEMA => typed::<BudgetConfig>(schemas, name, file),
        PRICE_BOOK_SCHEMA => typed::<PriceBook>(schemas, name, file),
        _ => {
            let text = crate::schema::read_limited(file, schemas.limits()).map_err(|e| e.to_string())?;
            schemas.check_str(name, file, &text).map(drop).map_err(|e| e.to_string())
        }
    }
}

/// Checks the document at `file` (plane path `rel`) of kind `kind` against `schemas`. The error
/// says what is wrong with line, column and field path, naming the file by `rel`.
pub fn check_document(schemas: &SchemaSet, kind: &DocumentKind, rel: &str, file: &Path) -> Result<(), String> {
    let result = match kind {
        DocumentKind::Schema => crate::schema::read_limited(file, schemas.limits())
            .and_then(|text| schemas.check_schema_text(file, &text))
            .map_err(|e| e.to_string()),
        DocumentKind::Config(name) => check_config(schemas, name, file),
        DocumentKind::PlaneConfig => {
            crate::schema::SchemaSet::embedded_plane_documents().map_err(|e| e.to_string()).and_then(|s| {
                s.load_document::<PlaneConfig>(PLANE_CONFIG_SCHEMA, file).map(drop).map_err(|e| e.to_string())
            })
        }
        DocumentKind::AttentionTemplate => match crate::schema::read_limited(file, schemas.limits()) {
            Ok(text) => load_template_str(schemas, file, &text)
                .map(drop)
                .map_err(|issues| issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
            Err(e) => Err(e.to_string()),
        },
        DocumentKind::PromptContract => PromptContract::load(schemas, file).map(drop).map_err(|e| e.to_string()),
        DocumentKind::Framework => {
            load_framework_file(schemas, file, parent_name(rel)).map(drop).map_err(|e| e.to_string())
        }
        DocumentKind::SpecPack => load_spec_file(schemas, file, parent_name(rel)).map(drop).map_err(|e| e.to_string()),
    };
    // Name the file by its plane path, not where it was staged.
    result.map_err(|m| m.replace(&file.display().to_string(), rel))
}

/// The issue for `rel`; a message that starts by naming the file again loses that prefix (the
/// issue's path names it; the located violations below keep it).
fn invalid(rel: &str, message: String) -> GateIssue {
    let message = match message.strip_prefix(rel) {
        Some(rest) if rest.starts_with(' ') || rest.starts_with(": ") => {
            rest.trim_start_matches(':').trim_start().to_string()
        }
        _ => message,
    };
    GateIssue::new(GateCode::G0aDocumentInvalid, message).at(rel)
}

/// Install-time check of a package's documents. `staged` maps each plane path the package ships
/// to its staged file. Checks, against the plane's schemas overlaid with the schemas the package
/// ships: every shipped schema, every shipped document, and every document already on the plane
/// whose schema the package ships (so that a schema cannot be replaced by one the installed
/// documents fail). Returns one issue per invalid document.
pub fn check_staged_documents(plane: &Plane, staged: &[(String, PathBuf)]) -> Result<Vec<GateIssue>, GateError> {
    let layout = plane.layout();
    let kinds: Vec<(&str, &Path, DocumentKind)> = staged
        .iter()
        .filter_map(|(rel, file)| DocumentKind::of(layout, rel).map(|k| (rel.as_str(), file.as_path(), k)))
        .collect();
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let shipped_schemas: Vec<PathBuf> =
        kinds.iter().filter(|(_, _, k)| *k == DocumentKind::Schema).map(|(_, f, _)| f.to_path_buf()).collect();
    let schemas = match SchemaSet::for_plane_with(plane, &shipped_schemas) {
        Ok(s) => s,
        Err(e) => {
            // The set does not compile with the shipped schemas: name the schema concerned.
            let mut message = e.to_string();
            let mut at = "HOT/schemas".to_string();
            for (rel, file, _) in kinds.iter().filter(|(_, _, k)| *k == DocumentKind::Schema) {
                let shown = file.display().to_string();
                if message.contains(&shown) {
                    message = message.replace(&shown, rel);
                    at = rel.to_string();
                }
            }
            return Ok(vec![invalid(&at, message)]);
        }
    };
    let mut issues = Vec::new();
    for (rel, file, kind) in &kinds {
        if let Err(m) = check_document(&schemas, kind, rel, file) {
            issues.push(invalid(rel, m));
        }
    }
    // Documents on the plane under a schema the package replaces.
    let replaced: BTreeSet<String> = shipped_schemas
        .iter()
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).and_then(crate::schema::schema_name))
        .map(str::to_string)
        .collect();
    if !replaced.is_empty() {
        let shipped: BTreeSet<&str> = staged.iter().map(|(r, _)| r.as_str()).collect();
        for (rel, kind) in plane_documents(plane)? {
            if shipped.contains(rel.as_str()) || kind.schema_name().is_none_or(|n| !replaced.contains(n)) {
                continue;
            }
            if let Err(m) = check_document(&schemas, &kind, &rel, &plane.root().join(&rel)) {
                issues.push(invalid(&rel, format!("{m} (under the schema this package ships)")));
            }
        }
    }
    Ok(issues)
}

/// Every governed document of the plane: `(plane path, kind)`, sorted by path.
pub fn plane_documents(plane: &Plane) -> Result<Vec<(String, DocumentKind)>, GateError> {
    let mut out = Vec::new();
    for d in super::g0b_ownership::governed_dirs(plane)? {
        let (files, _) = fsx::walk_files(plane.root().join(&d))?;
        for f in files {
            let rel = format!("{d}/{f}");
            if let Some(k) = DocumentKind::of(plane.layout(), &rel) {
                out.push((rel, k));
            }
        }
    }
    let cfg = PlaneConfig::path_in(plane.root(), plane.layout());
    if cfg.is_file()
        && let Some(rel) = plane.relative(&cfg)
    {
        out.push((rel, DocumentKind::PlaneConfig));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Plane-level check: every governed document of the plane against the plane's schemas. When
/// the plane's schemas themselves do not load, that is the first issue, and each schema file is
/// checked against the built-in set to name the broken one (fails closed: nothing is reported
/// as valid unchecked).
pub fn check_plane_documents(plane: &Plane) -> Result<(usize, Vec<GateIssue>), GateError> {
    let docs = plane_documents(plane)?;
    let mut issues = Vec::new();
    let schemas = match SchemaSet::for_plane(plane) {
        Ok(s) => s,
        Err(e) => {
            issues.push(invalid(
                "HOT/schemas",
                format!("the plane's schemas do not load, so no other document could be checked: {e}"),
            ));
            SchemaSet::embedded()?
        }
    };
    let only_schemas = !issues.is_empty();
    for (rel, kind) in &docs {
        if only_schemas && *kind != DocumentKind::Schema {
            continue;
        }
        if let Err(m) = check_document(&schemas, kind, rel, &plane.root().join(rel)) {
            issues.push(invalid(rel, m));
        }
    }
    Ok((docs.len(), issues))
}
