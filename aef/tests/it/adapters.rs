//! Each adapter on its fixtures: entries validate, and token totals equal the hand-computed ones.

use aef::AdapterKind::{ClaudeCode, Codex, Gemini};
use aef::Severity;

use crate::support::{assert_well_formed, convert_fixture, tokens, total_tokens};

fn of_type<'a>(entries: &'a [serde_json::Value], t: &str) -> Vec<&'a serde_json::Value> {
    entries.iter().filter(|e| e["type"] == t).collect()
}

#[test]
fn claude_simple_maps_cache_reads_and_writes_into_input() {
    let c = convert_fixture(ClaudeCode, "claude-code/simple.jsonl");
    assert_well_formed(&c.entries);
    assert_eq!(total_tokens(&c.entries), tokens(2112, 5, Some(2000), Some(100), None));
    let start = &c.entries[0];
    assert_eq!(start["agent"], "claude-code");
    assert_eq!(start["workspace"], "/home/dev/proj");
    assert_eq!(start["sid"], "11111111-1111-4111-8111-111111111111");
    let msgs = of_type(&c.entries, "message");
    assert_eq!(msgs[1]["pid"], "c-u1");
    assert_eq!(msgs[1]["model"], "claude-sonnet-4-20250514");
    assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
}

#[test]
fn claude_multi_tool_merges_one_response_and_pairs_results() {
    let c = convert_fixture(ClaudeCode, "claude-code/multi-tool.jsonl");
    assert_well_formed(&c.entries);
    assert_eq!(total_tokens(&c.entries), tokens(5320 + 5528, 40 + 15, Some(10400), Some(420), None));
    let msgs = of_type(&c.entries, "message");
    assert_eq!(msgs.len(), 4, "user, one merged response, second response, system");
    let merged = msgs[1];
    assert_eq!(merged["id"], "c-a1");
    assert_eq!(merged["content"][0]["type"], "thinking");
    assert_eq!(merged["content"][1]["type"], "text");
    let calls = of_type(&c.entries, "tool.call");
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|call| call["pid"] == "c-a1"));
    let results = of_type(&c.entries, "tool.result");
    assert_eq!(results[0]["tool"], "Read");
    assert_eq!(results[0]["success"], true);
    assert_eq!(results[0]["pid"], calls[0]["id"]);
    assert_eq!(results[1]["tool"], "Bash");
    assert_eq!(results[1]["success"], false);
    assert_eq!(results[1]["error"]["message"], "error: 1 test failed");
    assert_eq!(results[1]["duration_ms"], 6900);
    // the second response's parent (line c-u3) is kept; a merged line id maps to the message
    assert_eq!(msgs[2]["pid"], "c-u3");
    assert_eq!(msgs[3]["role"], "system");
    let unknown: Vec<_> = c.diagnostics.iter().filter(|d| d.severity == Severity::Unknown).collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].line, 9);
    let end = c.entries.last().unwrap();
    assert_eq!(end["summary"]["tool_calls"], 2);
    assert_eq!(end["summary"]["duration_ms"], 11000);
}

#[test]
fn claude_trap_repeated_message_id_counts_each_response_once_with_its_last_usage() {
    let c = convert_fixture(ClaudeCode, "claude-code/trap-repeated-message-id.jsonl");
    assert_well_formed(&c.entries);
    // msg_X: 10 + 50 + 1000 in, 42 out (its last line); msg_Y: 5 + 1100 in, 7 out;
    // sidechain msg_S: 1 in, 4 out. Summing lines would give 3 × 1060 in; the first line 3 out.
    assert_eq!(total_tokens(&c.entries), tokens(1060 + 1105 + 1, 42 + 7 + 4, Some(2100), Some(50), None));
    let msgs = of_type(&c.entries, "message");
    let side: Vec<_> = msgs.iter().filter(|m| m["subagent"] == "a1b2").collect();
    assert_eq!(side.len(), 1, "the sidechain response is one message, marked with its subagent");
    assert_eq!(side[0]["content"][0]["text"], "subagent says hi, done", "the growing snapshot replaced its prefix");
    let main_x = msgs.iter().find(|m| m["id"] == "t-a1").unwrap();
    assert_eq!(main_x["content"].as_array().unwrap().len(), 1);
    assert_eq!(main_x["content"][0]["text"], "The code parses logs.");
}

