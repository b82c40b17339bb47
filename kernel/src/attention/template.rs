//! Attention templates: `<TIER>/attention_templates/*.yaml|*.yml|*.json`, schema
//! `attention_template`. Loading is schema check → typed decode (every stage `config` into its
//! `<Stage>Config`) → `validate` of every stage, collecting every issue before refusing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::TemplateIssue;
use super::request::AgentClass;
use super::stages::{Stage, StageConfig, StageType};
use crate::plane::Tier;
use crate::schema::{DocumentError, SchemaSet};

/// Schema name of attention templates.
pub const ATTENTION_TEMPLATE_SCHEMA: &str = "attention_template";

/// An attention template as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttentionTemplate {
    /// `ATT-…` identifier.
    pub template_id: String,
    /// Version string.
    pub version: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Which requests it applies to (all given dimensions must match).
    #[serde(default)]
    pub applies_to: AppliesTo,
    /// Stages, run in order.
    pub pipeline: Vec<StageSpec>,
    /// Limits of one assembly.
    pub budget: TemplateBudget,
    /// What to do when a limit is hit or nothing was found.
    pub fallback: Fallback,
}

/// Selector of a template. An empty list does not constrain; a template with every list
/// empty matches nothing (it can only be used through `template_override`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppliesTo {
    /// Agent classes.
    #[serde(default)]
    pub agent_class: Vec<AgentClass>,
    /// Framework ids.
    #[serde(default)]
    pub framework_id: Vec<String>,
    /// Tiers.
    #[serde(default)]
    pub tier: Vec<Tier>,
}

/// One pipeline stage as written: the shared fields; `config` is decoded by type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    /// Stage name (unique in the pipeline).
    pub stage: String,
    /// Stage type.
    #[serde(rename = "type")]
    pub kind: StageType,
    /// Whether it runs (default true).
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// Type-specific config (see `stages::<type>::<Type>Config`).
    #[serde(default = "empty_object")]
    pub config: Value,
}

fn default_enabled() -> bool {
    true
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// Budget of one assembly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateBudget {
    /// Maximum estimated tokens of the assembled fragments.
    pub max_context_tokens: u64,
    /// Maximum ledger/registry/search queries.
    pub max_queries: u64,
    /// Maximum elapsed milliseconds on the service clock.
    pub timeout_ms: u64,
}

/// Fallbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fallback {
    /// When a budget limit is hit.
    pub on_timeout: OnTimeout,
    /// When the pipeline produced no fragment.
    pub on_empty: OnEmpty,
}

/// What to do when a budget limit is hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnTimeout {
    /// Return what was assembled so far.
    ReturnPartial,
    /// Return an error.
    Fail,
    /// Return the last cached context for the same key, even past its TTL (marked stale).
    UseCached,
}

/// What to do when nothing was assembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnEmpty {
    /// Return an empty context (with a warning).
    ProceedEmpty,
    /// Return an error.
    Fail,
    /// Run the default template instead.
    UseDefault,
}

/// A template that passed schema, decode and validation, with its typed stages.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedTemplate {
    /// The template as written.
    pub template: AttentionTemplate,
    /// Its stages with typed configs (same order as `template.pipeline`).
    pub stages: Vec<Stage>,
    /// File it came from (empty for built-in templates).
    pub path: PathBuf,
}

fn issue(path: &Path, field: impl Into<String>, stage: Option<&str>, message: impl Into<String>) -> TemplateIssue {
    TemplateIssue {
        path: path.to_path_buf(),
        line: None,
        column: None,
        field: field.into(),
        stage: stage.map(str::to_string),
        message: message.into(),
    }
}

pub(crate) fn document_issues(path: &Path, e: DocumentError) -> Vec<TemplateIssue> {
    match e {
        DocumentError::Parse { line, column, message, .. } => vec![TemplateIssue {
            path: path.to_path_buf(),
            line: (line > 0).then_some(line),
            column: (column > 0).then_some(column),
            field: String::new(),
            stage: None,
            message,
        }],
        DocumentError::Invalid { violations, .. } => violations
            .into_iter()
            .map(|v| TemplateIssue {
                path: path.to_path_buf(),
                line: v.line,
                column: v.column,
                field: v.instance_path,
                stage: None,
                message: v.message,
            })
            .collect(),
        other => vec![issue(path, "", None, other.to_string())],
    }
}

/// Decodes and validates the stages of a schema-valid template; every issue is returned.
pub(crate) fn type_stages(path: &Path, t: &AttentionTemplate) -> Result<Vec<Stage>, Vec<TemplateIssue>> {
    let mut issues = Vec::new();
    let mut stages = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, spec) in t.pipeline.iter().enumerate() {
        let field = format!("/pipeline/{i}");
        if !seen.insert(spec.stage.clone()) {
            issues.push(issue(path, format!("{field}/stage"), Some(&spec.stage), "duplicate stage name"));
        }
        match StageConfig::decode(spec.kind, spec.config.clone()) {
            Ok(config) => {
                for (f, m) in config.validate() {
                    issues.push(issue(path, format!("{field}/config{f}"), Some(&spec.stage), m));
                }
                stages.push(Stage { name: spec.stage.clone(), enabled: spec.enabled, config });
            }
            Err(e) => issues.push(issue(
                path,
                format!("{field}/config"),
                Some(&spec.stage),
                format!("{} config: {e}", spec.kind.as_str()),
            )),
        }
    }
    if t.budget.timeout_ms == 0 {
        issues.push(issue(path, "/budget/timeout_ms", None, "must be greater than 0"));
    }
    if issues.is_empty() { Ok(stages) } else { Err(issues) }
}

/// Loads a template from text (`path` names it in errors and picks JSON vs YAML).
pub fn load_template_str(schemas: &SchemaSet, path: &Path, text: &str) -> Result<LoadedTemplate, Vec<TemplateIssue>> {
    let located = |mut issues: Vec<TemplateIssue>| {
        for i in &mut issues {
            if i.line.is_none()
                && let Some((l, c)) = super::locate::locate(text, &i.field)
            {
                i.line = Some(l);
                i.column = Some(c);
            }
        }
        issues
    };
    let template: AttentionTemplate =
        schemas.load_str(ATTENTION_TEMPLATE_SCHEMA, path, text).map_err(|e| located(document_issues(path, e)))?;
    let stages = type_stages(path, &template).map_err(located)?;
    Ok(LoadedTemplate { template, stages, path: path.to_path_buf() })
}

/// Loads a template file.
pub fn load_template_file(schemas: &SchemaSet, path: &Path) -> Result<LoadedTemplate, Vec<TemplateIssue>> {
    let text = schemas.limits().read_document(path).map_err(|e| vec![issue(path, "", None, e.to_string())])?;
    load_template_str(schemas, path, &text)
}

/// Whether a file name looks like a template document.
pub(crate) fn is_template_file(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
}
