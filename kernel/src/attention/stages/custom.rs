//! `custom`: calls a handler the embedding program registered by name
//! (`AttentionService::builder().custom(name, handler)`). Its fragments are marked
//! `source: custom` with this stage's name and re-estimated; a failing handler is a warning.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Producer, StageCtx, StageRun};
use crate::attention::context::FragmentSource;
use crate::attention::service::CustomStageInput;

/// Config of `custom`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomConfig {
    /// Registered handler name (required).
    pub handler: String,
    /// Parameters passed to the handler as is (default null).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub params: Value,
}

impl CustomConfig {
    /// Pure checks (the handler name is checked against the registry when the service builds).
    pub fn validate(&self) -> Vec<(String, String)> {
        if self.handler.trim().is_empty() { vec![("/handler".into(), "must not be empty".into())] } else { Vec::new() }
    }

    pub(crate) fn run(&self, ctx: &mut StageCtx<'_>) -> StageRun {
        let mut p = Producer::default();
        let Some(handler) = ctx.env.custom.get(&self.handler).cloned() else {
            p.errors += 1;
            ctx.warn(format_args!("no custom handler {:?} registered", self.handler));
            return p.finish();
        };
        let input = CustomStageInput {
            stage: ctx.stage.to_string(),
            params: self.params.clone(),
            request: ctx.request.clone(),
            tiers: ctx.state.tiers.clone(),
            fragments: ctx.state.fragments.clone(),
        };
        match handler.run(&input) {
            Ok(frags) => {
                for f in frags {
                    if let Err(limit) = ctx.check_time() {
                        p.hit = Some(limit);
                        break;
                    }
                    let f =
                        ctx.fragment(FragmentSource::Custom, f.source_id, f.content, f.relevance_score, f.timestamp);
                    if let Err(limit) = ctx.add(&mut p, f) {
                        p.hit = Some(limit);
                        break;
                    }
                }
            }
            Err(e) => {
                p.errors += 1;
                ctx.warn(format_args!("handler {:?} failed: {e}", self.handler));
            }
        }
        p.finish()
    }
}
