use serde_json::Value;

use super::*;
use crate::ledger::scan::find_special;
use crate::ledger::{MemoryStore, NewEntry, canonical, compute_entry_hash};

fn ledger(n: usize) -> Vec<OwnedRecord> {
    let s = MemoryStore::new("T/t");
    s.append_batch((0..n).map(|i| NewEntry::new("E").reason(format!("r{i}"))).collect()).unwrap();
    stored_records(&s).unwrap()
}

/// Rewrites a field of record `i`'s body and re-seals its hash (a forger's edit).
fn forge(recs: &mut [OwnedRecord], i: usize, field: &str, value: Value) {
    let mut v: Value = serde_json::from_slice(&recs[i].body).unwrap();
    v[field] = value;
    recs[i].body = canonical::to_vec(&v);
    recs[i].entry_hash = compute_entry_hash(&recs[i].body);
}

#[test]
fn clean_ledger_verifies() {
    let recs = ledger(5);
    let head = recs[4].entry_hash.clone();
    let r = verify_records("T/t", recs);
    assert!(r.ok, "{r:?}");
    assert_eq!((r.entries, r.verified, r.head.clone()), (5, 5, Some(head)));
    assert_eq!(r.summary(), "T/t: OK 5 entries");
    let empty = verify_records("T/t", Vec::new());
    assert!(empty.ok && empty.head.is_none());
}

#[test]
fn forged_genesis_link_is_reported_at_seq_0() {
    let mut recs = ledger(3);
    forge(&mut recs, 0, "previous_hash", Value::String("1".repeat(64)));
    let r = verify_records("T/t", recs);
    let d = r.first_bad.unwrap();
    assert_eq!((d.seq, d.kind), (0, DefectKind::LinkBroken));
    assert!(!r.ok);
}

#[test]
fn forged_middle_entry_breaks_the_next_link() {
    let mut recs = ledger(4);
    forge(&mut recs, 2, "reason", Value::String("changed".into()));
    let d = verify_records("T/t", recs).first_bad.unwrap();
    assert_eq!((d.seq, d.kind), (3, DefectKind::LinkBroken));
}

#[test]
fn malformed_hash_and_backend_defects() {
    let mut recs = ledger(3);
    recs[1].entry_hash = recs[1].entry_hash.to_uppercase();
    let d = verify_records("T/t", recs).first_bad.unwrap();
    assert_eq!((d.seq, d.kind), (1, DefectKind::ContentChanged));

    let mut recs = ledger(3);
    recs[2].defect = Some((RecordFault::Torn, "last line (no newline)".into()));
    let d = verify_records("T/t", recs).first_bad.unwrap();
    assert_eq!((d.seq, d.kind), (2, DefectKind::TornLine));

    let mut recs = ledger(3);
    recs[1].defect = Some((RecordFault::Junk, "EOF while parsing: not json".into()));
    let d = verify_records("T/t", recs).first_bad.unwrap();
    assert_eq!((d.seq, d.kind), (1, DefectKind::JunkLine));
}

#[test]
fn body_without_seq_is_malformed() {
    let mut recs = ledger(2);
    recs[1].body = br#"{"hello":1}"#.to_vec();
    recs[1].entry_hash = compute_entry_hash(&recs[1].body);
    let d = verify_records("T/t", recs).first_bad.unwrap();
    assert_eq!((d.seq, d.kind), (1, DefectKind::Malformed));
}

#[test]
fn parallel_chunks_report_the_exact_first_bad_seq() {
    // Enough records for several chunks and worker threads.
    let mut recs = ledger(CHUNK_RECORDS + 1500);
    let k = CHUNK_RECORDS + 17;
    recs[k].body[10] ^= 1;
    recs[k + 100].body[10] ^= 1;
    let r = verify_records("T/t", recs);
    let d = r.first_bad.unwrap();
    assert_eq!((d.seq, d.kind), (k as u64, DefectKind::ContentChanged));
    assert_eq!(r.verified, k as u64);
    assert_eq!(r.entries, (CHUNK_RECORDS + 1500) as u64);
}

#[test]
fn export_writes_canonical_lines_that_reverify() {
    let s = MemoryStore::new("T/t");
    s.append_batch((0..3).map(|i| NewEntry::new("E").meta("x", i)).collect()).unwrap();
    let mut out = Vec::new();
    let r = export_jsonl(&s, &mut out).unwrap();
    assert!(r.ok);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    for (i, l) in lines.iter().enumerate() {
        let mut v: Value = serde_json::from_str(l).unwrap();
        assert_eq!(canonical::to_vec(&v), l.as_bytes());
        let h = v.as_object_mut().unwrap().remove("entry_hash").unwrap();
        assert_eq!(h, Value::String(compute_entry_hash(&canonical::to_vec(&v))));
        assert_eq!(v["seq"], Value::from(i));
    }
}

fn serde_head(b: &[u8]) -> Option<(u64, String)> {
    serde_json::from_slice::<BodyHead<'_>>(b).ok().map(|h| (h.seq, h.previous_hash.into_owned()))
}