#[test]
fn codex_simple_uses_the_total_and_skips_duplicate_events() {
    let c = convert_fixture(Codex, "codex/simple.jsonl");
    assert_well_formed(&c.entries);
    assert_eq!(total_tokens(&c.entries), tokens(3000, 60, Some(2048), None, Some(40)));
    assert_eq!(c.entries[0]["model"], "gpt-5-codex");
    let msgs = of_type(&c.entries, "message");
    assert_eq!(msgs.len(), 3, "environment context (system), user, assistant; event_msg copies skipped");
    assert_eq!(msgs[0]["role"], "system");
    assert_eq!(msgs[2]["content"][0]["type"], "thinking");
    assert_eq!(c.entries.last().unwrap()["status"], "complete");
}

#[test]
fn codex_multi_tool_pairs_calls_and_reads_exit_codes() {
    let c = convert_fixture(Codex, "codex/multi-tool.jsonl");
    assert_well_formed(&c.entries);
    assert_eq!(total_tokens(&c.entries), tokens(17800, 260, Some(12000), None, Some(90)));
    let calls = of_type(&c.entries, "tool.call");
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0]["args"]["command"][2], "ls");
    assert_eq!(calls[1]["tool"], "apply_patch");
    let results = of_type(&c.entries, "tool.result");
    assert_eq!(results.iter().map(|r| r["success"].as_bool().unwrap()).collect::<Vec<_>>(), [true, true, false]);
    assert_eq!(results[2]["tool"], "shell");
    assert_eq!(results[0]["pid"], calls[0]["id"]);
    assert_eq!(results[0]["duration_ms"], 500);
}

#[test]
fn codex_trap_unchanged_and_backward_totals_count_nothing() {
    let c = convert_fixture(Codex, "codex/trap-unchanged-totals.jsonl");
    assert_well_formed(&c.entries);
    // Summing last_token_usage of all eight token_count events would give 11 500 input.
    assert_eq!(total_tokens(&c.entries), tokens(4000, 300, Some(2000), None, Some(90)));
    let with_tokens = c.entries.iter().filter(|e| e.get("tokens").is_some()).count();
    assert_eq!(with_tokens, 3, "one delta per real model response");
}

#[test]
fn codex_trap_forked_replay_counts_only_the_childs_own_usage() {
    let c = convert_fixture(Codex, "codex/trap-forked-replay.jsonl");
    assert_well_formed(&c.entries);
    assert_eq!(total_tokens(&c.entries), tokens(500, 40, Some(400), None, Some(15)));
    let texts: Vec<String> = of_type(&c.entries, "message").iter().map(|m| m["content"].to_string()).collect();
    assert!(texts.iter().all(|t| !t.contains("parent")), "replayed history is not converted again: {texts:?}");
    assert_eq!(c.entries[0]["sid"], "0199a000-0000-7000-8000-000000000001");
    assert!(c.diagnostics.iter().any(|d| d.severity == Severity::Warning && d.message.contains("replayed")));
}

#[test]
fn codex_exec_stream_converts_with_the_injected_clock() {
    let c = convert_fixture(Codex, "codex/exec.jsonl");
    assert_well_formed(&c.entries);
    assert_eq!(total_tokens(&c.entries), tokens(5000, 300, Some(4000), None, None));
    assert_eq!(c.entries[0]["sid"], "0199b000-0000-7000-8000-000000000002");
    let calls = of_type(&c.entries, "tool.call");
    let results = of_type(&c.entries, "tool.result");
    assert_eq!((calls.len(), results.len()), (1, 1));
    assert_eq!(results[0]["tool"], "shell");
    assert_eq!(results[0]["pid"], calls[0]["id"]);
    let ts: Vec<i64> = c.entries.iter().map(|e| e["ts"].as_i64().unwrap()).collect();
    assert!(ts.iter().all(|t| *t >= 1_750_000_000_000 && *t < 1_750_000_001_000), "times come from the clock: {ts:?}");
}

#[test]
fn gemini_simple_adds_thoughts_to_output_as_reasoning() {
    let c = convert_fixture(Gemini, "gemini/simple.jsonl");
    assert_well_formed(&c.entries);
    assert_eq!(total_tokens(&c.entries), tokens(1200, 35, Some(800), None, Some(25)));
    let end = c.entries.last().unwrap();
    assert_eq!(end["ts"], 1_759_309_203_000i64, "$set lastUpdated ends the session");
}

