//! Template resolution: `template_override` → that template; else every template whose
//! `applies_to` matches (each non-empty list must contain the request's value) is a candidate,
//! ranked by specificity (framework_id, agent_class, tier) compared in that order — framework_id
//! beats agent_class beats tier; the most specific wins; a tie at the top fails closed; no
//! candidate → the minimal default template, with a warning. Invalid templates take part as
//! described in `catalog`: one that would have been the match (or tied with it) fails the request
//! closed; the others are skipped.

use serde::Serialize;

use super::catalog::{InvalidTemplate, TemplateCatalog};
use super::error::AttentionError;
use super::request::AttentionRequest;
use super::template::LoadedTemplate;

/// Where a stage of the merged pipeline comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StageOrigin {
    /// Written in the template.
    Template,
    /// Added from the prompt contract's `required_context`.
    RequiredContext,
    /// Part of the minimal default template.
    Default,
}

/// A stage of the merged pipeline, for explanations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MergedStage {
    /// Stage name.
    pub stage: String,
    /// Stage type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether it runs.
    pub enabled: bool,
    /// Where it comes from.
    pub origin: StageOrigin,
    /// Its typed config (after merge).
    pub config: serde_json::Value,
}

/// One template considered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// Its id.
    pub template_id: String,
    /// Its version.
    pub version: String,
    /// Its file.
    pub path: String,
    /// Whether its `applies_to` matches the request.
    pub matched: bool,
    /// Which dimensions it constrains, e.g. `framework_id+agent_class` (empty: none).
    pub specificity: String,
    /// Why it matched or not.
    pub reason: String,
}

/// Why a template was chosen and what pipeline results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResolutionExplanation {
    /// Every loaded template, matched or not.
    pub candidates: Vec<Candidate>,
    /// The template chosen.
    pub chosen: String,
    /// Its version.
    pub chosen_version: String,
    /// `override`, `match` or `default`.
    pub rule: String,
    /// Why it won.
    pub why: String,
    /// The merged pipeline that would run.
    pub pipeline: Vec<MergedStage>,
    /// The required_context items and the stage covering each.
    pub required: Vec<String>,
    /// Warnings of the resolution (e.g. default used).
    pub warnings: Vec<String>,
}

/// (framework_id, agent_class, tier) constrained; compared in that order.
pub(crate) type Spec = (bool, bool, bool);

fn spec_of(t: &LoadedTemplate) -> Spec {
    let a = &t.template.applies_to;
    (!a.framework_id.is_empty(), !a.agent_class.is_empty(), !a.tier.is_empty())
}

pub(crate) fn spec_name(s: Spec) -> String {
    let mut v = Vec::new();
    if s.0 {
        v.push("framework_id");
    }
    if s.1 {
        v.push("agent_class");
    }
    if s.2 {
        v.push("tier");
    }
    v.join("+")
}

fn matches(t: &LoadedTemplate, req: &AttentionRequest) -> Result<(), String> {
    let a = &t.template.applies_to;
    if a.framework_id.is_empty() && a.agent_class.is_empty() && a.tier.is_empty() {
        return Err("applies_to is empty (override only)".into());
    }
    if !a.framework_id.is_empty() {
        match &req.framework_id {
            Some(f) if a.framework_id.contains(f) => {}
            Some(f) => return Err(format!("framework_id {f} not listed ({})", a.framework_id.join(", "))),
            None => return Err("request has no framework_id".into()),
        }
    }
    if !a.agent_class.is_empty() && !a.agent_class.contains(&req.agent_class) {
        return Err(format!("agent_class {} not listed", req.agent_class));
    }
    if !a.tier.is_empty() && !a.tier.contains(&req.tier) {
        return Err(format!("tier {} not listed", req.tier));
    }
    Ok(())
}

/// The result of resolution.
pub(crate) enum Choice<'a> {
    Template { template: &'a LoadedTemplate, rule: &'static str, why: String },
    Default { why: String },
}

/// An invalid template as a candidate (never chosen).
fn invalid_candidate(t: &InvalidTemplate, req: &AttentionRequest) -> Candidate {
    let m = t.selector.matches(req);
    Candidate {
        template_id: t.template_id.clone().unwrap_or_default(),
        version: String::new(),
        path: t.path.display().to_string(),
        matched: m.is_some(),
        specificity: match (&t.selector, m) {
            (super::catalog::InvalidSelector::Unknown, _) => "unknown".into(),
            (_, Some(s)) => spec_name(s),
            (_, None) => String::new(),
        },
        reason: format!("invalid, skipped: {}", t.summary()),
    }
}

