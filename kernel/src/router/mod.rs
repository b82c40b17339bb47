//! The prompt router: validate → authenticate → rate limit → circuit breaker → budget →
//! `PROMPT_SENT` → provider → `PROMPT_RECEIVED`/`PROMPT_FAILED`. Never assembles context.
//! Filled in by the router work.
