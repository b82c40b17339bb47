//! OpenAI-compatible `/v1/chat/completions` client.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{
    HttpRequest, HttpTransport, Provider, ProviderError, ProviderErrorCode, ProviderRequest, ProviderResponse, Usage,
    join_url,
};

/// An OpenAI-compatible endpoint.
pub struct OpenAiCompatible {
    name: String,
    base_url: String,
    api_key: Option<String>,
    transport: Arc<dyn HttpTransport>,
}

impl std::fmt::Debug for OpenAiCompatible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiCompatible").field("name", &self.name).field("base_url", &self.base_url).finish()
    }
}

impl OpenAiCompatible {
    /// A client for `base_url` (with or without a trailing `/v1`).
    pub fn new(
        name: impl Into<String>,
        base_url: impl Into<String>,
        api_key: Option<String>,
        transport: Arc<dyn HttpTransport>,
    ) -> Self {
        Self { name: name.into(), base_url: base_url.into(), api_key, transport }
    }
}

fn bad(m: impl Into<String>) -> ProviderError {
    ProviderError::new(ProviderErrorCode::BadResponse, m)
}

impl Provider for OpenAiCompatible {
    fn name(&self) -> &str {
        &self.name
    }

    fn complete(&self, req: &ProviderRequest) -> Result<ProviderResponse, ProviderError> {
        let body = json!({
            "model": req.model,
            "messages": [{"role": "user", "content": req.prompt}],
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
        });
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        if let Some(k) = &self.api_key {
            headers.push(("authorization".into(), format!("Bearer {k}")));
        }
        let http = HttpRequest {
            url: join_url(&self.base_url, "chat/completions"),
            headers,
            body: serde_json::to_vec(&body).map_err(|e| bad(e.to_string()))?,
            timeout_ms: req.timeout_ms,
        };
        let resp = self.transport.post(&http).map_err(ProviderError::from_transport)?;
        if !(200..300).contains(&resp.status) {
            return Err(ProviderError::from_http(&resp));
        }
        let v: Value = serde_json::from_slice(&resp.body).map_err(|e| bad(format!("response is not JSON: {e}")))?;
        let choice = v.pointer("/choices/0").ok_or_else(|| bad("response has no choices"))?;
        let text = choice
            .pointer("/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("choice has no message content"))?;
        let n = |p: &str| v.pointer(p).and_then(Value::as_u64);
        let usage = Usage {
            input_tokens: n("/usage/prompt_tokens").ok_or_else(|| bad("response has no usage.prompt_tokens"))?,
            output_tokens: n("/usage/completion_tokens")
                .ok_or_else(|| bad("response has no usage.completion_tokens"))?,
            cached_input_tokens: n("/usage/prompt_tokens_details/cached_tokens").unwrap_or(0),
        };
        Ok(ProviderResponse {
            text: text.to_string(),
            model: v.get("model").and_then(Value::as_str).unwrap_or(&req.model).to_string(),
            usage,
            finish_reason: choice.get("finish_reason").and_then(Value::as_str).unwrap_or("unknown").to_string(),
        })
    }
}