#[test]
fn gemini_multi_tool_keeps_the_final_record_and_its_calls() {
    let c = convert_fixture(Gemini, "gemini/multi-tool.jsonl");
    assert_well_formed(&c.entries);
    assert_eq!(total_tokens(&c.entries), tokens(3050 + 3500, 140 + 8, Some(4000), None, Some(100)));
    let results = of_type(&c.entries, "tool.result");
    assert_eq!(results.len(), 2, "the executing first version of m2 was replaced");
    assert_eq!(results[0]["success"], true);
    assert_eq!(results[1]["success"], false);
    assert_eq!(results[1]["error"]["message"], "make: *** No rule");
    assert_eq!(of_type(&c.entries, "message").last().unwrap()["role"], "system");
}

#[test]
fn gemini_trap_repeated_id_counts_the_last_record_only() {
    let c = convert_fixture(Gemini, "gemini/trap-repeated-id.jsonl");
    assert_well_formed(&c.entries);
    assert_eq!(total_tokens(&c.entries), tokens(900, 50, Some(0), None, Some(10)));
    let msgs = of_type(&c.entries, "message");
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1]["content"][0]["text"], "One, two, three");
}

#[test]
fn gemini_trap_rewind_drops_the_rewound_turns() {
    let c = convert_fixture(Gemini, "gemini/trap-rewind.jsonl");
    assert_well_formed(&c.entries);
    assert_eq!(total_tokens(&c.entries), tokens(2500, 145, Some(1000), None, Some(35)));
    let ids: Vec<&str> = of_type(&c.entries, "message").iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["m1", "m2", "m5", "m6"]);
}

#[test]
fn gemini_rewind_beyond_the_window_is_recorded_not_lost() {
    let mut opts = crate::support::options();
    opts.limits.gemini_window = 1;
    let mut adapter = Gemini.build(opts);
    let mut out = aef::EntrySink::default();
    let bytes = crate::support::read(crate::support::fixture("gemini/trap-rewind.jsonl"));
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        adapter.push_line(i as u64 + 1, line, &mut out);
    }
    adapter.finish(&mut out);
    let types: Vec<&str> = out.entries.iter().map(|e| e.type_name()).collect();
    assert!(types.contains(&"aef.history.rewind"), "{types:?}");
    assert!(out.diagnostics.iter().any(|d| d.severity == Severity::Warning && d.line == 6));
}

#[test]
fn gemini_legacy_single_json_file() {
    let c = convert_fixture(Gemini, "gemini/legacy-session.json");
    assert_well_formed(&c.entries);
    assert_eq!(total_tokens(&c.entries), tokens(700, 20, Some(0), None, Some(8)));
    assert_eq!(c.entries[0]["sid"], "g-legacy");
    assert_eq!(of_type(&c.entries, "error").len(), 1);
    assert_eq!(c.entries.last().unwrap()["status"], "error");
}

#[test]
fn detection_picks_the_right_adapter_for_every_fixture() {
    for (kind, files) in [
        (
            ClaudeCode,
            &["claude-code/simple.jsonl", "claude-code/multi-tool.jsonl", "claude-code/trap-repeated-message-id.jsonl"]
                [..],
        ),
        (
            Codex,
            &["codex/simple.jsonl", "codex/multi-tool.jsonl", "codex/exec.jsonl", "codex/trap-forked-replay.jsonl"][..],
        ),
        (
            Gemini,
            &[
                "gemini/simple.jsonl",
                "gemini/multi-tool.jsonl",
                "gemini/legacy-session.json",
                "gemini/trap-rewind.jsonl",
            ][..],
        ),
    ] {
        for f in files {
            let bytes = crate::support::read(crate::support::fixture(f));
            assert_eq!(aef::detect(&bytes), Some(kind), "{f}");
        }
    }
}

#[test]
fn malformed_lines_are_reported_with_their_number_and_skipped() {
    let mut bytes = crate::support::read(crate::support::fixture("claude-code/simple.jsonl"));
    bytes.extend_from_slice(b"{not json\n[1,2]\n{\"type\":\"user\",\"sessionId\":\"x\"}\n");
    let c = crate::support::convert_bytes(ClaudeCode, "x", bytes);
    assert_well_formed(&c.entries);
    let lines: Vec<u64> = c.diagnostics.iter().map(|d| d.line).collect();
    assert_eq!(lines, [4, 5, 6]);
    assert!(c.diagnostics.iter().all(|d| d.severity == Severity::Malformed));
    assert_eq!(c.report.skipped, 3);
}

