//! The real `aef` binary: exit codes, standard input, gzip, conversion round trips.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::support::fixture;

fn aef(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aef"))
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("aef runs");
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn path(rel: &str) -> String {
    fixture(rel).display().to_string()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn validate_exit_codes_are_0_1_2() {
    let ok = aef(&["validate", &path("aef/valid-core.jsonl"), &path("aef/valid-extension.jsonl")], None);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(
        text(&ok.stdout).starts_with("11 entries: 11 valid, 0 invalid (8 core, 3 extension)"),
        "{}",
        text(&ok.stdout)
    );

    let bad = aef(&["validate", &path("aef/invalid.jsonl")], None);
    assert_eq!(bad.status.code(), Some(1));
    let out = text(&bad.stdout);
    assert!(out.contains("invalid.jsonl:2: /id: required field \"id\" is missing"), "{out}");
    assert!(out.contains("invalid.jsonl:5: not JSON"), "{out}");

    let missing = aef(&["validate", "/nonexistent/x.jsonl"], None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).starts_with("error: cannot open /nonexistent/x.jsonl"), "{}", text(&missing.stderr));
    assert!(!text(&missing.stderr).contains("Os {"), "no Rust debug text");

    let usage = aef(&["validate"], None);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn validate_reads_stdin_gzip_and_prints_json() {
    let bytes = crate::support::read(fixture("aef/invalid.jsonl"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bytes).unwrap();
    let gz = gz.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("invalid.jsonl.gz");
    crate::support::write(&file, &gz);

    let from_file = aef(&["validate", "--json", file.to_str().unwrap()], None);
    let from_stdin = aef(&["validate", "--json", "-"], Some(&gz));
    assert_eq!(from_file.status.code(), Some(1));
    assert_eq!(from_stdin.status.code(), Some(1));
    let lines: Vec<serde_json::Value> =
        text(&from_stdin.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let summary = &lines.last().unwrap()["summary"];
    assert_eq!(summary["invalid"], 8);
    assert_eq!(summary["valid"], 1);
    assert_eq!(lines[0]["file"], "<stdin>");
    assert_eq!(lines[0]["line"], 2);
    assert_eq!(
        text(&from_file.stdout).lines().count(),
        lines.len(),
        "gzip file and gzip stdin report the same problems"
    );

    let quiet = aef(&["validate", "--quiet", &path("aef/valid-core.jsonl")], None);
    assert_eq!(quiet.status.code(), Some(0));
    assert!(quiet.stdout.is_empty());

    let strict = aef(&["validate", "--strict", &path("aef/valid-extension.jsonl")], None);
    assert_eq!(strict.status.code(), Some(1));
}

#[test]
fn convert_auto_detects_and_its_output_validates() {
    for f in [
        "claude-code/multi-tool.jsonl",
        "codex/multi-tool.jsonl",
        "codex/exec.jsonl",
        "gemini/multi-tool.jsonl",
        "gemini/legacy-session.json",
    ] {
        let out = aef(&["convert", "--validate", "--quiet", &path(f)], None);
        assert_eq!(out.status.code(), Some(0), "{f}: {}", text(&out.stderr));
        let check = aef(&["validate", "--strict", "-"], Some(&out.stdout));
        assert_eq!(check.status.code(), Some(0), "{f}: {}", text(&check.stdout));
    }
}

#[test]
fn convert_from_stdin_to_a_file_and_info_on_it() {
    let bytes = crate::support::read(fixture("codex/simple.jsonl"));
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.aef.jsonl");
    let conv = aef(&["convert", "--adapter", "codex", "--output", out_file.to_str().unwrap(), "-"], Some(&bytes));
    assert_eq!(conv.status.code(), Some(0), "{}", text(&conv.stderr));
    let info = aef(&["info", "--json", out_file.to_str().unwrap()], None);
    assert_eq!(info.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(v["tokens_by_model"]["gpt-5-codex"]["input"], 3000);
    assert_eq!(v["agents"]["codex"], 1);
    assert_eq!(v["sessions"].as_object().unwrap().len(), 1);
    let plain = aef(&["info", out_file.to_str().unwrap()], None);
    assert!(text(&plain.stdout).contains("gpt-5-codex"), "{}", text(&plain.stdout));
}

#[test]
fn convert_strict_stops_at_an_unknown_line_and_skips_otherwise() {
    let lenient = aef(&["convert", "-a", "claude-code", &path("claude-code/multi-tool.jsonl")], None);
    assert_eq!(lenient.status.code(), Some(0));
    assert!(text(&lenient.stderr).contains("multi-tool.jsonl:9: skipped unknown line"), "{}", text(&lenient.stderr));
    let strict = aef(&["convert", "--strict", "-a", "claude-code", &path("claude-code/multi-tool.jsonl")], None);
    assert_eq!(strict.status.code(), Some(1));
    assert!(text(&strict.stderr).contains(":9:"), "{}", text(&strict.stderr));
}

#[test]
fn convert_usage_errors_exit_2() {
    let unknown = aef(&["convert", "--adapter", "nope", &path("codex/simple.jsonl")], None);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("known: claude-code, codex, gemini"));
    let undetectable = aef(&["convert", "-"], Some(b"hello\n"));
    assert_eq!(undetectable.status.code(), Some(2));
    assert!(text(&undetectable.stderr).contains("--adapter"));
}

#[test]
fn convert_follow_with_idle_timeout_finishes_the_session() {
    let out = aef(
        &["convert", "--follow", "--poll-ms", "10", "--idle-timeout-ms", "100", &path("gemini/simple.jsonl")],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let last = text(&out.stdout).lines().last().unwrap().to_string();
    assert!(last.contains("\"type\":\"session.end\""), "{last}");
}

#[test]
fn adapters_and_export() {
    let list = aef(&["adapters", "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);
    let conv = aef(&["convert", "--quiet", &path("codex/multi-tool.jsonl")], None);
    let export = aef(&["export", "--format", "otlp", "-"], Some(&conv.stdout));
    assert_eq!(export.status.code(), Some(0), "{}", text(&export.stderr));
    let first: serde_json::Value = serde_json::from_str(text(&export.stdout).lines().next().unwrap()).unwrap();
    assert!(first["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().unwrap().len() > 3);
    let bad_format = aef(&["export", "--format", "zipkin", "-"], Some(b""));
    assert_eq!(bad_format.status.code(), Some(2));
}

#[test]
fn bad_limits_document_is_a_usage_error_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("limits.json");
    crate::support::write(&f, r#"{"gemini_window": "big"}"#);
    let out = aef(&["--limits", f.to_str().unwrap(), "validate", &path("aef/valid-core.jsonl")], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/gemini_window"), "{}", text(&out.stderr));
}
