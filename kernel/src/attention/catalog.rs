//! The templates of a plane: every `<TIER>/attention_templates/*.yaml|*.yml|*.json`, sorted by
//! tier then file name, split into the valid ones (by id) and the invalid ones with every issue
//! located (file, line, column, field path).
//!
//! Run-time isolation (issue 8): an invalid template never stops assembly for the requests it
//! does not apply to — it is skipped with a warning in every assembly's warnings (which travel
//! in `PROMPT_SENT`), and [`invalid_templates`] lists it for the gates. A request it would have
//! matched fails closed ([`AttentionError::InvalidTemplateMatch`]). Whom an invalid template
//! applies to is read leniently from the file ([`InvalidSelector`]):
//! * the file parses as YAML/JSON and `applies_to` is absent, or a mapping whose only keys are
//!   `agent_class`, `framework_id`, `tier`, each a string or a list of strings →
//!   [`InvalidSelector::Known`]: it matches a request as a valid template would (values compared
//!   as strings); it "would have been the match" when it matches at a specificity at least that
//!   of the best valid match (a tie would have been ambiguous, which also fails closed), or when
//!   no valid template matches;
//! * anything else (the file does not parse, `applies_to` is malformed or has other keys) →
//!   [`InvalidSelector::Unknown`]: it may apply to anyone, at the lowest specificity — it fails
//!   the requests that no valid template claims (they would otherwise silently get the default
//!   template), never a request a valid template matches.
//!
//! `template_override` naming an invalid template — by its `template_id` when readable, or by its
//! file stem — fails closed too. Two valid files declaring one `template_id` are both invalid
//! ("also declared in …"), with their real selectors.
//!
//! Loose files (issue 8 §4): on a plane where packages are installed (it has a file ownership
//! registry), a template file that no package owns is never read — it is listed in
//! [`TemplateCatalog::loose`], every assembly warns about it, and gate G0B names it as an orphan.
//! A plane with no ownership registry has nothing governed yet and its files are read.
//!
//! Never does: write, or read outside the plane's template directories.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::error::{AttentionError, TemplateIssue};
use super::request::AttentionRequest;
use super::resolve::Spec;
use super::template::{AppliesTo, LoadedTemplate, is_template_file, load_template_file};
use crate::plane::{Plane, Tier};
use crate::schema::SchemaSet;

/// Whom an invalid template would apply to (see the module docs for the rule).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum InvalidSelector {
    /// `applies_to` could be read; empty lists do not constrain (all empty: override only).
    Known {
        /// Agent classes, as written.
        agent_class: Vec<String>,
        /// Framework ids, as written.
        framework_id: Vec<String>,
        /// Tiers, as written.
        tier: Vec<String>,
    },
    /// The selector could not be read: assumed to apply to any request at the lowest specificity.
    Unknown,
}

impl InvalidSelector {
    fn from_applies_to(a: &AppliesTo) -> Self {
        Self::Known {
            agent_class: a.agent_class.iter().map(|c| c.as_str().to_string()).collect(),
            framework_id: a.framework_id.clone(),
            tier: a.tier.iter().map(|t| t.as_str().to_string()).collect(),
        }
    }

    /// Reads `applies_to` leniently from a parsed document.
    fn from_document(doc: &Value) -> Self {
        let Some(root) = doc.as_object() else { return Self::Unknown };
        let Some(a) = root.get("applies_to") else {
            return Self::Known { agent_class: Vec::new(), framework_id: Vec::new(), tier: Vec::new() };
        };
        let Some(a) = a.as_object() else { return Self::Unknown };
        if a.keys().any(|k| !matches!(k.as_str(), "agent_class" | "framework_id" | "tier")) {
            return Self::Unknown;
        }
        let list = |k: &str| -> Option<Vec<String>> {
            match a.get(k) {
                None | Some(Value::Null) => Some(Vec::new()),
                Some(Value::String(s)) => Some(vec![s.clone()]),
                Some(Value::Array(v)) => v.iter().map(|x| x.as_str().map(str::to_string)).collect(),
                Some(_) => None,
            }
        };
        match (list("agent_class"), list("framework_id"), list("tier")) {
            (Some(agent_class), Some(framework_id), Some(tier)) => Self::Known { agent_class, framework_id, tier },
            _ => Self::Unknown,
        }
    }

