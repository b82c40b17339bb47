//! Verification finds every tampering and reports the exact first bad `seq`.

use cp_kernel::{
    Checkpoint, DefectKind, Durability, JsonlStore, KeyPairFile, LedgerStore, MemoryStore, NewEntry, OwnedRecord,
    merkle, stored_records, verify_against_checkpoint, verify_records, verify_records_against_checkpoint, verify_store,
};
use proptest::prelude::*;
use serde_json::json;

fn build(reasons: &[String]) -> Vec<OwnedRecord> {
    let s = MemoryStore::new("HOT/governance");
    s.append_batch(
        reasons
            .iter()
            .enumerate()
            .map(|(i, r)| NewEntry::new("EVENT").reason(r.clone()).meta("i", i).meta("f", i as f64 / 3.0))
            .collect(),
    )
    .unwrap();
    stored_records(&s).unwrap()
}

fn first_bad(recs: Vec<OwnedRecord>) -> (u64, DefectKind) {
    let r = verify_records("HOT/governance", recs);
    assert!(!r.ok);
    let d = r.first_bad.expect("a defect");
    (d.seq, d.kind)
}

/// Renumbers positions as a line-based store (JSONL) would after an edit.
fn renumber(mut recs: Vec<OwnedRecord>) -> Vec<OwnedRecord> {
    for (i, r) in recs.iter_mut().enumerate() {
        r.position = i as u64;
    }
    recs
}

#[test]
fn every_single_byte_change_of_a_small_ledger() {
    let recs = build(&["a".into(), "é€😀\u{1}".into(), "c".into()]);
    assert!(verify_records("HOT/governance", recs.clone()).ok);
    for k in 0..recs.len() {
        for i in 0..recs[k].body.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut t = recs.clone();
                t[k].body[i] ^= x;
                assert_eq!(first_bad(t), (k as u64, DefectKind::ContentChanged), "body {k} byte {i} ^ {x:#x}");
            }
        }
        for i in 0..recs[k].entry_hash.len() {
            let mut t = recs.clone();
            let mut h = t[k].entry_hash.clone().into_bytes();
            h[i] ^= 0x01;
            t[k].entry_hash = String::from_utf8_lossy(&h).into_owned();
            assert_eq!(first_bad(t), (k as u64, DefectKind::ContentChanged), "hash {k} byte {i}");
        }
    }
}

fn reasons() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(any::<String>(), 2..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn single_byte_change(rs in reasons(), k in any::<prop::sample::Index>(), i in any::<prop::sample::Index>(),
                          x in 1u8..=255, in_hash in any::<bool>()) {
        let mut recs = build(&rs);
        let k = k.index(recs.len());
        if in_hash {
            let mut h = recs[k].entry_hash.clone().into_bytes();
            let i = i.index(h.len());
            h[i] ^= x;
            recs[k].entry_hash = String::from_utf8_lossy(&h).into_owned();
        } else {
            let i = i.index(recs[k].body.len());
            recs[k].body[i] ^= x;
        }
        prop_assert_eq!(first_bad(recs), (k as u64, DefectKind::ContentChanged));
    }

    #[test]
    fn deleted_entry_including_the_first(rs in reasons(), k in any::<prop::sample::Index>(), line_based in any::<bool>()) {
        let mut recs = build(&rs);
        // Deleting the last entry leaves a consistent chain: that is the checkpoint's job.
        let k = k.index(recs.len() - 1);
        recs.remove(k);
        let recs = if line_based { renumber(recs) } else { recs };
        prop_assert_eq!(first_bad(recs), (k as u64, DefectKind::SeqGap));
    }

    #[test]
    fn swapped_pair(rs in reasons(), k in any::<prop::sample::Index>(), line_based in any::<bool>()) {
        let mut recs = build(&rs);
        let k = k.index(recs.len() - 1);
        recs.swap(k, k + 1);
        let recs = if line_based { renumber(recs) } else { recs };
        prop_assert_eq!(first_bad(recs), (k as u64, DefectKind::SeqGap));
    }

    #[test]
    fn duplicated_entry(rs in reasons(), k in any::<prop::sample::Index>(), line_based in any::<bool>()) {
        let mut recs = build(&rs);
        let k = k.index(recs.len());
        let dup = recs[k].clone();
        recs.insert(k + 1, dup);
        let recs = if line_based { renumber(recs) } else { recs };
        prop_assert_eq!(first_bad(recs), (k as u64 + 1, DefectKind::SeqGap));
    }

    #[test]
    fn truncated_tail_against_a_checkpoint(rs in reasons(), m in any::<prop::sample::Index>()) {
        let recs = build(&rs);
        let key = KeyPairFile::from_seed(&[9u8; 32]);
        let leaves: Vec<merkle::Hash> = recs.iter().map(|r| merkle::leaf_hash(&r.body)).collect();
        let cp = Checkpoint::sign("HOT/governance", recs.len() as u64, &merkle::root(&leaves), &key).unwrap();
        let full = verify_records_against_checkpoint(recs.clone(), &cp, &key.public()).unwrap();
        prop_assert!(full.ok, "{:?}", full);
        let m = m.index(recs.len());
        let cut: Vec<OwnedRecord> = recs[..m].to_vec();
        // Without the checkpoint the shorter chain is consistent…
        prop_assert!(verify_records("HOT/governance", cut.clone()).ok);
        // …with it, the first missing seq is reported.
        let r = verify_records_against_checkpoint(cut, &cp, &key.public()).unwrap();
        let d = r.first_bad.unwrap();
        prop_assert_eq!((d.seq, d.kind), (m as u64, DefectKind::Truncated));
    }
}

