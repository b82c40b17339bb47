//! Dispatch: the candidates in order, each with retries and backoff, within the dispatch
//! deadline on the router clock.

use serde_json::{Value, json};

use super::{PromptRouter, RejectCode};
use crate::providers::{ProviderError, ProviderErrorCode, ProviderRequest, ProviderResponse};

/// Code of the `attempts` entry that records a dispatch stopped by `dispatch_deadline_ms`.
pub(crate) const DEADLINE_EXCEEDED: &str = "DEADLINE_EXCEEDED";

/// What a dispatch did, and the response of the provider that answered (or the last error).
pub(super) struct Dispatch {
    pub(super) log: DispatchLog,
    pub(super) result: Result<(String, ProviderResponse), ProviderError>,
}

/// The attempts of a dispatch, as the ledger records them.
pub(super) struct DispatchLog {
    pub(super) attempts: Vec<Value>,
    pub(super) count: u32,
    /// Whether `dispatch_deadline_ms` stopped the dispatch.
    pub(super) deadline_reached: bool,
    /// Router-clock milliseconds the dispatch took.
    pub(super) elapsed_ms: u64,
}

impl PromptRouter {
    /// Tries the candidates in order, each with retries and backoff, within
    /// `dispatch_deadline_ms` on the router clock: no attempt starts and no backoff is slept once
    /// the deadline would be reached (an attempt's timeout is cut to the time left), and the
    /// attempts list then ends with a `DEADLINE_EXCEEDED` entry.
    pub(super) fn dispatch(
        &self,
        candidates: &[(String, String)],
        prompt: &str,
        max_tokens: u64,
        temperature: f64,
    ) -> Dispatch {
        let r = &self.config.retries;
        let deadline = self.config.dispatch_deadline_ms;
        let start = self.clock.now_ms();
        let elapsed = || self.clock.now_ms().saturating_sub(start);
        let mut attempts = Vec::new();
        let mut count = 0u32;
        let mut deadline_reached = false;
        let mut last = ProviderError::new(ProviderErrorCode::Unavailable, "no provider attempted");
        let mut hit_deadline = |attempts: &mut Vec<Value>, name: &str, elapsed_ms: u64| {
            deadline_reached = true;
            attempts.push(json!({"provider": name, "code": DEADLINE_EXCEEDED, "elapsed_ms": elapsed_ms}));
        };
        'providers: for (name, model) in candidates {
            let Some(slot) = self.providers.get(name) else { continue };
            let mut backoff = r.backoff_initial_ms;
            for attempt in 1..=r.max_attempts {
                let now = elapsed();
                if now >= deadline {
                    hit_deadline(&mut attempts, name, now);
                    break 'providers;
                }
                if !slot.breaker.try_acquire(self.clock.now_ms()) {
                    attempts.push(json!({"provider": name, "code": RejectCode::CircuitOpen.as_str()}));
                    break;
                }
                count += 1;
                let preq = ProviderRequest::new(
                    model.clone(),
                    prompt.to_string(),
                    max_tokens,
                    temperature,
                    slot.config.timeout_ms.unwrap_or(self.config.default_timeout_ms).min(deadline - now),
                );
                match slot.provider.complete(&preq) {
                    Ok(resp) => {
                        slot.breaker.on_success();
                        attempts.push(json!({"provider": name, "attempt": attempt, "ok": true}));
                        let log = DispatchLog { attempts, count, deadline_reached, elapsed_ms: elapsed() };
                        return Dispatch { log, result: Ok((name.clone(), resp)) };
                    }
                    Err(e) => {
                        slot.breaker.on_failure(self.clock.now_ms());
                        attempts.push(json!({"provider": name, "attempt": attempt, "code": e.code.as_str(), "message": e.message}));
                        let retryable = r.retryable_codes.contains(&e.code);
                        let wait = match e.retry_after_ms {
                            Some(ms) if ms > r.max_retry_after_ms => None,
                            Some(ms) => Some(ms),
                            None => Some(backoff),
                        };
                        last = e;
                        match wait {
                            Some(w) if retryable && attempt < r.max_attempts => {
                                let now = elapsed();
                                if now.saturating_add(w) >= deadline {
                                    hit_deadline(&mut attempts, name, now);
                                    break 'providers;
                                }
                                self.clock.sleep_ms(w);
                                backoff = backoff.saturating_mul(r.backoff_multiplier).min(r.backoff_max_ms);
                            }
                            _ => break,
                        }
                    }
                }
            }
        }
        let log = DispatchLog { attempts, count, deadline_reached, elapsed_ms: elapsed() };
        Dispatch { log, result: Err(last) }
    }
}