    /// The specificity at which it matches `req`, `None` when it does not match. `Unknown`
    /// matches everything at the lowest specificity (nothing constrained).
    pub(crate) fn matches(&self, req: &AttentionRequest) -> Option<Spec> {
        let Self::Known { agent_class, framework_id, tier } = self else { return Some((false, false, false)) };
        if agent_class.is_empty() && framework_id.is_empty() && tier.is_empty() {
            return None;
        }
        let fw_ok = framework_id.is_empty() || req.framework_id.as_ref().is_some_and(|f| framework_id.contains(f));
        let class_ok = agent_class.is_empty() || agent_class.iter().any(|c| c == req.agent_class.as_str());
        let tier_ok = tier.is_empty() || tier.iter().any(|t| t == req.tier.as_str());
        (fw_ok && class_ok && tier_ok).then_some((!framework_id.is_empty(), !agent_class.is_empty(), !tier.is_empty()))
    }
}

/// A template file that cannot be used, with everything known about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvalidTemplate {
    /// The file.
    pub path: PathBuf,
    /// Its `template_id`, when the file parses and has one.
    pub template_id: Option<String>,
    /// Whom it would apply to.
    pub selector: InvalidSelector,
    /// Every issue, located (file, line, column, field path) where possible.
    pub issues: Vec<TemplateIssue>,
}

impl InvalidTemplate {
    /// Whether `template_override = id` names it (its `template_id`, else its file stem).
    pub(crate) fn named(&self, id: &str) -> bool {
        self.template_id.as_deref() == Some(id) || self.path.file_stem().is_some_and(|s| s == id)
    }

    /// One line for warnings and explanations: the file, the issue count and the first issue.
    pub(crate) fn summary(&self) -> String {
        let first = self.issues.first().map(ToString::to_string).unwrap_or_default();
        format!("{} ({} issue(s); first: {first})", self.path.display(), self.issues.len())
    }

    /// The file, why it concerns a request, and every issue (for error messages).
    pub(crate) fn describe(&self) -> String {
        let why = match self.selector {
            InvalidSelector::Known { .. } => "its applies_to matches",
            InvalidSelector::Unknown => {
                "its applies_to selector cannot be read, so it may apply to any request no valid template claims"
            }
        };
        let issues: Vec<String> = self.issues.iter().map(ToString::to_string).collect();
        format!("{} ({why}): {}", self.path.display(), issues.join("; "))
    }

    fn unreadable(path: &Path, issues: Vec<TemplateIssue>, schemas: &SchemaSet) -> Self {
        // Through the bounded reader: a FIFO or a device refused by the loader is not read here.
        let doc =
            schemas.limits().read_document(path).ok().and_then(|text| crate::schema::parse_document(path, &text).ok());
        let (template_id, selector) = match &doc {
            Some(d) => {
                (d.get("template_id").and_then(Value::as_str).map(str::to_string), InvalidSelector::from_document(d))
            }
            None => (None, InvalidSelector::Unknown),
        };
        Self { path: path.to_path_buf(), template_id, selector, issues }
    }
}

/// The templates of a plane.
#[derive(Debug, Clone, Default)]
pub(crate) struct TemplateCatalog {
    /// Valid templates by id.
    pub(crate) valid: BTreeMap<String, LoadedTemplate>,
    /// Invalid template files, in load order (tier, then file name).
    pub(crate) invalid: Vec<InvalidTemplate>,
    /// Template files no package owns (loose copies in a governed root): never read.
    pub(crate) loose: Vec<PathBuf>,
}

/// The plane-relative paths packages own, or `None` on a plane where no package was ever
/// installed (no ownership registry: nothing is governed yet, so its template files are read).
/// An unreadable registry owns nothing: every template file is then loose (fail closed).
fn owned_files(plane: &Plane) -> Option<std::collections::BTreeSet<String>> {
    let registry = crate::package::receipt::registry_path(plane, crate::registry::RegistryKind::FileOwnership);
    if !registry.is_file() {
        return None;
    }
    match crate::package::receipt::current_owners(plane) {
        Ok(m) => Some(m.into_keys().collect()),
        Err(e) => {
            tracing::warn!(error = %e, "file ownership registry unreadable: every template file is treated as loose");
            Some(Default::default())
        }
    }
}

