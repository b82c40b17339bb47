//! Control Plane v2 (Python) ledgers: fixtures written by `tests/fixtures/cp2/generate.py`.

use std::path::{Path, PathBuf};

use cp_kernel::{DefectKind, LedgerStore, MemoryStore, canonical, cp2, cp2::Cp2Error, verify_store};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cp2").join(name)
}

fn verify_bytes(data: &[u8]) -> cp_kernel::VerifyReport {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("l.jsonl");
    std::fs::write(&p, data).unwrap();
    cp2::verify_file(&p).unwrap()
}

fn file_lines(name: &str) -> Vec<Vec<u8>> {
    std::fs::read(fixture(name)).unwrap().split_inclusive(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
}

#[test]
fn python_written_ledgers_verify() {
    for name in ["ledger_ascii.jsonl", "ledger_raw.jsonl"] {
        let r = cp2::verify_file(&fixture(name)).unwrap();
        assert!(r.ok, "{name}: {r:?}");
        assert_eq!((r.entries, r.verified), (5, 5));
        // The fixture really contains what it claims to test.
        let text = std::fs::read_to_string(fixture(name)).unwrap();
        assert!(text.contains("1e-05") && text.contains("0.30000000000000004") && text.contains("1.5e+16"));
    }
    let raw = std::fs::read_to_string(fixture("ledger_raw.jsonl")).unwrap();
    assert!(raw.contains("東京 🚀") && raw.contains("\\u0001"));
}

/// The significant digits of a decimal number text (`-1.50e-07` → `15`).
fn significant_digits(s: &str) -> String {
    let mantissa = s.split(['e', 'E']).next().unwrap_or_default();
    let d: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let d = d.trim_start_matches('0').trim_end_matches('0');
    if d.is_empty() { "0".into() } else { d.into() }
}

#[test]
fn float_repr_matches_python() {
    let table: Vec<(String, String)> =
        serde_json::from_str(&std::fs::read_to_string(fixture("float_repr.json")).unwrap()).unwrap();
    assert!(table.len() > 500);
    for (bits, want) in table {
        let x = f64::from_bits(u64::from_str_radix(&bits, 16).unwrap());
        assert_eq!(cp2::python_float_repr(x), want, "bits {bits}");
        // Python's repr and ECMAScript pick the same digits (shortest, closest, ties to
        // even): cross-check the JCS number form against Python's dtoa.
        let jcs = String::from_utf8(canonical::to_vec(&serde_json::json!(x))).unwrap();
        assert_eq!(significant_digits(&jcs), significant_digits(&want), "bits {bits}: {jcs} vs {want}");
    }
}

#[test]
fn dumps_matches_python() {
    let table: Vec<(Value, String)> =
        serde_json::from_str(&std::fs::read_to_string(fixture("dumps_samples.json")).unwrap()).unwrap();
    for (v, want) in table {
        let mut out = Vec::new();
        cp2::python_dumps(&v, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }
}

#[test]
fn every_byte_flip_of_a_line_is_reported_at_that_line() {
    let lines = file_lines("ledger_raw.jsonl");
    for k in [0usize, 2, 4] {
        for i in 0..lines[k].len() {
            let mut l = lines.clone();
            l[k][i] ^= 0x01;
            let r = verify_bytes(&l.concat());
            // Python hashes values, not bytes: a flip that leaves the decoded entry equal
            // (`…04` → `…05` in a float that rounds to the same double) is no change.
            let same_value = serde_json::from_slice::<Value>(l[k].trim_ascii_end()).ok()
                == serde_json::from_slice::<Value>(lines[k].trim_ascii_end()).ok()
                && l[k].ends_with(b"\n");
            if same_value {
                assert!(r.ok, "line {k} byte {i}: equal value reported as {r:?}");
                continue;
            }
            let d = r.first_bad.unwrap_or_else(|| panic!("line {k} byte {i} not detected"));
            assert_eq!(d.seq, k as u64, "line {k} byte {i}: {d:?}");
        }
    }
}

#[test]
fn deleted_swapped_junk_and_torn_lines() {
    let lines = file_lines("ledger_ascii.jsonl");
    let first = |data: Vec<u8>| {
        let d = verify_bytes(&data).first_bad.unwrap();
        (d.seq, d.kind)
    };
    assert_eq!(first(lines[1..].concat()), (0, DefectKind::LinkBroken));
    let mut l = lines.clone();
    l.remove(2);
    assert_eq!(first(l.concat()), (2, DefectKind::LinkBroken));
    let mut l = lines.clone();
    l.swap(1, 2);
    assert_eq!(first(l.concat()), (1, DefectKind::LinkBroken));
    let mut l = lines.clone();
    l.insert(3, b"not json\n".to_vec());
    assert_eq!(first(l.concat()), (3, DefectKind::JunkLine));
    let mut l = lines.clone();
    l.insert(3, b"\n".to_vec());
    assert_eq!(first(l.concat()), (3, DefectKind::JunkLine));
    let mut data = lines.concat();
    data.truncate(data.len() - 20);
    assert_eq!(first(data), (4, DefectKind::TornLine));
}

#[test]
fn import_keeps_fields_and_original_hashes() {
    let store = MemoryStore::new("HOT/imported");
    let rep = cp2::import(&fixture("ledger_raw.jsonl"), &store).unwrap();
    assert_eq!((rep.imported, rep.first_seq, rep.last_seq), (5, Some(0), Some(4)));
    assert!(verify_store(&store).unwrap().ok);
    let originals: Vec<Value> = std::fs::read_to_string(fixture("ledger_raw.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (i, o) in originals.iter().enumerate() {
        let e = store.get(i as u64).unwrap().unwrap();
        assert_eq!(e.event_type, o["event_type"].as_str().unwrap());
        assert_eq!(e.reason.as_deref(), o["reason"].as_str());
        assert_eq!(e.decision.as_deref(), o["decision"].as_str());
        assert_eq!(e.submission_id.as_deref(), o["submission_id"].as_str());
        let cp2 = &e.metadata["cp2"];
        for k in ["id", "timestamp", "previous_hash", "entry_hash", "prompts_used"] {
            assert_eq!(cp2[k], o[k], "entry {i} field {k}");
        }
        let mut meta = e.metadata.clone();
        meta.remove("cp2");
        assert_eq!(Value::Object(meta), o["metadata"]);
    }
    assert_eq!(rep.source_head.as_deref(), originals[4]["entry_hash"].as_str());
}

#[test]
fn import_refuses_a_broken_file_and_writes_nothing() {
    let lines = file_lines("ledger_ascii.jsonl");
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("broken.jsonl");
    std::fs::write(&p, lines[1..].concat()).unwrap();
    let store = MemoryStore::new("HOT/imported");
    let err = cp2::import(&p, &store).unwrap_err();
    assert!(matches!(err, Cp2Error::Broken { .. }), "{err}");
    assert_eq!(store.len().unwrap(), 0);
}
