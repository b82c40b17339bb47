//! The deterministic mock provider: scripted replies and failures, latency through the
//! router's injected clock, and a default reply derived from the prompt hash.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{Provider, ProviderError, ProviderErrorCode, ProviderRequest, ProviderResponse, Usage};
use crate::clock::Clock;

/// One scripted step.
#[derive(Debug, Clone, PartialEq)]
pub enum MockStep {
    /// Reply with `text` (usage estimated from lengths when `None`).
    Reply {
        /// Output text.
        text: String,
        /// Reported input tokens.
        input_tokens: Option<u64>,
        /// Reported output tokens.
        output_tokens: Option<u64>,
        /// Reported cached input tokens.
        cached_input_tokens: u64,
    },
    /// Fail with `code`, optionally asking for a `Retry-After` (milliseconds).
    Fail(ProviderErrorCode, Option<u64>),
}

impl MockStep {
    /// A reply with estimated usage.
    pub fn reply(text: impl Into<String>) -> Self {
        Self::Reply { text: text.into(), input_tokens: None, output_tokens: None, cached_input_tokens: 0 }
    }
}

/// The mock provider.
pub struct MockProvider {
    name: String,
    chars_per_token: u64,
    latency_ms: u64,
    clock: Option<Arc<dyn Clock>>,
    script: Mutex<VecDeque<MockStep>>,
    calls: AtomicU64,
}

impl std::fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockProvider").field("name", &self.name).field("latency_ms", &self.latency_ms).finish()
    }
}

impl MockProvider {
    /// A mock named `name` estimating usage at `chars_per_token`, zero latency, empty script.
    pub fn new(name: impl Into<String>, chars_per_token: u64) -> Self {
        Self {
            name: name.into(),
            chars_per_token: chars_per_token.max(1),
            latency_ms: 0,
            clock: None,
            script: Mutex::new(VecDeque::new()),
            calls: AtomicU64::new(0),
        }
    }

    /// Each call sleeps `ms` on `clock` (a manual clock just advances).
    pub fn with_latency(mut self, clock: Arc<dyn Clock>, ms: u64) -> Self {
        self.clock = Some(clock);
        self.latency_ms = ms;
        self
    }

    /// Appends scripted steps (consumed in order; afterwards the default reply).
    pub fn push(&self, steps: impl IntoIterator<Item = MockStep>) {
        self.script.lock().unwrap_or_else(|p| p.into_inner()).extend(steps);
    }

    /// Number of calls so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    fn tokens(&self, s: &str) -> u64 {
        (s.chars().count() as u64).div_ceil(self.chars_per_token)
    }
}

impl Provider for MockProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn complete(&self, req: &ProviderRequest) -> Result<ProviderResponse, ProviderError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(c) = &self.clock {
            c.sleep_ms(self.latency_ms);
        }
        let step = self.script.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
        let (text, input, output, cached) = match step {
            Some(MockStep::Fail(code, retry_after_ms)) => {
                return Err(ProviderError {
                    code,
                    message: "scripted mock failure".into(),
                    status: None,
                    retry_after_ms,
                });
            }
            Some(MockStep::Reply { text, input_tokens, output_tokens, cached_input_tokens }) => {
                (text, input_tokens, output_tokens, cached_input_tokens)
            }
            None => {
                let h = crate::hashing::sha256_hex(req.prompt.as_bytes());
                (format!("{{\"answer\": \"mock answer {}\"}}", &h[..12]), None, None, 0)
            }
        };
        let output = output.unwrap_or_else(|| self.tokens(&text)).min(req.max_tokens);
        let finish = if output >= req.max_tokens { "length" } else { "stop" };
        Ok(ProviderResponse {
            usage: Usage {
                input_tokens: input.unwrap_or_else(|| self.tokens(&req.prompt)),
                output_tokens: output,
                cached_input_tokens: cached,
            },
            text,
            model: req.model.clone(),
            finish_reason: finish.into(),
        })
    }
}
