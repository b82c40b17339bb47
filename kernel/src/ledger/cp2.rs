//! Control Plane v2 (the Python system) ledgers: read, verify, import.
//!
//! Owns: the Python hashing form ([`python_dumps`], [`python_float_repr`]), verification of a
//! Python JSONL ledger file ([`verify_file`]) and its import into a native ledger
//! ([`import`]). Never does: write Python-format ledgers, or accept a file that does not verify.
//!
//! Format: one JSON object per `\n`-terminated line, fields in the order `event_type,
//! submission_id, decision, reason, prompts_used, metadata, id, timestamp, previous_hash,
//! entry_hash` (the order is not needed for verification). `entry_hash` is the lowercase hex
//! SHA-256 of the UTF-8 of the entry without `entry_hash` as Python writes it with
//! `json.dumps(obj, sort_keys=True, ensure_ascii=False)`:
//! * separators `", "` and `": "`; object keys sorted recursively by code point;
//! * strings: `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, other characters below U+0020 as
//!   `\u00xx` (lowercase hex), everything else raw UTF-8 (U+007F included);
//! * integers as integers; floats as Python `repr`: shortest round-trip digits, exponent form
//!   when the decimal exponent is below -4 or at least 16 (`1e-05`, `1.5e+16`, sign and at
//!   least two exponent digits), otherwise positional with a fractional part (`2.0`,
//!   `0.30000000000000004`, `-0.0`);
//! * `true`, `false`, `null`.
//!
//! `previous_hash` of the first entry is the empty string; every other entry's is the previous
//! line's `entry_hash`. Python writes no `seq`, so a deleted or reordered entry shows as a
//! broken link at its position (line index, 0-based, reported as `seq`).
//!
//! Verification is over values, as the Python system hashes them: a byte change that leaves
//! every decoded value equal (another digit string for the same double, `\u0041` for `A`) is
//! not a content change. Native ledgers hash their stored bytes and have no such slack.
//!
//! Limits: integers outside the `i64`/`u64` range and `NaN`/`Infinity` (which Python can write)
//! are not representable here; such a line is reported as junk or as changed content.

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Number, Value};
use sha2::{Digest, Sha256};

use super::canonical::shortest_digits;
use super::verify::{Defect, DefectKind, VerifyReport};
use super::{LedgerError, LedgerStore, NewEntry};
use crate::fsx::{self, FsError};

/// Errors of reading and importing Python ledgers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Cp2Error {
    /// The file could not be read.
    #[error(transparent)]
    Io(#[from] FsError),
    /// Appending to the native ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The file does not verify; nothing was imported.
    #[error("{path} does not verify ({defect}); nothing imported")]
    Broken {
        /// The file.
        path: String,
        /// The first bad entry.
        defect: Defect,
    },
    /// A verified entry cannot be mapped to a native entry.
    #[error("{path}:{line}: cannot import entry: {message}")]
    Entry {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Appends `s` as a Python `json.dumps(..., ensure_ascii=False)` string literal. Python escapes
/// exactly what RFC 8785 does (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other controls as
/// lowercase `\u00xx`, everything else raw), so this is the canonical writer.
pub fn write_python_string(s: &str, out: &mut Vec<u8>) {
    super::canonical::write_string(s, out);
}

/// Python's `repr(x)` of a finite float.
pub fn python_float_repr(x: f64) -> String {
    if x == 0.0 {
        return if x.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    if !x.is_finite() {
        // Python writes these, but they never reach here from a serde_json Value.
        return if x.is_nan() {
            "NaN".into()
        } else if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let (digits, decpt) = shortest_digits(x);
    let k = digits.len() as i32;
    let mut s = String::with_capacity(32);
    if x < 0.0 {
        s.push('-');
    }
    if decpt <= -4 || decpt > 16 {
        s.push_str(&digits[..1]);
        if k > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        s.push('e');
        s.push(if e < 0 { '-' } else { '+' });
        s.push_str(&format!("{:02}", e.unsigned_abs()));
    } else if decpt <= 0 {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', (-decpt) as usize));
        s.push_str(&digits);
    } else if decpt < k {
        s.push_str(&digits[..decpt as usize]);
        s.push('.');
        s.push_str(&digits[decpt as usize..]);
    } else {
        s.push_str(&digits);
        s.extend(std::iter::repeat_n('0', (decpt - k) as usize));
        s.push_str(".0");
    }
    s
}

fn write_python_number(n: &Number, out: &mut Vec<u8>) {
    if let Some(u) = n.as_u64() {
        out.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(i) = n.as_i64() {
        out.extend_from_slice(i.to_string().as_bytes());
    } else if let Some(f) = n.as_f64() {
        out.extend_from_slice(python_float_repr(f).as_bytes());
    }
}

/// Appends `v` as `json.dumps(v, sort_keys=True, ensure_ascii=False)` writes it.
pub fn python_dumps(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_python_number(n, out),
        Value::String(s) => write_python_string(s, out),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                python_dumps(x, out);
            }
            out.push(b']');
        }
        Value::Object(m) => write_python_object(m, None, out),
    }
}

fn write_python_object(m: &Map<String, Value>, skip: Option<&str>, out: &mut Vec<u8>) {
    // Rust `str` order is UTF-8 byte order, which equals Python's code point order.
    let mut members: Vec<(&String, &Value)> = m.iter().filter(|(k, _)| Some(k.as_str()) != skip).collect();
    members.sort_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (i, (k, v)) in members.into_iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        write_python_string(k, out);
        out.extend_from_slice(b": ");
        python_dumps(v, out);
    }
    out.push(b'}');
}

/// The Python `entry_hash` of an entry (hex SHA-256 of its dump without `entry_hash`).
pub fn python_entry_hash(entry: &Map<String, Value>) -> String {
    let mut buf = Vec::with_capacity(512);
    write_python_object(entry, Some("entry_hash"), &mut buf);
    const_hex::encode(Sha256::digest(&buf))
}

/// One line of a Python ledger file.
struct Line<'a> {
    /// 0-based index.
    index: usize,
    bytes: &'a [u8],
    /// Whether the line ended with `\n`.
    terminated: bool,
}

