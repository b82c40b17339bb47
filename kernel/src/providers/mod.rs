//! LLM providers behind one trait: deterministic mock, OpenAI-compatible, Anthropic.
//! Filled in by the router work.
