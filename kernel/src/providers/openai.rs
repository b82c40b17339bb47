//! OpenAI-compatible `/v1/chat/completions` client.

use std::sync::Arc;

use serde_json::{Value, json};

use super::endpoint::{JsonEndpoint, bad_response, required_u64};
use super::{HttpTransport, Provider, ProviderError, ProviderRequest, ProviderResponse, Usage};

/// An OpenAI-compatible endpoint.
#[derive(Debug)]
pub struct OpenAiCompatible {
    endpoint: JsonEndpoint,
}

impl OpenAiCompatible {
    /// A client for `base_url` (with or without a trailing `/v1`).
    pub fn new(
        name: impl Into<String>,
        base_url: impl Into<String>,
        api_key: Option<String>,
        transport: Arc<dyn HttpTransport>,
    ) -> Self {
        Self { endpoint: JsonEndpoint::new(name.into(), base_url.into(), api_key, transport) }
    }
}

impl Provider for OpenAiCompatible {
    fn name(&self) -> &str {
        &self.endpoint.name
    }

    fn complete(&self, req: &ProviderRequest) -> Result<ProviderResponse, ProviderError> {
        let body = json!({
            "model": req.model,
            "messages": [{"role": "user", "content": req.prompt}],
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
        });
        let mut headers = Vec::new();
        if let Some(k) = &self.endpoint.api_key {
            headers.push(("authorization".into(), format!("Bearer {k}")));
        }
        let v = self.endpoint.post("chat/completions", headers, &body, req.timeout_ms)?;
        let choice = v.pointer("/choices/0").ok_or_else(|| bad_response("response has no choices"))?;
        let text = choice
            .pointer("/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| bad_response("choice has no message content"))?;
        let usage = Usage {
            input_tokens: required_u64(&v, "/usage/prompt_tokens", "usage.prompt_tokens")?,
            output_tokens: required_u64(&v, "/usage/completion_tokens", "usage.completion_tokens")?,
            cached_input_tokens: v
                .pointer("/usage/prompt_tokens_details/cached_tokens")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        };
        Ok(ProviderResponse {
            text: text.to_string(),
            model: v.get("model").and_then(Value::as_str).unwrap_or(&req.model).to_string(),
            usage,
            finish_reason: choice.get("finish_reason").and_then(Value::as_str).unwrap_or("unknown").to_string(),
        })
    }
}