fn lines(data: &[u8]) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < data.len() {
        match data[start..].iter().position(|&b| b == b'\n') {
            Some(p) => {
                out.push(Line { index: out.len(), bytes: &data[start..start + p], terminated: true });
                start += p + 1;
            }
            None => {
                out.push(Line { index: out.len(), bytes: &data[start..], terminated: false });
                start = data.len();
            }
        }
    }
    out
}

/// Verifies the bytes of a Python ledger, returning the report and the decoded entries of the
/// verified prefix.
fn verify_bytes(name: &str, data: &[u8]) -> (VerifyReport, Vec<Map<String, Value>>) {
    let mut report =
        VerifyReport { ledger: name.to_string(), entries: 0, verified: 0, ok: true, head: None, first_bad: None };
    let mut entries = Vec::new();
    let mut prev = String::new();
    for line in lines(data) {
        report.entries += 1;
        if report.first_bad.is_some() {
            continue;
        }
        let seq = line.index as u64;
        let bad = |kind, message: String| Defect { seq, kind, message, column: None };
        let obj = match serde_json::from_slice::<Value>(line.bytes) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                report.fail(bad(DefectKind::JunkLine, format!("line {} is not a JSON object", seq + 1)));
                continue;
            }
            Err(e) => {
                let kind = if line.terminated { DefectKind::JunkLine } else { DefectKind::TornLine };
                report.fail(bad(kind, format!("line {}: {e}", seq + 1)));
                continue;
            }
        };
        // Where, for people: the 1-based line and the entry's own `id` (seq is 0-based).
        let at = match obj.get("id").and_then(Value::as_str) {
            Some(id) => format!("line {} (id {id})", seq + 1),
            None => format!("line {} (no id)", seq + 1),
        };
        let Some(Value::String(stored)) = obj.get("entry_hash") else {
            report.fail(bad(DefectKind::Malformed, format!("{at} has no entry_hash string")));
            continue;
        };
        let computed = python_entry_hash(&obj);
        if *stored != computed {
            report.fail(bad(
                DefectKind::ContentChanged,
                format!("{at}: stored entry_hash {stored} but the entry hashes to {computed}"),
            ));
            continue;
        }
        let previous = match obj.get("previous_hash") {
            Some(Value::String(p)) => p.as_str(),
            _ => {
                report.fail(bad(DefectKind::Malformed, format!("{at} has no previous_hash string")));
                continue;
            }
        };
        if previous != prev {
            let message = if seq == 0 {
                format!("{at}: first entry has previous_hash {previous:?}, expected \"\"")
            } else {
                format!("{at}: previous_hash {previous:?} is not the entry_hash {prev} of line {seq}")
            };
            report.fail(bad(DefectKind::LinkBroken, message));
            continue;
        }
        prev = computed;
        report.verified += 1;
        entries.push(obj);
    }
    report.ok = report.first_bad.is_none();
    report.head = (report.verified > 0).then_some(prev);
    (report, entries)
}

