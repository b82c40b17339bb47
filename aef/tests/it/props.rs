//! Properties over arbitrary well-formed (and some malformed) source logs: every adapter's output
//! validates against the schema, numbers its entries densely, and sums its tokens into the
//! `session.end` summary; nothing panics.

use aef::AdapterKind;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support::{assert_well_formed, convert_bytes, total_tokens, try_convert_bytes};

fn check(kind: AdapterKind, lines: &[String]) -> Vec<Value> {
    let c = convert_bytes(kind, "prop", lines.join("\n").into_bytes());
    if !c.entries.is_empty() {
        assert_well_formed(&c.entries);
    }
    c.entries
}

fn text() -> impl Strategy<Value = String> {
    "[a-z \\n\"\\\\{}]{0,12}"
}

#[derive(Debug, Clone)]
enum Claude {
    User(String),
    Assistant { msg: u8, block: u8, tool: u8, text: String, usage: (u32, u32, u32, u32), side: bool },
    Result { tool: u8, error: bool },
    System(String),
    Junk(String),
    Other,
}

fn claude_event() -> impl Strategy<Value = Claude> {
    prop_oneof![
        text().prop_map(Claude::User),
        (0u8..4, 0u8..3, 0u8..4, text(), (0u32..500, 0u32..500, 0u32..5000, 0u32..300), any::<bool>()).prop_map(
            |(msg, block, tool, text, usage, side)| Claude::Assistant { msg, block, tool, text, usage, side }
        ),
        (0u8..4, any::<bool>()).prop_map(|(tool, error)| Claude::Result { tool, error }),
        text().prop_map(Claude::System),
        text().prop_map(Claude::Junk),
        Just(Claude::Other),
    ]
}

fn claude_lines(events: &[Claude]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let base = |t: &str, side: bool| {
            json!({"type": t, "uuid": format!("u{i}"), "parentUuid": (i > 0).then(|| format!("u{}", i - 1)),
                   "sessionId": "S", "isSidechain": side, "agentId": side.then_some("sub"),
                   "timestamp": format!("2025-01-01T00:00:{:02}.000Z", i % 60), "cwd": "/w"})
        };
        let line = match e {
            Claude::User(t) => {
                let mut b = base("user", false);
                b["message"] = json!({"role": "user", "content": t});
                b.to_string()
            }
            Claude::Assistant { msg, block, tool, text, usage, side } => {
                let content = match block {
                    0 => json!([{"type": "text", "text": text}]),
                    1 => json!([{"type": "thinking", "thinking": text, "signature": "s"}]),
                    _ => {
                        json!([{"type": "tool_use", "id": format!("t{tool}"), "name": format!("Tool{tool}"), "input": {"q": text}}])
                    }
                };
                let mut b = base("assistant", *side);
                b["message"] = json!({"id": format!("msg_{msg}"), "role": "assistant", "model": "m", "content": content,
                    "usage": {"input_tokens": usage.0, "cache_creation_input_tokens": usage.1, "cache_read_input_tokens": usage.2, "output_tokens": usage.3}});
                b.to_string()
            }
            Claude::Result { tool, error } => {
                let mut b = base("user", false);
                b["message"] = json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": format!("t{tool}"), "content": "r", "is_error": error}]});
                b.to_string()
            }
            Claude::System(t) => {
                let mut b = base("system", false);
                b["content"] = json!(t);
                b.to_string()
            }
            Claude::Junk(t) => t.clone(),
            Claude::Other => base("progress", false).to_string(),
        };
        out.push(line);
    }
    out
}

#[derive(Debug, Clone)]
enum Codex {
    User(String),
    Assistant(String),
    Reasoning(String),
    Call(u8),
    Output(u8, bool),
    /// A model call's usage: (uncached input, cached input, visible output, reasoning).
    Advance(u32, u32, u32, u32),
    /// The last total again (a UI or rate-limit refresh).
    Repeat,
    /// An earlier total again (history replayed on resume).
    Replay(u8),
    Context,
    Junk(String),
}

fn codex_event() -> impl Strategy<Value = Codex> {
    prop_oneof![
        text().prop_map(Codex::User),
        text().prop_map(Codex::Assistant),
        text().prop_map(Codex::Reasoning),
        (0u8..4).prop_map(Codex::Call),
        (0u8..4, any::<bool>()).prop_map(|(c, ok)| Codex::Output(c, ok)),
        (0u32..100_000, 0u32..100_000, 0u32..10_000, 0u32..10_000).prop_map(|(a, b, c, d)| Codex::Advance(a, b, c, d)),
        Just(Codex::Repeat),
        (0u8..8).prop_map(Codex::Replay),
        Just(Codex::Context),
        text().prop_map(Codex::Junk),
    ]
}