#[test]
fn fast_head_takes_the_common_form() {
    for r in ledger(3) {
        assert!(fast_head(&r.body).is_some(), "{}", String::from_utf8_lossy(&r.body));
    }
    assert_eq!(fast_head(br#"{"a":[1,-2.5,{"b":null}],"previous_hash":"x","seq":7}"#), Some((7, "x")));
    for refused in [
        &br#"{"seq":1,"seq":2,"previous_hash":"x"}"#[..],
        br#"{"seq":01,"previous_hash":"x"}"#,
        br#"{"seq":1.0,"previous_hash":"x"}"#,
        br#"{"seq":1,"previous_hash":"x\"y"}"#,
        br#"{"seq":1,"previous_hash":"x","a":1e5}"#,
        br#"{"seq":1,"previous_hash":"x"} "#,
        br#"{"seq":1,"previous_hash":"x","a":[1,]}"#,
        br#"{"seq":18446744073709551616,"previous_hash":"x"}"#,
    ] {
        assert_eq!(fast_head(refused), None, "{}", String::from_utf8_lossy(refused));
    }
}

mod fast_head_props {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| json!(i)),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
            "[a-z\"\\\\\u{1}é😀]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z]{1,3}|seq|previous_hash", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn arb_body() -> impl Strategy<Value = Vec<u8>> {
        (arb_json(), any::<Option<u64>>(), any::<Option<String>>(), any::<bool>()).prop_map(
            |(extra, seq, prev, jcs)| {
                let mut m = serde_json::Map::new();
                m.insert("metadata".into(), extra);
                if let Some(s) = seq {
                    m.insert("seq".into(), json!(s));
                }
                if let Some(p) = prev {
                    m.insert("previous_hash".into(), json!(p));
                }
                let v = Value::Object(m);
                if jcs { canonical::to_vec(&v) } else { serde_json::to_vec(&v).unwrap() }
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whenever the fast path answers, serde gives the same answer — also after any
        /// single-byte change.
        #[test]
        fn fast_path_agrees_with_serde(body in arb_body(), at in any::<prop::sample::Index>(), x in any::<u8>()) {
            let mut bodies = vec![body.clone()];
            if !body.is_empty() {
                let mut b = body;
                let i = at.index(b.len());
                b[i] ^= x;
                bodies.push(b);
            }
            for b in bodies {
                if let Some((seq, prev)) = fast_head(&b) {
                    prop_assert_eq!(serde_head(&b), Some((seq, prev.to_string())), "{}", String::from_utf8_lossy(&b));
                }
            }
        }
    }
}

proptest::proptest! {
    #[test]
    fn find_special_matches_a_byte_loop(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
        let naive = b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
        proptest::prop_assert_eq!(find_special(&b), naive);
    }
}

/// A read-only store serving given raw records (for tampering through `verify_store`).
struct VecStore(Vec<OwnedRecord>);

impl LedgerStore for VecStore {
    fn name(&self) -> &str {
        "T/vec"
    }
    fn transact(&self, _f: &mut crate::ledger::TxnFn<'_>) -> Result<Vec<crate::ledger::LedgerEntry>, LedgerError> {
        Err(LedgerError::InvalidEntry("read-only".into()))
    }
    fn head(&self) -> Result<Option<crate::ledger::ChainHead>, LedgerError> {
        Err(LedgerError::InvalidEntry("no head".into()))
    }
    fn get(&self, _seq: u64) -> Result<Option<crate::ledger::LedgerEntry>, LedgerError> {
        Ok(None)
    }
    fn query(&self, _q: &crate::ledger::LedgerQuery) -> Result<Vec<crate::ledger::LedgerEntry>, LedgerError> {
        Ok(Vec::new())
    }
    fn scan_raw(&self, f: &mut dyn FnMut(RawRecord<'_>) -> ControlFlow<()>) -> Result<(), LedgerError> {
        for r in &self.0 {
            if f(view(r)).is_break() {
                break;
            }
        }
        Ok(())
    }
}

#[test]
fn verify_store_over_several_chunks_reports_the_exact_seq() {
    let n = 2 * CHUNK_RECORDS + 300;
    let clean = ledger(n);
    assert!(verify_store(&VecStore(clean.clone())).unwrap().ok);
    for k in [0, CHUNK_RECORDS - 1, CHUNK_RECORDS, 2 * CHUNK_RECORDS + 1, n - 1] {
        let mut t = clean.clone();
        t[k].body[3] ^= 0x20;
        let r = verify_store(&VecStore(t)).unwrap();
        let d = r.first_bad.unwrap();
        assert_eq!((d.seq, d.kind, r.verified, r.entries), (k as u64, DefectKind::ContentChanged, k as u64, n as u64));
    }
    let mut t = clean.clone();
    t.remove(CHUNK_RECORDS);
    let d = verify_store(&VecStore(t)).unwrap().first_bad.unwrap();
    assert_eq!((d.seq, d.kind), (CHUNK_RECORDS as u64, DefectKind::SeqGap));
}
