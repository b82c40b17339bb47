//! Synthetic session logs for the benchmarks and the 1 GB memory run: realistic line shapes and
//! sizes of each tool's format (see docs/formats), generated deterministically.

#![allow(dead_code)]

use std::io::Write;

/// The formats the generator writes.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Format {
    Claude,
    Codex,
    Gemini,
}

fn ts(i: u64) -> String {
    let s = i % 86_400;
    format!("2025-06-{:02}T{:02}:{:02}:{:02}.{:03}Z", 1 + (i / 86_400) % 28, s / 3600, (s / 60) % 60, s % 60, i % 1000)
}

fn filler(i: u64, n: usize) -> String {
    let words = ["parse", "the", "log", "file", "and", "count", "tokens", "once", "per", "response"];
    let mut s = String::with_capacity(n + 16);
    let mut k = i as usize;
    while s.len() < n {
        s.push_str(words[k % words.len()]);
        s.push(' ');
        k = k.wrapping_mul(31).wrapping_add(7);
    }
    s
}

/// Writes turns of `format` until at least `bytes` have been written; returns the line count.
pub(crate) fn write_log(format: Format, bytes: u64, out: &mut impl Write) -> std::io::Result<u64> {
    let (mut written, mut lines, mut turn) = (0u64, 0u64, 0u64);
    if let Format::Codex = format {
        let l = format!(
            r#"{{"timestamp":"{}","type":"session_meta","payload":{{"id":"bench-codex","timestamp":"{}","cwd":"/w","originator":"codex_cli_rs","cli_version":"0.36.0"}}}}"#,
            ts(0),
            ts(0)
        );
        written += l.len() as u64 + 1;
        lines += 1;
        writeln!(out, "{l}")?;
    }
    if let Format::Gemini = format {
        let l =
            r#"{"sessionId":"bench-gemini","projectHash":"9f2c","startTime":"2025-06-01T00:00:00.000Z","kind":"main"}"#;
        written += l.len() as u64 + 1;
        lines += 1;
        writeln!(out, "{l}")?;
    }
    while written < bytes {
        for l in turn_lines(format, turn) {
            written += l.len() as u64 + 1;
            lines += 1;
            writeln!(out, "{l}")?;
        }
        turn += 1;
    }
    Ok(lines)
}