/// Verifies a Python (Control Plane v2) JSONL ledger file. `seq` in the report is the 0-based
/// line index. A line that does not parse is junk, or torn when it is the unterminated last one.
pub fn verify_file(path: &Path) -> Result<VerifyReport, Cp2Error> {
    let data = fsx::read(path)?;
    Ok(verify_bytes(&path.display().to_string(), &data).0)
}

/// What [`import`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportReport {
    /// The Python ledger file.
    pub source: String,
    /// The native ledger written.
    pub ledger: String,
    /// Entries imported.
    pub imported: u64,
    /// `seq` of the first imported entry (when any).
    pub first_seq: Option<u64>,
    /// `seq` of the last imported entry (when any).
    pub last_seq: Option<u64>,
    /// The Python file's last `entry_hash`.
    pub source_head: Option<String>,
    /// The native chain head after the import.
    pub head: Option<String>,
}

fn opt_string(obj: &Map<String, Value>, field: &str, path: &str, line: usize) -> Result<Option<String>, Cp2Error> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Cp2Error::Entry {
            path: path.to_string(),
            line,
            message: format!("{field} is {other}, expected a string or null"),
        }),
    }
}

/// Maps one verified Python entry to a native one: same `event_type`, `submission_id`,
/// `decision`, `reason`; `metadata` is the original plus a `cp2` object holding the original
/// `id`, `timestamp`, `previous_hash`, `entry_hash` and `prompts_used`.
fn to_native(obj: &Map<String, Value>, path: &str, line: usize) -> Result<NewEntry, Cp2Error> {
    let err = |message: String| Cp2Error::Entry { path: path.to_string(), line, message };
    let event_type = match obj.get("event_type") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        other => return Err(err(format!("event_type is {other:?}, expected a non-empty string"))),
    };
    let mut metadata = match obj.get("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => return Err(err(format!("metadata is {other}, expected an object"))),
    };
    if metadata.contains_key("cp2") {
        return Err(err("metadata already has a \"cp2\" key".into()));
    }
    let mut cp2 = Map::new();
    for k in ["id", "timestamp", "previous_hash", "entry_hash", "prompts_used"] {
        cp2.insert(k.to_string(), obj.get(k).cloned().unwrap_or(Value::Null));
    }
    metadata.insert("cp2".into(), Value::Object(cp2));
    Ok(NewEntry {
        event_type,
        submission_id: opt_string(obj, "submission_id", path, line)?,
        decision: opt_string(obj, "decision", path, line)?,
        reason: opt_string(obj, "reason", path, line)?,
        metadata,
        provenance: Default::default(),
    })
}

/// Verifies the Python ledger at `path` and appends one native entry per Python entry to
/// `store`, in one batch (all or nothing). A file that does not verify is refused.
pub fn import(path: &Path, store: &dyn LedgerStore) -> Result<ImportReport, Cp2Error> {
    let data = fsx::read(path)?;
    let shown = path.display().to_string();
    let (report, entries) = verify_bytes(&shown, &data);
    if let Some(defect) = report.first_bad {
        return Err(Cp2Error::Broken { path: shown, defect });
    }
    let batch = entries.iter().enumerate().map(|(i, e)| to_native(e, &shown, i + 1)).collect::<Result<Vec<_>, _>>()?;
    let written = store.append_batch(batch)?;
    Ok(ImportReport {
        source: shown,
        ledger: store.name().to_string(),
        imported: written.len() as u64,
        first_seq: written.first().map(|e| e.seq),
        last_seq: written.last().map(|e| e.seq),
        source_head: report.head,
        head: written.last().map(|e| e.entry_hash.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_float_repr_forms() {
        for (x, want) in [
            (1e-05, "1e-05"),
            (1.5e16, "1.5e+16"),
            (2.0, "2.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (1e100, "1e+100"),
            (-1.5, "-1.5"),
            (123456789012345678.0, "1.2345678901234568e+17"),
        ] {
            assert_eq!(python_float_repr(x), want, "{x:e}");
        }
    }

    #[test]
    fn dumps_sorts_escapes_and_spaces() {
        let v: Value =
            serde_json::from_str(r#"{"b":[1,2.0,{}],"a":"é\u0001\n\u007f","\ud83d\ude00":1,"\ufb33":null}"#).unwrap();
        let mut out = Vec::new();
        python_dumps(&v, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"a\": \"é\\u0001\\n\u{7f}\", \"b\": [1, 2.0, {}], \"\u{fb33}\": null, \"\u{1F600}\": 1}"
        );
    }
}
