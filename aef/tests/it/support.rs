//! Shared helpers: fixture paths, converting a fixture in memory, summing tokens.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aef::{
    AdapterKind, AdapterOptions, ConvertOptions, ConvertReport, Diagnostic, EntryWriter, FixedClock, Input, Tokens,
    Validator,
};
use serde_json::Value;

pub(crate) fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

pub(crate) fn options() -> AdapterOptions {
    AdapterOptions { clock: Arc::new(FixedClock::new(1_750_000_000_000, 1)), ..AdapterOptions::default() }
}

pub(crate) struct Converted {
    pub(crate) entries: Vec<Value>,
    pub(crate) report: ConvertReport,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

pub(crate) fn convert_bytes(kind: AdapterKind, name: &str, bytes: Vec<u8>) -> Converted {
    try_convert_bytes(kind, name, bytes).expect("conversion in memory does not fail")
}

/// As [`convert_bytes`], returning the conversion's error (an input that announces gzip and is
/// not a gzip stream fails as input, not as a panic).
pub(crate) fn try_convert_bytes(kind: AdapterKind, name: &str, bytes: Vec<u8>) -> Result<Converted, aef::ConvertError> {
    let mut adapter = kind.build(options());
    let mut writer = EntryWriter::new(Vec::new());
    let mut diagnostics = Vec::new();
    let input = Input::from_reader(name, std::io::Cursor::new(bytes));
    let report = aef::convert(
        adapter.as_mut(),
        input,
        &mut writer,
        &ConvertOptions::default(),
        None,
        &mut |d| diagnostics.push(d.clone()),
        &mut |_, _| {},
    )?;
    let entries = parse_lines(&writer.into_inner());
    Ok(Converted { entries, report, diagnostics })
}

pub(crate) fn convert_fixture(kind: AdapterKind, rel: &str) -> Converted {
    let bytes = read(fixture(rel));
    convert_bytes(kind, rel, bytes)
}

pub(crate) fn parse_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8(bytes.to_vec())
        .expect("utf-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("every output line is JSON"))
        .collect()
}

/// Tokens summed over messages and usage reports.
pub(crate) fn total_tokens(entries: &[Value]) -> Tokens {
    let mut t = Tokens::default();
    for e in entries {
        let ty = e["type"].as_str().unwrap_or_default();
        if (ty == "message" || ty == "aef.usage.report")
            && let Some(tok) = Tokens::from_value(&e["tokens"])
        {
            t.add(&tok);
        }
    }
    t
}

/// Asserts every entry validates in strict mode, `seq` is dense per session, and the last entry
/// is a `session.end` whose summary tokens equal the sum over the entries.
pub(crate) fn assert_well_formed(entries: &[Value]) {
    let v = Validator::new(true).unwrap();
    for (i, e) in entries.iter().enumerate() {
        let verdict = v.check_value(e);
        assert!(verdict.is_valid(), "entry {i} {e} is invalid: {:?}", verdict.problems);
        assert_eq!(e["seq"].as_u64(), Some(i as u64), "seq of entry {i}");
    }
    let first = entries.first().expect("at least session.start");
    assert_eq!(first["type"], "session.start");
    let last = entries.last().unwrap();
    assert_eq!(last["type"], "session.end");
    let summary = Tokens::from_value(&last["summary"]["tokens"]).unwrap();
    assert_eq!(summary, total_tokens(entries), "session.end summary equals the sum of the entries");
}

pub(crate) fn tokens(
    input: u64,
    output: u64,
    cached: Option<u64>,
    cache_write: Option<u64>,
    reasoning: Option<u64>,
) -> Tokens {
    Tokens { input, output, cached, cache_write, reasoning }
}

/// Reads a whole file (the workspace bans bare `std::fs::read`; this names the path on failure).
pub(crate) fn read(path: impl AsRef<Path>) -> Vec<u8> {
    use std::io::Read;
    let path = path.as_ref();
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    bytes
}

/// Writes a whole file, naming the path on failure.
pub(crate) fn write(path: impl AsRef<Path>, bytes: impl AsRef<[u8]>) {
    use std::io::Write;
    let path = path.as_ref();
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(bytes.as_ref()))
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