/// Fails closed when an invalid template would have been the match: a known selector matching at
/// a specificity ≥ `best` (or at all when nothing valid matches), an unknown one when nothing
/// valid matches.
fn check_invalid(catalog: &TemplateCatalog, req: &AttentionRequest, best: Option<Spec>) -> Result<(), AttentionError> {
    let blocking: Vec<InvalidTemplate> = catalog
        .invalid
        .iter()
        .filter(|t| match (t.selector.matches(req), best) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(s), Some(b)) => !matches!(t.selector, super::catalog::InvalidSelector::Unknown) && s >= b,
        })
        .cloned()
        .collect();
    if blocking.is_empty() {
        return Ok(());
    }
    let reason = match best {
        Some(b) => format!(
            "an invalid attention template would have been the match (specificity {} or higher) for this request; refusing instead of guessing",
            spec_name(b)
        ),
        None => {
            let known = blocking.iter().any(|t| !matches!(t.selector, super::catalog::InvalidSelector::Unknown));
            let applies = if known { "applies" } else { "may apply" };
            format!(
                "no valid attention template matches this request and an invalid one {applies} to it; refusing instead of using the default template"
            )
        }
    };
    Err(AttentionError::InvalidTemplateMatch { reason, templates: blocking })
}

/// Resolves the template for `req`; also returns every candidate (invalid ones included).
pub(crate) fn resolve<'a>(
    catalog: &'a TemplateCatalog,
    req: &AttentionRequest,
) -> Result<(Choice<'a>, Vec<Candidate>), AttentionError> {
    let templates = &catalog.valid;
    let mut candidates = Vec::new();
    let mut matched: Vec<(&LoadedTemplate, Spec)> = Vec::new();
    for t in templates.values() {
        let s = spec_of(t);
        let m = matches(t, req);
        candidates.push(Candidate {
            template_id: t.template.template_id.clone(),
            version: t.template.version.clone(),
            path: t.path.display().to_string(),
            matched: m.is_ok(),
            specificity: spec_name(s),
            reason: match &m {
                Ok(()) => "applies_to matches".into(),
                Err(e) => e.clone(),
            },
        });
        if m.is_ok() {
            matched.push((t, s));
        }
    }
    candidates.extend(catalog.invalid.iter().map(|t| invalid_candidate(t, req)));
    if let Some(id) = &req.template_override {
        if let Some(t) = templates.get(id) {
            return Ok((
                Choice::Template { template: t, rule: "override", why: format!("template_override = {id}") },
                candidates,
            ));
        }
        let named: Vec<InvalidTemplate> = catalog.invalid.iter().filter(|t| t.named(id)).cloned().collect();
        if !named.is_empty() {
            return Err(AttentionError::InvalidTemplateMatch {
                reason: format!("template_override names {id}, which is invalid"),
                templates: named,
            });
        }
        return Err(AttentionError::UnknownTemplate { id: id.clone(), known: templates.keys().cloned().collect() });
    }
    let best = matched.iter().map(|(_, s)| *s).max();
    check_invalid(catalog, req, best)?;
    let Some(best) = best else {
        let why = format!(
            "no template applies to agent_class {}, framework_id {}, tier {}",
            req.agent_class,
            req.framework_id.as_deref().unwrap_or("(none)"),
            req.tier
        );
        return Ok((Choice::Default { why }, candidates));
    };
    let top: Vec<&LoadedTemplate> = matched.iter().filter(|(_, s)| *s == best).map(|(t, _)| *t).collect();
    if top.len() > 1 {
        return Err(AttentionError::AmbiguousTemplate {
            specificity: spec_name(best),
            ids: top.iter().map(|t| t.template.template_id.clone()).collect(),
        });
    }
    let t = top[0];
    let others = matched.len() - 1;
    let why = format!(
        "most specific match ({}) among {} matching template(s); specificity order framework_id > agent_class > tier",
        spec_name(best),
        others + 1
    );
    Ok((Choice::Template { template: t, rule: "match", why }, candidates))
}
