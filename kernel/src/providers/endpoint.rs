//! What the HTTP providers share: where they post, with which key, and how a JSON exchange turns
//! into a [`ProviderError`] (serialization, non-2xx status, a body that is not JSON).

use std::sync::Arc;

use serde_json::Value;

use super::{HttpRequest, HttpTransport, ProviderError, ProviderErrorCode, join_url};

/// One JSON-over-HTTP endpoint of a provider.
pub(crate) struct JsonEndpoint {
    /// The provider's configured name.
    pub(crate) name: String,
    /// Base URL the API paths are joined to.
    pub(crate) base_url: String,
    /// API key, when the endpoint needs one.
    pub(crate) api_key: Option<String>,
    transport: Arc<dyn HttpTransport>,
}

impl JsonEndpoint {
    pub(crate) fn new(
        name: String,
        base_url: String,
        api_key: Option<String>,
        transport: Arc<dyn HttpTransport>,
    ) -> Self {
        Self { name, base_url, api_key, transport }
    }

    /// Posts `body` to `path` with `content-type: application/json` and `headers`, and returns the
    /// response body parsed as JSON; a non-2xx status becomes the error its status maps to.
    pub(crate) fn post(
        &self,
        path: &str,
        mut headers: Vec<(String, String)>,
        body: &Value,
        timeout_ms: u64,
    ) -> Result<Value, ProviderError> {
        headers.insert(0, ("content-type".to_string(), "application/json".to_string()));
        let http = HttpRequest {
            url: join_url(&self.base_url, path),
            headers,
            body: serde_json::to_vec(body).map_err(|e| bad_response(e.to_string()))?,
            timeout_ms,
        };
        let resp = self.transport.post(&http).map_err(ProviderError::from_transport)?;
        if !(200..300).contains(&resp.status) {
            return Err(ProviderError::from_http(&resp));
        }
        serde_json::from_slice(&resp.body).map_err(|e| bad_response(format!("response is not JSON: {e}")))
    }
}

impl std::fmt::Debug for JsonEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonEndpoint").field("name", &self.name).field("base_url", &self.base_url).finish()
    }
}

/// A `BAD_RESPONSE` error with `message`.
pub(crate) fn bad_response(message: impl Into<String>) -> ProviderError {
    ProviderError::new(ProviderErrorCode::BadResponse, message)
}

/// The unsigned integer at JSON pointer `pointer` of `v`, or a `BAD_RESPONSE` naming `field`.
pub(crate) fn required_u64(v: &Value, pointer: &str, field: &str) -> Result<u64, ProviderError> {
    v.pointer(pointer).and_then(Value::as_u64).ok_or_else(|| bad_response(format!("response has no {field}")))
}