/// Regression (found by `aef_claude_code`): a content block without a `type` made an invalid
/// message; it is kept as an `unknown` block.
#[test]
fn regression_fuzz_claude_block_without_type() {
    let line = r#"{"type":"assistant","uuid":"a","sessionId":"s","timestamp":"2025-01-01T00:00:00Z","message":{"id":"m","role":"assistant","content":[{"typ0":"tool_use"},{"type":"text","text":5},"bare"]}}"#;
    let c = crate::support::convert_bytes(ClaudeCode, "x", line.as_bytes().to_vec());
    assert_well_formed(&c.entries);
    let content = &of_type(&c.entries, "message")[0]["content"];
    assert_eq!(content[0]["type"], "unknown");
    assert_eq!(content[1]["text"], "");
    assert_eq!(content[2]["value"], "bare");
}

/// Regression (found by `aef_codex` and `aef_gemini`): a timestamp before 1970 gave a negative
/// `ts`; it is treated as missing.
#[test]
fn regression_fuzz_timestamps_before_1970() {
    let codex = r#"{"timestamp":"1885-09-01T12:00:00Z","type":"session_meta","payload":{"id":"c","timestamp":"1885-09-01T12:00:00Z"}}"#;
    assert_well_formed(&crate::support::convert_bytes(Codex, "x", codex.as_bytes().to_vec()).entries);
    let gemini = r#"{"sessionId":"g","startTime":"0504-10-01T09:00:00Z"}"#;
    assert_well_formed(&crate::support::convert_bytes(Gemini, "x", gemini.as_bytes().to_vec()).entries);
    let claude = r#"{"type":"user","uuid":"","parentUuid":"","sessionId":"","timestamp":"1000-01-01T00:00:00Z","message":{"role":"user","content":"x"}}"#;
    let c = crate::support::convert_bytes(ClaudeCode, "x", claude.as_bytes().to_vec());
    assert!(c.entries.is_empty(), "an empty sessionId names no session");
}

#[test]
fn codex_rollout_edge_lines_map_or_are_reported() {
    let lines = [
        r#"{"timestamp":"2025-09-01T12:00:00Z","type":"response_item","payload":{"type":"message","role":"user","content":[]}}"#,
        r#"{"timestamp":"2025-09-01T12:00:00Z","type":"session_meta","payload":{"id":"S","timestamp":"2025-09-01T12:00:00Z"}}"#,
        r#"{"timestamp":"2025-09-01T12:00:01Z","type":"turn_context","payload":{"model":"gpt-5"}}"#,
        r#"{"timestamp":"2025-09-01T12:00:02Z","type":"response_item","payload":{"type":"local_shell_call","call_id":"c1","action":{"command":["ls"]}}}"#,
        r#"{"timestamp":"2025-09-01T12:00:03Z","type":"response_item","payload":{"type":"function_call_output","call_id":"c1","output":{"content":"denied","success":false}}}"#,
        r#"{"timestamp":"2025-09-01T12:00:04Z","type":"response_item","payload":{"type":"web_search_call","action":{"query":"rust"}}}"#,
        r#"{"timestamp":"2025-09-01T12:00:05Z","type":"compacted","payload":{"message":"summary of the work"}}"#,
        r#"{"timestamp":"2025-09-01T12:00:06Z","type":"event_msg","payload":{"type":"stream_error","message":"retrying"}}"#,
        r#"{"timestamp":"2025-09-01T12:00:07Z","type":"response_item","payload":{"type":"ghost_item"}}"#,
        r#"{"timestamp":"2025-09-01T12:00:08Z","type":"brand_new_line"}"#,
        r#"{"timestamp":"2025-09-01T12:00:09Z","type":"response_item"}"#,
        r#"{"timestamp":"2025-09-01T12:00:10Z","type":"event_msg","payload":{"type":"turn_aborted","reason":"interrupted"}}"#,
    ];
    let c = crate::support::convert_bytes(Codex, "x", lines.join("\n").into_bytes());
    assert_well_formed(&c.entries);
    let kinds: Vec<(u64, Severity)> = c.diagnostics.iter().map(|d| (d.line, d.severity)).collect();
    assert_eq!(
        kinds,
        [(1, Severity::Malformed), (9, Severity::Unknown), (10, Severity::Unknown), (11, Severity::Malformed)]
    );
    let calls = of_type(&c.entries, "tool.call");
    assert_eq!(calls.iter().map(|c| c["tool"].as_str().unwrap()).collect::<Vec<_>>(), ["local_shell", "web_search"]);
    let result = &of_type(&c.entries, "tool.result")[0];
    assert_eq!((result["success"].as_bool(), result["error"]["message"].as_str()), (Some(false), Some("denied")));
    assert_eq!(of_type(&c.entries, "aef.context.compacted")[0]["summary"], "summary of the work");
    assert_eq!(of_type(&c.entries, "error")[0]["recoverable"], true);
    assert_eq!(c.entries.last().unwrap()["status"], "user_abort");
}

