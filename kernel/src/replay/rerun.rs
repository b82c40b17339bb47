//! Re-running a replayed prompt's call with a deterministic provider (the mock): the prompt is
//! rendered again from the recorded contract and input over the re-assembled context, its hash
//! compared with `PROMPT_SENT.prompt_hash`, and the response hash with
//! `PROMPT_RECEIVED.response_hash`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::ReplayRecord;
use crate::hashing::sha256_hex;
use crate::ledger::{LedgerEntry, event};
use crate::providers::{Provider, ProviderRequest};

/// The re-run of one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResponseCheck {
    /// Provider re-run.
    pub provider: String,
    /// `prompt_hash` recorded.
    pub recorded_prompt_hash: String,
    /// Hash of the prompt rendered again.
    pub replayed_prompt_hash: String,
    /// `response_hash` recorded.
    pub recorded_response_hash: String,
    /// Hash of the response now (`None`: the call failed now).
    pub replayed_response_hash: Option<String>,
}

impl ResponseCheck {
    /// Whether prompt and response reproduce.
    pub fn reproduces(&self) -> bool {
        self.recorded_prompt_hash == self.replayed_prompt_hash
            && self.replayed_response_hash.as_deref() == Some(self.recorded_response_hash.as_str())
    }
}

fn text<'a>(e: &'a LedgerEntry, k: &str) -> Option<&'a str> {
    e.metadata.get(k).and_then(Value::as_str)
}

/// Re-runs the call of `sent` (answered by `received`) when its provider is in `providers`, the
/// record carries the input (`log_content: full`) and the response hash was recorded.
pub(crate) fn rerun(
    rec: &ReplayRecord,
    context_text: &str,
    sent: &LedgerEntry,
    received: Option<&LedgerEntry>,
    providers: &BTreeMap<String, Arc<dyn Provider>>,
) -> Option<ResponseCheck> {
    let received = received.filter(|r| r.event_type == event::PROMPT_RECEIVED)?;
    let name = text(received, "provider")?;
    let provider = providers.get(name)?;
    let input = rec.input.as_ref()?;
    let contract = rec.attention_request.prompt_contract.as_ref()?;
    let recorded_response_hash = text(received, "response_hash")?.to_string();
    let prompt = crate::router::render(&contract.prompt_template, context_text, input).ok()?;
    let req = ProviderRequest::new(
        text(sent, "model").unwrap_or_default().to_string(),
        prompt.clone(),
        sent.metadata.get("max_tokens").and_then(Value::as_u64).unwrap_or(contract.boundary.max_tokens),
        contract.boundary.temperature,
        u64::MAX,
    );
    Some(ResponseCheck {
        provider: name.to_string(),
        recorded_prompt_hash: text(sent, "prompt_hash").unwrap_or_default().to_string(),
        replayed_prompt_hash: sha256_hex(prompt.as_bytes()),
        recorded_response_hash,
        replayed_response_hash: provider.complete(&req).ok().map(|r| sha256_hex(r.text.as_bytes())),
    })
}
