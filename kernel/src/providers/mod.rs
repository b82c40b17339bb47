//! LLM providers behind one trait ([`Provider`]): a deterministic mock ([`MockProvider`]), an
//! OpenAI-compatible client ([`OpenAiCompatible`], `/v1/chat/completions`: vLLM, llama.cpp
//! server, Ollama, OpenRouter, OpenAI) and an Anthropic Messages client ([`Anthropic`]).
//!
//! Owns: the wire formats, the mapping of HTTP statuses and transport failures to stable error
//! codes ([`ProviderErrorCode`]), `Retry-After` parsing, and the HTTP transport seam
//! ([`HttpTransport`], implemented with blocking `ureq` by [`UreqTransport`]).
//! Never does: retry, fall back, budget or log — the router decides all of that.

mod anthropic;
mod endpoint;
mod http;
mod mock;
mod openai;

pub use anthropic::Anthropic;
pub(crate) use http::parse_retry_after_ms;
pub use http::{HttpRequest, HttpResponse, HttpTransport, TransportError, UreqTransport};
pub use mock::{MockProvider, MockStep};
pub use openai::OpenAiCompatible;

use serde::{Deserialize, Serialize};

/// What the router asks a provider for.
///
/// Only the router builds one (its dispatch phase, after validation, auth, the work-order guard
/// and the budget reservation), so no code outside the kernel can call a [`Provider`] around
/// the router's checks: `#[non_exhaustive]` makes a struct literal fail to compile outside the
/// kernel, and there is no public constructor (the `testkit` feature's `provider_request` is for
/// provider tests).
///
/// ```compile_fail
/// let req = cp_kernel::ProviderRequest {
///     model: "m".into(), prompt: "p".into(), max_tokens: 1, temperature: 0.0, timeout_ms: 1,
/// };
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ProviderRequest {
    /// Model name.
    pub model: String,
    /// The rendered prompt (one user message).
    pub prompt: String,
    /// Maximum output tokens (the contract's boundary).
    pub max_tokens: u64,
    /// Sampling temperature (the contract's boundary).
    pub temperature: f64,
    /// Timeout of this attempt (milliseconds).
    pub timeout_ms: u64,
}

impl ProviderRequest {
    /// A request; crate-private so that only the router's dispatch (and the testkit) builds one.
    pub(crate) fn new(model: String, prompt: String, max_tokens: u64, temperature: f64, timeout_ms: u64) -> Self {
        Self { model, prompt, max_tokens, temperature, timeout_ms }
    }
}

/// Token usage reported by a provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens, cached ones included.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Input tokens served from the provider's prompt cache.
    pub cached_input_tokens: u64,
}

/// A provider's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderResponse {
    /// Output text.
    pub text: String,
    /// Model that answered.
    pub model: String,
    /// Usage.
    pub usage: Usage,
    /// Why generation stopped (`stop`, `length`, `end_turn`, …).
    pub finish_reason: String,
}

/// Stable provider error codes (used in `PROMPT_FAILED` and in `retries.retryable_codes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProviderErrorCode {
    /// HTTP 401.
    #[serde(rename = "PROVIDER_AUTH")]
    Auth,
    /// HTTP 403.
    #[serde(rename = "PROVIDER_FORBIDDEN")]
    Forbidden,
    /// HTTP 429.
    #[serde(rename = "PROVIDER_RATE_LIMITED")]
    RateLimited,
    /// HTTP 5xx.
    #[serde(rename = "PROVIDER_SERVER_ERROR")]
    ServerError,
    /// The attempt timed out (transport timeout or HTTP 408).
    #[serde(rename = "PROVIDER_TIMEOUT")]
    Timeout,
    /// No connection could be made.
    #[serde(rename = "PROVIDER_UNAVAILABLE")]
    Unavailable,
    /// Another HTTP 4xx.
    #[serde(rename = "PROVIDER_BAD_REQUEST")]
    BadRequest,
    /// The response could not be understood.
    #[serde(rename = "PROVIDER_BAD_RESPONSE")]
    BadResponse,
}

