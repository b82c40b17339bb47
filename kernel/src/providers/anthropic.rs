//! Anthropic Messages API (`/v1/messages`) client.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{
    HttpRequest, HttpTransport, Provider, ProviderError, ProviderErrorCode, ProviderRequest, ProviderResponse, Usage,
    join_url,
};

/// An Anthropic Messages endpoint.
pub struct Anthropic {
    name: String,
    base_url: String,
    api_key: Option<String>,
    api_version: String,
    transport: Arc<dyn HttpTransport>,
}

impl std::fmt::Debug for Anthropic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anthropic").field("name", &self.name).field("base_url", &self.base_url).finish()
    }
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
        Self { name: name.into(), base_url: base_url.into(), api_key, api_version: api_version.into(), transport }
    }
}

fn bad(m: impl Into<String>) -> ProviderError {
    ProviderError::new(ProviderErrorCode::BadResponse, m)
}

impl Provider for Anthropic {
    fn name(&self) -> &str {
        &self.name
    }

    fn complete(&self, req: &ProviderRequest) -> Result<ProviderResponse, ProviderError> {
        let body = json!({
            "model": req.model,
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
            "messages": [{"role": "user", "content": req.prompt}],
        });
        let mut headers = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("anthropic-version".to_string(), self.api_version.clone()),
        ];
        if let Some(k) = &self.api_key {
            headers.push(("x-api-key".into(), k.clone()));
        }
        let http = HttpRequest {
            url: join_url(&self.base_url, "messages"),
            headers,
            body: serde_json::to_vec(&body).map_err(|e| bad(e.to_string()))?,
            timeout_ms: req.timeout_ms,
        };
        let resp = self.transport.post(&http).map_err(ProviderError::from_transport)?;
        if !(200..300).contains(&resp.status) {
            return Err(ProviderError::from_http(&resp));
        }
        let v: Value = serde_json::from_slice(&resp.body).map_err(|e| bad(format!("response is not JSON: {e}")))?;
        let parts = v.get("content").and_then(Value::as_array).ok_or_else(|| bad("response has no content"))?;
        let text: String = parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect();
        let n = |p: &str| v.pointer(p).and_then(Value::as_u64);
        let cache_read = n("/usage/cache_read_input_tokens").unwrap_or(0);
        let cache_write = n("/usage/cache_creation_input_tokens").unwrap_or(0);
        let usage = Usage {
            input_tokens: n("/usage/input_tokens").ok_or_else(|| bad("response has no usage.input_tokens"))?
                + cache_read
                + cache_write,
            output_tokens: n("/usage/output_tokens").ok_or_else(|| bad("response has no usage.output_tokens"))?,
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