// ---- a real JSONL file on disk ----------------------------------------------------------

struct OnDisk {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

const N: usize = 6;

fn jsonl_ledger() -> (OnDisk, JsonlStore) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("governance.jsonl");
    let store = JsonlStore::open(&path, "HOT/governance", Durability::Full).unwrap();
    for i in 0..N {
        store.append(NewEntry::new("EVENT").reason(format!("reason-{i}-xyz")).meta("n", json!({"i": i}))).unwrap();
    }
    assert!(verify_store(&store).unwrap().ok);
    (OnDisk { _dir: dir, path }, store)
}

fn lines(p: &std::path::Path) -> Vec<Vec<u8>> {
    std::fs::read(p).unwrap().split_inclusive(|b| *b == b'\n').map(<[u8]>::to_vec).collect()
}

fn reopen(d: &OnDisk) -> JsonlStore {
    JsonlStore::open(&d.path, "HOT/governance", Durability::Full).unwrap()
}

fn disk_first_bad(d: &OnDisk) -> (u64, DefectKind) {
    let r = verify_store(&reopen(d)).unwrap();
    let bad = r.first_bad.clone().unwrap_or_else(|| panic!("not detected: {r:?}"));
    (bad.seq, bad.kind)
}

#[test]
fn jsonl_file_changed_byte() {
    let (d, _s) = jsonl_ledger();
    let mut l = lines(&d.path);
    let line = &mut l[3];
    let at = line.windows(8).position(|w| w == b"reason-3").unwrap() + 7;
    line[at] = b'4';
    std::fs::write(&d.path, l.concat()).unwrap();
    assert_eq!(disk_first_bad(&d), (3, DefectKind::ContentChanged));
}

#[test]
fn jsonl_file_junk_line() {
    let (d, _s) = jsonl_ledger();
    let mut l = lines(&d.path);
    l.insert(2, b"this is not an entry\n".to_vec());
    std::fs::write(&d.path, l.concat()).unwrap();
    assert_eq!(disk_first_bad(&d), (2, DefectKind::JunkLine));
}

#[test]
fn jsonl_file_torn_last_line() {
    let (d, _s) = jsonl_ledger();
    let mut data = std::fs::read(&d.path).unwrap();
    data.truncate(data.len() - 15);
    std::fs::write(&d.path, data).unwrap();
    let (seq, kind) = disk_first_bad(&d);
    assert_eq!(seq, N as u64 - 1);
    assert!(matches!(kind, DefectKind::TornLine | DefectKind::JunkLine), "{kind:?}");
}

#[test]
fn jsonl_file_cut_last_line_needs_the_checkpoint() {
    let (d, s) = jsonl_ledger();
    let key = KeyPairFile::from_seed(&[5u8; 32]);
    let cp = Checkpoint::create(&s, &key).unwrap();
    let l = lines(&d.path);
    std::fs::write(&d.path, l[..N - 1].concat()).unwrap();
    let store = reopen(&d);
    assert!(verify_store(&store).unwrap().ok);
    let r = verify_against_checkpoint(&store, &cp, &key.public()).unwrap();
    let bad = r.first_bad.unwrap();
    assert_eq!((bad.seq, bad.kind), (N as u64 - 1, DefectKind::Truncated));
}

#[test]
fn jsonl_file_deleted_first_line() {
    let (d, _s) = jsonl_ledger();
    let l = lines(&d.path);
    std::fs::write(&d.path, l[1..].concat()).unwrap();
    assert_eq!(disk_first_bad(&d), (0, DefectKind::SeqGap));
}