impl ProviderErrorCode {
    /// Every code.
    pub const ALL: [Self; 8] = [
        Self::Auth,
        Self::Forbidden,
        Self::RateLimited,
        Self::ServerError,
        Self::Timeout,
        Self::Unavailable,
        Self::BadRequest,
        Self::BadResponse,
    ];

    /// The code string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "PROVIDER_AUTH",
            Self::Forbidden => "PROVIDER_FORBIDDEN",
            Self::RateLimited => "PROVIDER_RATE_LIMITED",
            Self::ServerError => "PROVIDER_SERVER_ERROR",
            Self::Timeout => "PROVIDER_TIMEOUT",
            Self::Unavailable => "PROVIDER_UNAVAILABLE",
            Self::BadRequest => "PROVIDER_BAD_REQUEST",
            Self::BadResponse => "PROVIDER_BAD_RESPONSE",
        }
    }

    /// The code for an HTTP error status.
    pub fn from_status(status: u16) -> Self {
        match status {
            401 => Self::Auth,
            403 => Self::Forbidden,
            408 => Self::Timeout,
            429 => Self::RateLimited,
            500..=599 => Self::ServerError,
            _ => Self::BadRequest,
        }
    }
}

/// A failed provider call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct ProviderError {
    /// Stable code.
    pub code: ProviderErrorCode,
    /// Detail (status line, server message, transport error).
    pub message: String,
    /// HTTP status, if any.
    pub status: Option<u16>,
    /// `Retry-After` asked by the server (milliseconds).
    pub retry_after_ms: Option<u64>,
}

impl ProviderError {
    /// An error with a code and message.
    pub fn new(code: ProviderErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), status: None, retry_after_ms: None }
    }

    pub(crate) fn from_http(resp: &HttpResponse) -> Self {
        let body = String::from_utf8_lossy(&resp.body);
        let snippet: String = body.chars().take(300).collect();
        Self {
            code: ProviderErrorCode::from_status(resp.status),
            message: format!("http {}: {snippet}", resp.status),
            status: Some(resp.status),
            retry_after_ms: resp.header("retry-after").and_then(parse_retry_after_ms),
        }
    }

    pub(crate) fn from_transport(e: TransportError) -> Self {
        match e {
            TransportError::Timeout(m) => Self::new(ProviderErrorCode::Timeout, m),
            TransportError::Connect(m) => Self::new(ProviderErrorCode::Unavailable, m),
            TransportError::Other(m) => Self::new(ProviderErrorCode::BadResponse, m),
        }
    }
}

/// An LLM provider.
pub trait Provider: Send + Sync {
    /// Configured name (`mock`, `openai`, …).
    fn name(&self) -> &str;
    /// One attempt: no retries, no fallback.
    fn complete(&self, req: &ProviderRequest) -> Result<ProviderResponse, ProviderError>;
}

pub(crate) fn join_url(base: &str, path_after_v1: &str) -> String {
    let b = base.trim_end_matches('/');
    if b.ends_with("/v1") { format!("{b}/{path_after_v1}") } else { format!("{b}/v1/{path_after_v1}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_map_and_urls_join() {
        assert_eq!(ProviderErrorCode::from_status(401), ProviderErrorCode::Auth);
        assert_eq!(ProviderErrorCode::from_status(403), ProviderErrorCode::Forbidden);
        assert_eq!(ProviderErrorCode::from_status(429), ProviderErrorCode::RateLimited);
        assert_eq!(ProviderErrorCode::from_status(503), ProviderErrorCode::ServerError);
        assert_eq!(ProviderErrorCode::from_status(404), ProviderErrorCode::BadRequest);
        for c in ProviderErrorCode::ALL {
            let s = serde_json::to_value(c).unwrap();
            assert_eq!(s, c.as_str());
        }
        assert_eq!(join_url("http://h:1/", "chat/completions"), "http://h:1/v1/chat/completions");
        assert_eq!(join_url("http://h:1/v1", "messages"), "http://h:1/v1/messages");
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        assert_eq!(parse_retry_after_ms("2"), Some(2000));
        assert_eq!(parse_retry_after_ms(" 0 "), Some(0));
        assert_eq!(parse_retry_after_ms("soon"), None);
        assert!(parse_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT").is_some());
    }
}
