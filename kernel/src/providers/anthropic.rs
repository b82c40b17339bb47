//! Anthropic Messages API (`/v1/messages`) client.

use std::sync::Arc;

use serde_json::{Value, json};

use super::endpoint::{JsonEndpoint, bad_response, required_u64};
use super::{HttpTransport, Provider, ProviderError, ProviderRequest, ProviderResponse, Usage};

/// An Anthropic Messages endpoint.
#[derive(Debug)]
pub struct Anthropic {
    endpoint: JsonEndpoint,
    api_version: String,
}

impl Anthropic {
    /// A client for `base_url` sending `anthropic-version: api_version`.
    pub fn new(
        name: impl Into<String>,
        base_url: impl Into<String>,
        api_key: Option<String>,
        api_version: impl Into<String>,
        transport: Arc<dyn HttpTransport>,
    ) -> Self {
        Self {
            endpoint: JsonEndpoint::new(name.into(), base_url.into(), api_key, transport),
            api_version: api_version.into(),
        }
    }
}

impl Provider for Anthropic {
    fn name(&self) -> &str {
        &self.endpoint.name
    }

    fn complete(&self, req: &ProviderRequest) -> Result<ProviderResponse, ProviderError> {
        let body = json!({
            "model": req.model,
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
            "messages": [{"role": "user", "content": req.prompt}],
        });
        let mut headers = vec![("anthropic-version".to_string(), self.api_version.clone())];
        if let Some(k) = &self.endpoint.api_key {
            headers.push(("x-api-key".into(), k.clone()));
        }
        let v = self.endpoint.post("messages", headers, &body, req.timeout_ms)?;
        let parts =
            v.get("content").and_then(Value::as_array).ok_or_else(|| bad_response("response has no content"))?;
        let text: String = parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect();
        let n = |p: &str| v.pointer(p).and_then(Value::as_u64);
        let cache_read = n("/usage/cache_read_input_tokens").unwrap_or(0);
        let cache_write = n("/usage/cache_creation_input_tokens").unwrap_or(0);
        let usage = Usage {
            input_tokens: required_u64(&v, "/usage/input_tokens", "usage.input_tokens")? + cache_read + cache_write,
            output_tokens: required_u64(&v, "/usage/output_tokens", "usage.output_tokens")?,
            cached_input_tokens: cache_read,
        };
        Ok(ProviderResponse {
            text,
            model: v.get("model").and_then(Value::as_str).unwrap_or(&req.model).to_string(),
            usage,
            finish_reason: v.get("stop_reason").and_then(Value::as_str).unwrap_or("unknown").to_string(),
        })
    }
}