#[test]
fn codex_exec_failures_and_other_tools() {
    let lines = [
        r#"{"type":"turn.started"}"#,
        r#"{"type":"thread.started","thread_id":"T"}"#,
        r#"{"type":"item.completed","item":{"id":"i1","type":"file_change","changes":[{"path":"a","kind":"update"}],"status":"completed"}}"#,
        r#"{"type":"item.started","item":{"id":"i2","type":"mcp_tool_call","server":"s","tool":"lookup","arguments":{"q":1},"status":"in_progress"}}"#,
        r#"{"type":"item.completed","item":{"id":"i2","type":"mcp_tool_call","server":"s","tool":"lookup","arguments":{"q":1},"error":{"message":"boom"},"status":"failed"}}"#,
        r#"{"type":"item.completed","item":{"id":"i3","type":"web_search","query":"q"}}"#,
        r#"{"type":"item.completed","item":{"id":"i4","type":"error","message":"model warned"}}"#,
        r#"{"type":"item.completed","item":{"id":"i5","type":"hologram"}}"#,
        r#"{"type":"item.completed"}"#,
        r#"{"type":"turn.failed","error":{"message":"quota"}}"#,
    ];
    let c = crate::support::convert_bytes(Codex, "x", lines.join("\n").into_bytes());
    assert_well_formed(&c.entries);
    let kinds: Vec<(u64, Severity)> = c.diagnostics.iter().map(|d| (d.line, d.severity)).collect();
    assert_eq!(kinds, [(1, Severity::Malformed), (8, Severity::Unknown), (9, Severity::Malformed)]);
    let tools: Vec<&str> = of_type(&c.entries, "tool.call").iter().map(|c| c["tool"].as_str().unwrap()).collect();
    assert_eq!(tools, ["apply_patch", "lookup", "web_search"]);
    let ok: Vec<bool> = of_type(&c.entries, "tool.result").iter().map(|r| r["success"].as_bool().unwrap()).collect();
    assert_eq!(ok, [true, false, true]);
    let errors = of_type(&c.entries, "error");
    assert_eq!(errors.iter().map(|e| e["message"].as_str().unwrap()).collect::<Vec<_>>(), ["model warned", "quota"]);
    assert_eq!(c.entries.last().unwrap()["status"], "error");
}

#[test]
fn gemini_a_broken_first_line_is_reported_not_taken_for_a_legacy_file() {
    let mut bytes = b"{\"sessionId\": broken}\n".to_vec();
    bytes.extend(crate::support::read(crate::support::fixture("gemini/simple.jsonl")));
    let c = crate::support::convert_bytes(Gemini, "x", bytes);
    assert_well_formed(&c.entries);
    assert_eq!(c.diagnostics.len(), 1);
    assert_eq!((c.diagnostics[0].line, c.diagnostics[0].severity), (1, Severity::Malformed));
    assert_eq!(total_tokens(&c.entries), tokens(1200, 35, Some(800), None, Some(25)));
}

#[test]
fn converting_twice_gives_the_same_bytes() {
    for (kind, f) in [
        (ClaudeCode, "claude-code/multi-tool.jsonl"),
        (Codex, "codex/multi-tool.jsonl"),
        (Gemini, "gemini/multi-tool.jsonl"),
    ] {
        assert_eq!(convert_fixture(kind, f).entries, convert_fixture(kind, f).entries, "{f}");
    }
}
