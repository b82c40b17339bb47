//! The stored line of a JSONL entry: the canonical JSON of the whole entry, split into the hashed
//! body and the `entry_hash` (and joined back).

use super::HASH_KEY;
use crate::ledger::LedgerEntry;

/// Splits a stored line into (canonical body without `entry_hash`, `entry_hash`): removes the
/// top-level `"entry_hash":"<64 hex>",` member. In canonical JSON only the string members
/// `agent_class`, `agent_id` and `decision` sort before it, and an unescaped `"` preceded by
/// `{` or `,` cannot occur inside a string, so the first such occurrence is the top-level key.
pub(crate) fn split_line(line: &[u8]) -> Result<(Vec<u8>, &str), &'static str> {
    if line.first() != Some(&b'{') || line.last() != Some(&b'}') {
        return Err("line is not a JSON object");
    }
    let mut from = 0;
    let p = loop {
        let Some(i) = find(&line[from..], HASH_KEY) else { return Err("line has no entry_hash member") };
        let p = from + i;
        if p > 0 && matches!(line[p - 1], b'{' | b',') {
            break p;
        }
        from = p + 1;
    };
    let hs = p + HASH_KEY.len();
    let he = hs + 64;
    if line.len() < he + 2 || line[he] != b'"' {
        return Err("entry_hash is not 64 characters");
    }
    let hash = std::str::from_utf8(&line[hs..he]).map_err(|_| "entry_hash is not UTF-8")?;
    if !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("entry_hash is not hex");
    }
    let mut body = Vec::with_capacity(line.len() - (he + 1 - p));
    match line[he + 1] {
        b',' => {
            body.extend_from_slice(&line[..p]);
            body.extend_from_slice(&line[he + 2..]);
        }
        b'}' if line[p - 1] == b',' => {
            body.extend_from_slice(&line[..p - 1]);
            body.extend_from_slice(&line[he + 1..]);
        }
        b'}' => {
            body.extend_from_slice(&line[..p]);
            body.extend_from_slice(&line[he + 1..]);
        }
        _ => return Err("malformed entry_hash member"),
    }
    Ok((body, hash))
}

/// The stored line of a sealed entry: its canonical `body` with the `entry_hash` member
/// inserted where canonical key order puts it.
pub(crate) fn line_of(e: &LedgerEntry, body: &[u8]) -> Vec<u8> {
    insert_hash(body, &e.entry_hash)
        .unwrap_or_else(|| crate::ledger::canonical::to_vec(&serde_json::to_value(e).unwrap_or_default()))
}

/// `body` (canonical JSON of an entry without `entry_hash`) with the `"entry_hash":"…",`
/// member inserted just before `event_type`, the member every entry has and that follows
/// `entry_hash` in canonical key order. `None` when `body` has no top-level `event_type`.
pub(crate) fn insert_hash(body: &[u8], hash: &str) -> Option<Vec<u8>> {
    const ET: &[u8] = b"\"event_type\":";
    let mut from = 0;
    let at = loop {
        match find(&body[from..], ET) {
            Some(i) if from + i > 0 && matches!(body[from + i - 1], b'{' | b',') => break from + i,
            Some(i) => from += i + 1,
            None => return None,
        }
    };
    let mut out = Vec::with_capacity(body.len() + 80);
    out.extend_from_slice(&body[..at]);
    out.extend_from_slice(HASH_KEY);
    out.extend_from_slice(hash.as_bytes());
    out.extend_from_slice(b"\",");
    out.extend_from_slice(&body[at..]);
    Some(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{NewEntry, Provenance, canonical};

    #[test]
    fn line_is_canonical_json_of_the_whole_entry_and_splits_back_to_the_hashed_body() {
        let new = NewEntry::new("X")
            .decision("ALLOW")
            .meta("k", serde_json::json!({"entry_hash": "x", "event_type": "\",\"event_type\":"}))
            .provenance(Provenance {
                agent_id: Some("a\"b".into()),
                agent_class: Some("C".into()),
                ..Default::default()
            });
        let (e, body) = LedgerEntry::seal(new, 3, "id".into(), "t".into(), "0".repeat(64));
        let line = line_of(&e, &body);
        assert_eq!(line, canonical::to_vec(&serde_json::to_value(&e).unwrap()));
        let (b, h) = split_line(&line).unwrap();
        assert_eq!(b, body);
        assert_eq!(h, e.entry_hash);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn line_and_split_round_trip(
            et in "[A-Z_]{1,12}",
            decision in proptest::option::of(".{0,12}"),
            agent in proptest::option::of(".{0,12}"),
            key in ".{0,8}",
            val in ".{0,24}",
        ) {
            let p = Provenance { agent_id: agent, ..Provenance::default() };
            let mut new = NewEntry::new(et).meta(key, val).provenance(p);
            new.decision = decision;
            let (e, body) = LedgerEntry::seal(new, 0, "id".into(), "t".into(), "0".repeat(64));
            let line = line_of(&e, &body);
            proptest::prop_assert_eq!(&line, &canonical::to_vec(&serde_json::to_value(&e).unwrap()));
            let (b, h) = split_line(&line).unwrap();
            proptest::prop_assert_eq!(b, body);
            proptest::prop_assert_eq!(h, e.entry_hash.as_str());
            let back: LedgerEntry = serde_json::from_slice(&line).unwrap();
            proptest::prop_assert_eq!(back, e);
        }
    }

    #[test]
    fn split_line_reports_junk() {
        assert!(split_line(b"garbage").is_err());
        assert!(split_line(b"{\"a\":1}").is_err());
        assert!(split_line(b"{\"entry_hash\":\"abc\",\"x\":1}").is_err());
    }
}
