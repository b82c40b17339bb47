//! `registry_query`: reads rows of a CSV registry (`HOT/registries/<file>`) matching equality
//! filters. One read counts as one query.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Producer, StageCtx, StageRun};
use crate::attention::context::FragmentSource;
use crate::plane::Tier;
use crate::registry::{RegistryKind, read_table};

/// Config of `registry_query`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryQueryConfig {
    /// `frameworks`, `specs`, `file_ownership` or `packages_state` (required).
    pub registry: RegistryKind,
    /// Column → value; every one must be equal (default: none, all rows).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filters: BTreeMap<String, String>,
    /// Maximum rows returned (count; default: no limit beyond the token budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rows: Option<u64>,
}

impl RegistryQueryConfig {
    /// Pure checks: filters name columns of the registry.
    pub fn validate(&self) -> Vec<(String, String)> {
        let cols = self.registry.columns();
        let mut out = Vec::new();
        for k in self.filters.keys() {
            if !cols.contains(&k.as_str()) {
                out.push((format!("/filters/{k}"), format!("unknown column (expected one of {})", cols.join(", "))));
            }
        }
        if self.max_rows == Some(0) {
            out.push(("/max_rows".into(), "must be at least 1".into()));
        }
        out
    }

    /// Plane-relative path of the registry file.
    pub fn path(&self, plane: &crate::plane::Plane) -> String {
        format!("{}/{}/{}", Tier::Hot.dir_name(), plane.layout().dir_name("registries"), self.registry.file_name())
    }

    pub(crate) fn run(&self, ctx: &mut StageCtx<'_>) -> StageRun {
        let mut p = Producer::default();
        if let Err(limit) = ctx.budget.take_query() {
            p.hit = Some(limit);
            return p.finish();
        }
        let rel = self.path(&ctx.env.plane);
        let table = match ctx
            .env
            .plane
            .resolve(&rel)
            .map_err(|e| e.to_string())
            .and_then(|path| read_table(&path).map_err(|e| e.to_string()))
        {
            Ok(t) => t,
            Err(e) => {
                p.errors += 1;
                ctx.warn(format_args!("registry {rel}: {e}"));
                return p.finish();
            }
        };
        let rows = table.filter(&self.filters);
        let key_col = self.registry.columns().first().copied().unwrap_or_default();
        let registry = self.registry.file_name().trim_end_matches(".csv").trim_end_matches("_registry");
        for (i, row) in rows.iter().enumerate() {
            if self.max_rows.is_some_and(|m| i as u64 >= m) {
                p.truncated = true;
                p.notes.push(format!("max_rows {} reached", self.max_rows.unwrap_or_default()));
                break;
            }
            if let Err(limit) = ctx.check_time() {
                p.hit = Some(limit);
                break;
            }
            let key = row.get(key_col).cloned().unwrap_or_else(|| i.to_string());
            let content = render_row(row);
            let f = ctx.fragment(FragmentSource::Registry, format!("{registry}:{key}"), content, None, None);
            if let Err(limit) = ctx.add(&mut p, f) {
                p.hit = Some(limit);
                break;
            }
        }
        p.finish()
    }
}

/// `column: value` lines of a row (columns in name order).
pub(crate) fn render_row(row: &BTreeMap<String, String>) -> String {
    row.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("\n")
}