/// Builds the lines and the expected counted total: cumulative totals as Codex keeps them,
/// re-emitted unchanged or replayed from earlier; only the real advances may count.
fn codex_lines(events: &[Codex]) -> (Vec<String>, (u64, u64, u64, u64)) {
    let ts = |i: usize| format!("2025-01-01T00:{:02}:{:02}.000Z", 1 + i / 60, i % 60);
    let mut out = vec![
        json!({"timestamp": "2025-01-01T00:00:00.000Z", "type": "session_meta",
        "payload": {"id": "C", "timestamp": "2025-01-01T00:00:00.000Z", "cwd": "/w", "cli_version": "0"}})
        .to_string(),
    ];
    let mut history: Vec<(u64, u64, u64, u64)> = Vec::new();
    let mut cumulative = (0u64, 0u64, 0u64, 0u64);
    for (i, e) in events.iter().enumerate() {
        let item = |p: Value| json!({"timestamp": ts(i), "type": "response_item", "payload": p}).to_string();
        let line = match e {
            Codex::User(t) => {
                item(json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": t}]}))
            }
            Codex::Assistant(t) => {
                item(json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": t}]}))
            }
            Codex::Reasoning(t) => item(json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": t}]})),
            Codex::Call(c) => item(
                json!({"type": "function_call", "name": "shell", "arguments": "{\"command\":[\"ls\"]}", "call_id": format!("c{c}")}),
            ),
            Codex::Output(c, ok) => item(json!({"type": "function_call_output", "call_id": format!("c{c}"),
                "output": json!({"output": "x", "metadata": {"exit_code": if *ok {0} else {1}}}).to_string()})),
            Codex::Advance(..) | Codex::Repeat | Codex::Replay(_) => {
                let t = match e {
                    Codex::Advance(a, b, c, d) => {
                        let (a, b, c, d) = (u64::from(*a), u64::from(*b), u64::from(*c), u64::from(*d));
                        cumulative = (cumulative.0 + a + b, cumulative.1 + b, cumulative.2 + c + d, cumulative.3 + d);
                        cumulative
                    }
                    Codex::Replay(k) if !history.is_empty() => history[usize::from(*k) % history.len()],
                    _ => history.last().copied().unwrap_or_default(),
                };
                history.push(t);
                json!({"timestamp": ts(i), "type": "event_msg", "payload": {"type": "token_count", "info": {"total_token_usage":
                    {"input_tokens": t.0, "cached_input_tokens": t.1, "output_tokens": t.2, "reasoning_output_tokens": t.3}}}})
                .to_string()
            }
            Codex::Context => {
                json!({"timestamp": ts(i), "type": "turn_context", "payload": {"model": "gpt"}}).to_string()
            }
            Codex::Junk(t) => t.clone(),
        };
        out.push(line);
    }
    (out, cumulative)
}

#[derive(Debug, Clone)]
enum Gemini {
    User(u8, String),
    Model(u8, String, (u32, u32, u32, u32, u32), bool),
    Rewind(u8),
    Set,
    Junk(String),
}

fn gemini_event() -> impl Strategy<Value = Gemini> {
    prop_oneof![
        (0u8..6, text()).prop_map(|(i, t)| Gemini::User(i, t)),
        (0u8..6, text(), (0u32..9000, 0u32..500, 0u32..9000, 0u32..500, 0u32..100), any::<bool>())
            .prop_map(|(i, t, k, c)| Gemini::Model(i, t, k, c)),
        (0u8..6).prop_map(Gemini::Rewind),
        Just(Gemini::Set),
        text().prop_map(Gemini::Junk),
    ]
}

fn gemini_lines(events: &[Gemini]) -> Vec<String> {
    let mut out = vec![
        json!({"sessionId": "G", "projectHash": "h", "startTime": "2025-01-01T00:00:00Z", "kind": "main"}).to_string(),
    ];
    for (n, e) in events.iter().enumerate() {
        let ts = format!("2025-01-01T00:00:{:02}Z", n % 60);
        out.push(match e {
            Gemini::User(i, t) => json!({"id": format!("m{i}"), "timestamp": ts, "type": "user", "content": t}).to_string(),
            Gemini::Model(i, t, k, calls) => {
                let (input, output, cached, thoughts, tool) = *k;
                let mut m = json!({"id": format!("m{i}"), "timestamp": ts, "type": "gemini", "content": t, "model": "g",
                    "thoughts": [{"subject": "s", "description": t}],
                    "tokens": {"input": input + cached, "output": output, "cached": cached, "thoughts": thoughts, "tool": tool}});
                if *calls {
                    m["toolCalls"] = json!([{"id": format!("c{n}"), "name": "read_file", "args": {"p": t}, "status": "success", "result": [t]},
                                            {"id": format!("d{n}"), "name": "shell", "args": {}, "status": "error", "resultDisplay": t}]);
                }
                m.to_string()
            }
            Gemini::Rewind(i) => json!({"$rewindTo": format!("m{i}")}).to_string(),
            Gemini::Set => json!({"$set": {"lastUpdated": ts}}).to_string(),
            Gemini::Junk(t) => t.clone(),
        });
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn claude_output_is_always_valid(events in prop::collection::vec(claude_event(), 0..40)) {
        check(AdapterKind::ClaudeCode, &claude_lines(&events));
    }

    #[test]
    fn codex_output_is_always_valid_and_counts_only_rising_totals(events in prop::collection::vec(codex_event(), 0..40)) {
        let (lines, expected) = codex_lines(&events);
        let entries = check(AdapterKind::Codex, &lines);
        let t = total_tokens(&entries);
        prop_assert_eq!((t.input, t.cached.unwrap_or(0), t.output, t.reasoning.unwrap_or(0)), expected);
    }

    #[test]
    fn gemini_output_is_always_valid(events in prop::collection::vec(gemini_event(), 0..40)) {
        check(AdapterKind::Gemini, &gemini_lines(&events));
    }

    #[test]
    fn adapters_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        for kind in [AdapterKind::ClaudeCode, AdapterKind::Codex, AdapterKind::Gemini] {
            match try_convert_bytes(kind, "bytes", bytes.clone()) {
                Ok(c) if !c.entries.is_empty() => assert_well_formed(&c.entries),
                Ok(_) => {}
                // Only bytes that announce gzip (magic 1f 8b) and are no gzip stream may fail,
                // and then as an input error.
                Err(e) => assert!(bytes.starts_with(&[0x1f, 0x8b]), "conversion failed on non-gzip input: {e}"),
            }
        }
    }
}