fn turn_lines(format: Format, t: u64) -> Vec<String> {
    let base = t * 10;
    match format {
        Format::Claude => {
            let env = |i: u64, parent: u64, ty: &str| {
                format!(
                    r#""parentUuid":"u{parent}","isSidechain":false,"userType":"external","cwd":"/home/dev/proj","sessionId":"bench-claude","version":"1.0.80","gitBranch":"main","type":"{ty}","uuid":"u{i}","timestamp":"{}""#,
                    ts(base + i)
                )
            };
            let usage = |out: u64| {
                format!(
                    r#"{{"input_tokens":12,"cache_creation_input_tokens":300,"cache_read_input_tokens":{},"output_tokens":{out},"service_tier":"standard"}}"#,
                    5000 + t
                )
            };
            let am = |content: String, out: u64| {
                format!(
                    r#""message":{{"id":"msg_{t}","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[{content}],"stop_reason":null,"usage":{}}},"requestId":"req_{t}""#,
                    usage(out)
                )
            };
            vec![
                format!(
                    r#"{{{},"message":{{"role":"user","content":"{}"}}}}"#,
                    env(base, base.saturating_sub(1), "user"),
                    filler(t, 200)
                ),
                format!(
                    r#"{{{},{}}}"#,
                    env(base + 1, base, "assistant"),
                    am(format!(r#"{{"type":"thinking","thinking":"{}","signature":"sig"}}"#, filler(t + 1, 300)), 40)
                ),
                format!(
                    r#"{{{},{}}}"#,
                    env(base + 2, base + 1, "assistant"),
                    am(format!(r#"{{"type":"text","text":"{}"}}"#, filler(t + 2, 250)), 90)
                ),
                format!(
                    r#"{{{},{}}}"#,
                    env(base + 3, base + 2, "assistant"),
                    am(
                        format!(
                            r#"{{"type":"tool_use","id":"toolu_{t}","name":"Read","input":{{"file_path":"/home/dev/proj/src/file{t}.rs"}}}}"#
                        ),
                        120
                    )
                ),
                format!(
                    r#"{{{},"message":{{"role":"user","content":[{{"type":"tool_result","tool_use_id":"toolu_{t}","content":"{}"}}]}}}}"#,
                    env(base + 4, base + 3, "user"),
                    filler(t + 3, 600)
                ),
            ]
        }
        Format::Codex => {
            let item = |i: u64, p: String| {
                format!(r#"{{"timestamp":"{}","type":"response_item","payload":{p}}}"#, ts(base + i))
            };
            let total = |k: u64| {
                format!(
                    r#"{{"input_tokens":{},"cached_input_tokens":{},"output_tokens":{},"reasoning_output_tokens":{},"total_tokens":0}}"#,
                    4000 * k,
                    3000 * k,
                    200 * k,
                    80 * k
                )
            };
            let tc = |i: u64, k: u64| {
                format!(
                    r#"{{"timestamp":"{}","type":"event_msg","payload":{{"type":"token_count","info":{{"total_token_usage":{},"last_token_usage":{},"model_context_window":272000}}}}}}"#,
                    ts(base + i),
                    total(k),
                    total(1)
                )
            };
            vec![
                item(
                    0,
                    format!(
                        r#"{{"type":"message","role":"user","content":[{{"type":"input_text","text":"{}"}}]}}"#,
                        filler(t, 200)
                    ),
                ),
                format!(
                    r#"{{"timestamp":"{}","type":"turn_context","payload":{{"cwd":"/w","approval_policy":"on-request","model":"gpt-5-codex","effort":"medium"}}}}"#,
                    ts(base + 1)
                ),
                item(
                    2,
                    format!(
                        r#"{{"type":"reasoning","summary":[{{"type":"summary_text","text":"{}"}}],"encrypted_content":"gAAAA"}}"#,
                        filler(t + 1, 300)
                    ),
                ),
                item(
                    3,
                    format!(
                        r#"{{"type":"function_call","name":"shell","arguments":"{{\"command\":[\"bash\",\"-lc\",\"cat src/file{t}.rs\"]}}","call_id":"call_{t}"}}"#
                    ),
                ),
                tc(4, 2 * t + 1),
                tc(5, 2 * t + 1),
                item(
                    6,
                    format!(
                        r#"{{"type":"function_call_output","call_id":"call_{t}","output":"{}"}}"#,
                        filler(t + 3, 600)
                    ),
                ),
                item(
                    7,
                    format!(
                        r#"{{"type":"message","role":"assistant","content":[{{"type":"output_text","text":"{}"}}]}}"#,
                        filler(t + 2, 250)
                    ),
                ),
                tc(8, 2 * t + 2),
            ]
        }
        Format::Gemini => {
            let tokens = |o: u64| {
                format!(r#"{{"input":{},"output":{o},"cached":3000,"thoughts":80,"tool":0,"total":0}}"#, 4000 + t)
            };
            let call = |status: &str| {
                format!(
                    r#"[{{"id":"read_file-{t}","name":"read_file","args":{{"absolute_path":"/p/src/file{t}.rs"}},"result":[{{"functionResponse":{{"id":"read_file-{t}","name":"read_file","response":{{"output":"{}"}}}}}}],"status":"{status}","resultDisplay":"","displayName":"ReadFile","timestamp":"{}"}}]"#,
                    filler(t + 3, 600),
                    ts(base + 3)
                )
            };
            let model = |o: u64, status: &str| {
                format!(
                    r#"{{"id":"g{t}","timestamp":"{}","type":"gemini","content":"{}","model":"gemini-2.5-pro","thoughts":[{{"subject":"Plan","description":"{}","timestamp":"{}"}}],"tokens":{},"toolCalls":{}}}"#,
                    ts(base + 2),
                    filler(t + 2, 250),
                    filler(t + 1, 300),
                    ts(base + 1),
                    tokens(o),
                    call(status)
                )
            };
            vec![
                format!(r#"{{"id":"u{t}","timestamp":"{}","type":"user","content":"{}"}}"#, ts(base), filler(t, 200)),
                model(20, "executing"),
                model(90, "success"),
                format!(r#"{{"$set":{{"lastUpdated":"{}"}}}}"#, ts(base + 4)),
            ]
        }
    }
}
