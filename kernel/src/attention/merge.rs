//! Merging a prompt contract's `required_context` into a template's pipeline.
//!
//! * `ledger_queries` → `ledger_query` stages, unless a template `ledger_query` already reads
//!   that event type;
//! * `framework_refs` → `registry_query` stages over `frameworks` filtered by `framework_id`,
//!   unless a template `registry_query` over `frameworks` has that filter or no `framework_id`
//!   filter at all;
//! * `file_refs` → paths of the template's `file_read` stage with `paths: []` (its slot), else
//!   one `file_read` stage; paths a template `file_read` already reads are skipped.
//!
//! Template stages always win; contract duplicates are merged; new stages go before the first
//! `structuring`/`halting` stage (at the end when there is none). Every required item is
//! returned with the stage that must cover it, for the halting decision.

use std::collections::BTreeMap;

use super::config::RequiredContextDefaults;
use super::pipeline::{RequiredItem, RequiredKind};
use super::resolve::StageOrigin;
use super::stages::{FileReadConfig, LedgerQueryConfig, RegistryQueryConfig, Stage, StageConfig};
use crate::contract::RequiredContext;
use crate::plane::normalize_relative;
use crate::registry::RegistryKind;

/// The merged pipeline.
#[derive(Debug, Clone)]
pub(crate) struct Merged {
    pub(crate) stages: Vec<(Stage, StageOrigin)>,
    pub(crate) required: Vec<RequiredItem>,
}

fn unique_name(stages: &[(Stage, StageOrigin)], added: &[(Stage, StageOrigin)], base: &str) -> String {
    let taken = |n: &str| stages.iter().chain(added.iter()).any(|(s, _)| s.name == n);
    if !taken(base) {
        return base.to_string();
    }
    (2..).map(|i| format!("{base}_{i}")).find(|n| !taken(n)).unwrap_or_else(|| base.to_string())
}

/// Merges `rc` into `template_stages`; errors name the offending required item.
pub(crate) fn merge(
    template_stages: &[(Stage, StageOrigin)],
    rc: &RequiredContext,
    defaults: &RequiredContextDefaults,
) -> Result<Merged, String> {
    let mut stages: Vec<(Stage, StageOrigin)> = template_stages.to_vec();
    let mut added: Vec<(Stage, StageOrigin)> = Vec::new();
    let mut required = Vec::new();

    // Ledger queries.
    let mut seen_ledger = std::collections::BTreeSet::new();
    for (i, q) in rc.ledger_queries.iter().enumerate() {
        if !seen_ledger.insert(q.event_type.clone()) {
            continue;
        }
        let covering = stages.iter().find(
            |(s, _)| matches!(&s.config, StageConfig::LedgerQuery(c) if s.enabled && c.types().contains(&q.event_type)),
        );
        if let Some((s, _)) = covering {
            required.push(RequiredItem { kind: RequiredKind::Ledger(q.event_type.clone()), stage: s.name.clone() });
            continue;
        }
        let tier = match &q.tier {
            Some(t) => Some(t.parse().map_err(|e| format!("required_context.ledger_queries[{i}].tier: {e}"))?),
            None => None,
        };
        let cfg = LedgerQueryConfig {
            event_type: Some(q.event_type.clone()),
            event_types: Vec::new(),
            tier,
            ledger: None,
            max_entries: q.max_entries.unwrap_or(defaults.ledger_max_entries),
            recency: q.recency.clone(),
            filters: BTreeMap::new(),
        };
        let config = StageConfig::LedgerQuery(cfg);
        if let Some((f, m)) = config.validate().into_iter().next() {
            return Err(format!("required_context.ledger_queries[{i}]{f}: {m}"));
        }
        let name = unique_name(&stages, &added, &format!("required_ledger_{}", q.event_type.to_lowercase()));
        required.push(RequiredItem { kind: RequiredKind::Ledger(q.event_type.clone()), stage: name.clone() });
        added.push((Stage { name, enabled: true, config }, StageOrigin::RequiredContext));
    }

    // Framework refs.
    let mut seen_fw = std::collections::BTreeSet::new();
    for id in &rc.framework_refs {
        if !seen_fw.insert(id.clone()) {
            continue;
        }
        let covering = stages.iter().find(|(s, _)| {
            matches!(&s.config, StageConfig::RegistryQuery(c)
                if s.enabled && c.registry == RegistryKind::Frameworks
                    && c.filters.get("framework_id").is_none_or(|v| v == id))
        });
        if let Some((s, _)) = covering {
            required.push(RequiredItem { kind: RequiredKind::Framework(id.clone()), stage: s.name.clone() });
            continue;
        }
        let cfg = RegistryQueryConfig {
            registry: RegistryKind::Frameworks,
            filters: BTreeMap::from([("framework_id".to_string(), id.clone())]),
            max_rows: None,
        };
        let name = unique_name(&stages, &added, &format!("required_framework_{}", id.to_lowercase()));
        required.push(RequiredItem { kind: RequiredKind::Framework(id.clone()), stage: name.clone() });
        added.push((
            Stage { name, enabled: true, config: StageConfig::RegistryQuery(cfg) },
            StageOrigin::RequiredContext,
        ));
    }

    // File refs.
    let mut missing: Vec<String> = Vec::new();
    for (i, f) in rc.file_refs.iter().enumerate() {
        let path = normalize_relative(f).map_err(|e| format!("required_context.file_refs[{i}] refused: {e}"))?;
        if missing.contains(&path) {
            continue;
        }
        let covering = stages.iter().find(|(s, _)| {
            matches!(&s.config, StageConfig::FileRead(c)
                if s.enabled && c.paths.iter().any(|p| normalize_relative(p).is_ok_and(|p| p == path)))
        });
        match covering {
            Some((s, _)) => required.push(RequiredItem { kind: RequiredKind::File(path), stage: s.name.clone() }),
            None => missing.push(path),
        }
    }
    if !missing.is_empty() {
        let slot = stages
            .iter_mut()
            .find(|(s, _)| matches!(&s.config, StageConfig::FileRead(c) if s.enabled && c.paths.is_empty()));
        match slot {
            Some((s, _)) => {
                if let StageConfig::FileRead(c) = &mut s.config {
                    c.paths = missing.clone();
                }
                for p in missing {
                    required.push(RequiredItem { kind: RequiredKind::File(p), stage: s.name.clone() });
                }
            }
            None => {
                let name = unique_name(&stages, &added, "required_files");
                for p in &missing {
                    required.push(RequiredItem { kind: RequiredKind::File(p.clone()), stage: name.clone() });
                }
                let cfg = FileReadConfig { paths: missing, max_size_bytes: defaults.file_max_size_bytes };
                added.push((
                    Stage { name, enabled: true, config: StageConfig::FileRead(cfg) },
                    StageOrigin::RequiredContext,
                ));
            }
        }
    }

    let at = stages
        .iter()
        .position(|(s, _)| matches!(s.config, StageConfig::Structuring(_) | StageConfig::Halting(_)))
        .unwrap_or(stages.len());
    stages.splice(at..at, added);
    Ok(Merged { stages, required })
}
