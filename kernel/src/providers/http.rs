//! The HTTP seam: a tiny blocking transport trait and its `ureq` implementation.

use std::io::Read;
use std::time::Duration;

/// One POST.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// Full URL.
    pub url: String,
    /// Headers (name, value).
    pub headers: Vec<(String, String)>,
    /// Body bytes (JSON).
    pub body: Vec<u8>,
    /// Timeout of the whole exchange (milliseconds).
    pub timeout_ms: u64,
}

/// A response of any status.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers (lowercase name, value).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// First header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why no response arrived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The exchange timed out.
    #[error("timeout: {0}")]
    Timeout(String),
    /// No connection could be made.
    #[error("connection failed: {0}")]
    Connect(String),
    /// Anything else.
    #[error("transport error: {0}")]
    Other(String),
}

/// A blocking HTTP client.
pub trait HttpTransport: Send + Sync {
    /// Sends a POST and returns the response whatever its status.
    fn post(&self, req: &HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// [`HttpTransport`] over `ureq` (rustls), statuses never turned into errors.
#[derive(Debug, Clone)]
pub struct UreqTransport {
    agent: ureq::Agent,
    max_body_bytes: u64,
}

impl UreqTransport {
    /// A transport reading at most `max_body_bytes` of a response body.
    pub fn new(max_body_bytes: u64) -> Self {
        let cfg = ureq::Agent::config_builder().http_status_as_error(false).build();
        Self { agent: ureq::Agent::new_with_config(cfg), max_body_bytes }
    }
}

fn map_err(e: ureq::Error) -> TransportError {
    match e {
        ureq::Error::Timeout(t) => TransportError::Timeout(t.to_string()),
        ureq::Error::Io(io) if matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => {
            TransportError::Timeout(io.to_string())
        }
        ureq::Error::Io(io)
            if matches!(io.kind(), std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset) =>
        {
            TransportError::Connect(io.to_string())
        }
        e @ (ureq::Error::ConnectionFailed | ureq::Error::HostNotFound) => TransportError::Connect(e.to_string()),
        e => TransportError::Other(e.to_string()),
    }
}

impl HttpTransport for UreqTransport {
    fn post(&self, req: &HttpRequest) -> Result<HttpResponse, TransportError> {
        let mut rb =
            self.agent.post(&req.url).config().timeout_global(Some(Duration::from_millis(req.timeout_ms))).build();
        for (k, v) in &req.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        let mut resp = rb.send(&req.body[..]).map_err(map_err)?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let mut body = Vec::new();
        resp.body_mut().as_reader().take(self.max_body_bytes).read_to_end(&mut body).map_err(|e| match e.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => TransportError::Timeout(e.to_string()),
            _ => TransportError::Other(e.to_string()),
        })?;
        Ok(HttpResponse { status, headers, body })
    }
}

/// Parses `Retry-After` (delay seconds or an HTTP date, relative to now) into milliseconds.
pub(crate) fn parse_retry_after_ms(v: &str) -> Option<u64> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs.saturating_mul(1000));
    }
    let when = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let d = when.as_millisecond() - jiff::Timestamp::now().as_millisecond();
    Some(u64::try_from(d).unwrap_or(0))
}