impl TemplateCatalog {
    /// Loads every template of every tier; only listing a directory can fail.
    pub(crate) fn load(plane: &Plane, schemas: &SchemaSet) -> Result<Self, AttentionError> {
        let mut loaded: Vec<LoadedTemplate> = Vec::new();
        let mut invalid = Vec::new();
        let mut loose = Vec::new();
        let owned = owned_files(plane);
        for tier in Tier::ALL {
            let dir = plane.dir(tier, "attention_templates");
            if !dir.is_dir() {
                continue;
            }
            let mut files: Vec<PathBuf> = crate::fsx::read_dir(&dir)?
                .into_iter()
                .map(|e| e.path())
                .filter(|p| p.is_file() && is_template_file(p))
                .collect();
            files.sort();
            for f in files {
                let is_owned =
                    |set: &std::collections::BTreeSet<String>| plane.relative(&f).is_some_and(|rel| set.contains(&rel));
                if owned.as_ref().is_some_and(|set| !is_owned(set)) {
                    tracing::warn!(file = %f.display(), "loose attention template (no package owns it) ignored");
                    loose.push(f);
                    continue;
                }
                match load_template_file(schemas, &f) {
                    Ok(t) => loaded.push(t),
                    Err(issues) => invalid.push(InvalidTemplate::unreadable(&f, issues, schemas)),
                }
            }
        }
        let mut by_id: BTreeMap<String, Vec<LoadedTemplate>> = BTreeMap::new();
        for t in loaded {
            by_id.entry(t.template.template_id.clone()).or_default().push(t);
        }
        let mut valid = BTreeMap::new();
        for (id, mut ts) in by_id {
            if ts.len() == 1 {
                if let Some(t) = ts.pop() {
                    valid.insert(id, t);
                }
                continue;
            }
            invalid.extend(duplicates(&id, &ts, schemas));
        }
        invalid.sort_by_key(|t| (tier_rank(plane, &t.path), t.path.clone()));
        for t in &invalid {
            tracing::warn!(file = %t.path.display(), issues = t.issues.len(), "invalid attention template skipped");
        }
        Ok(Self { valid, invalid, loose })
    }

    /// Warnings every assembly carries: one per invalid template, one per loose file.
    pub(crate) fn warnings(&self) -> Vec<String> {
        let invalid =
            self.invalid.iter().map(|t| format!("attention template {} is invalid and was skipped", t.summary()));
        let loose = self.loose.iter().map(|p| {
            format!(
                "{} is not owned by any package and was ignored (install it with `cpctl template install`)",
                p.display()
            )
        });
        invalid.chain(loose).collect()
    }
}

/// Both (all) files declaring `id` become invalid, keeping their selectors.
fn duplicates(id: &str, ts: &[LoadedTemplate], schemas: &SchemaSet) -> Vec<InvalidTemplate> {
    ts.iter()
        .map(|t| {
            let others: Vec<String> =
                ts.iter().filter(|o| o.path != t.path).map(|o| o.path.display().to_string()).collect();
            let at = schemas
                .limits()
                .read_document(&t.path)
                .ok()
                .and_then(|text| super::locate::locate(&text, "/template_id"));
            InvalidTemplate {
                path: t.path.clone(),
                template_id: Some(id.to_string()),
                selector: InvalidSelector::from_applies_to(&t.template.applies_to),
                issues: vec![TemplateIssue {
                    path: t.path.clone(),
                    line: at.map(|p| p.0),
                    column: at.map(|p| p.1),
                    field: "/template_id".into(),
                    stage: None,
                    message: format!("template id {id} is also declared in {}", others.join(", ")),
                }],
            }
        })
        .collect()
}

/// Position of the tier a template file lives in (HOT, HO2, HO1).
fn tier_rank(plane: &Plane, path: &Path) -> usize {
    Tier::ALL.iter().position(|t| path.starts_with(plane.tier_dir(*t))).unwrap_or(Tier::ALL.len())
}

/// Lists the invalid attention templates of `plane` with their located issues (for the gates:
/// `cpctl gates` names each). Valid templates are not returned; an empty list means every
/// template loads. Fails only when a template directory cannot be listed.
pub fn invalid_templates(plane: &Plane, schemas: &SchemaSet) -> Result<Vec<InvalidTemplate>, AttentionError> {
    Ok(TemplateCatalog::load(plane, schemas)?.invalid)
}
