//! Index columns: the values a backend stores beside the hashed body so that queries can filter
//! without decoding every entry (SQLite columns, the JSONL in-memory index, the in-memory
//! store's decoded entries), and the check that they equal the hashed body.
//!
//! Owns: the list of checked columns ([`COLUMNS`]), their stored form ([`ColumnValue`],
//! [`ColumnRow`]), reading the same fields from a body ([`BodyFields`]) and comparing the two
//! ([`check_columns`]). Never does: trust a column it did not compare — every column a query
//! filters on (`event_type`, `timestamp`, every provenance field) is in [`COLUMNS`]; `seq` is
//! the record's position, checked by verification itself; `entry_hash` is re-computed.
//!
//! The check is backend-independent: a backend hands each record's columns to verification in
//! [`super::RawRecord::columns`], verification extracts the same fields from the hashed body
//! and [`check_columns`] reports the first column that differs (verification then reports a
//! [`super::verify::DefectKind::ColumnMismatch`] with the `seq` and the column name).

use std::borrow::Cow;

use serde::Deserialize;

use super::{LedgerEntry, Provenance};

/// Number of checked columns.
pub const N_COLUMNS: usize = 16;

/// The columns compared with the hashed body, in [`ColumnRow`] order: `id`, `timestamp`,
/// `schema_version`, `event_type`, the provenance fields, `previous_hash`.
pub const COLUMNS: [&str; N_COLUMNS] = {
    let head = ["id", "timestamp", "schema_version", "event_type"];
    let mut out = [""; N_COLUMNS];
    let mut i = 0;
    while i < head.len() {
        out[i] = head[i];
        i += 1;
    }
    let mut j = 0;
    while j < Provenance::FIELDS.len() {
        out[head.len() + j] = Provenance::FIELDS[j];
        j += 1;
    }
    out[N_COLUMNS - 1] = "previous_hash";
    out
};

/// One stored column value as the backend holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnValue<'a> {
    /// No value (SQL `NULL`, an absent member).
    Null,
    /// A text value.
    Text(&'a str),
    /// A value that is not text (an integer, a blob, invalid UTF-8): what it is.
    NotText(&'static str),
}

impl std::fmt::Display for ColumnValue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Null => f.write_str("absent"),
            Self::Text(t) => write!(f, "{:?}", bounded(t)),
            Self::NotText(what) => f.write_str(what),
        }
    }
}

/// Characters of a column value shown in a message; longer values are cut (the message is
/// printed and may be logged, so it never carries unbounded stored input).
const SHOWN_CHARS: usize = 80;

/// `t` cut to [`SHOWN_CHARS`] characters (`Debug` then escapes control characters).
fn bounded(t: &str) -> Cow<'_, str> {
    match t.char_indices().nth(SHOWN_CHARS) {
        None => Cow::Borrowed(t),
        Some((i, _)) => Cow::Owned(format!("{}…({} bytes)", &t[..i], t.len())),
    }
}

/// The stored columns of one record, in [`COLUMNS`] order.
pub type ColumnRow<'a> = [ColumnValue<'a>; N_COLUMNS];

fn opt(v: &Option<String>) -> ColumnValue<'_> {
    v.as_deref().map_or(ColumnValue::Null, ColumnValue::Text)
}

/// The columns of a decoded entry (what the in-memory store filters on).
pub(crate) fn columns_of_entry(e: &LedgerEntry) -> ColumnRow<'_> {
    [
        ColumnValue::Text(&e.id),
        ColumnValue::Text(&e.timestamp),
        ColumnValue::Text(&e.schema_version),
        ColumnValue::Text(&e.event_type),
        opt(&e.tenant_id),
        opt(&e.agent_id),
        opt(&e.agent_class),
        opt(&e.framework_id),
        opt(&e.package_id),
        opt(&e.work_order_id),
        opt(&e.session_id),
        opt(&e.trace_id),
        opt(&e.span_id),
        opt(&e.parent_event_id),
        opt(&e.tier),
        ColumnValue::Text(&e.previous_hash),
    ]
}

/// The fields of a hashed body that verification reads: `seq` and the [`COLUMNS`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BodyFields<'a> {
    /// `seq`.
    pub(crate) seq: u64,
    /// Values in [`COLUMNS`] order (`None` = absent).
    pub(crate) values: [Option<Cow<'a, str>>; N_COLUMNS],
}

impl<'a> BodyFields<'a> {
    /// `previous_hash` (empty when absent).
    pub(crate) fn previous_hash(&self) -> &str {
        self.values[N_COLUMNS - 1].as_deref().unwrap_or("")
    }

    /// Decodes the fields from a body (or a whole JSONL line: other members are ignored). A
    /// member named twice, a missing `seq`/`previous_hash` or a non-string column is an error.
    pub(crate) fn parse(body: &'a [u8]) -> Result<Self, String> {
        if let Some(f) = fast::fields(body) {
            return Ok(f);
        }
        let s: SerdeFields<'a> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
        let previous_hash = s.previous_hash.ok_or("missing field `previous_hash`")?;
        Ok(Self {
            seq: s.seq.ok_or("missing field `seq`")?,
            values: [
                s.id,
                s.timestamp,
                s.schema_version,
                s.event_type,
                s.tenant_id,
                s.agent_id,
                s.agent_class,
                s.framework_id,
                s.package_id,
                s.work_order_id,
                s.session_id,
                s.trace_id,
                s.span_id,
                s.parent_event_id,
                s.tier,
                Some(previous_hash),
            ],
        })
    }
}

/// The serde fallback of [`BodyFields::parse`] (escaped strings, whitespace, exponents).
#[derive(Deserialize)]
struct SerdeFields<'a> {
    seq: Option<u64>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    schema_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    tenant_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    agent_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    agent_class: Option<Cow<'a, str>>,
    #[serde(borrow)]
    framework_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    package_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    work_order_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    trace_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    span_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    parent_event_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    tier: Option<Cow<'a, str>>,
    #[serde(borrow)]
    previous_hash: Option<Cow<'a, str>>,
}

/// A stored column that differs from the hashed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnMismatch {
    /// The column (one of [`COLUMNS`]).
    pub(crate) column: &'static str,
    /// What the store holds, for the message.
    pub(crate) stored: String,
    /// What the hashed body says, for the message.
    pub(crate) hashed: String,
}

impl std::fmt::Display for ColumnMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stored column {} is {} but the hashed entry says {}; queries filtering on it would \
             return a different answer",
            self.column, self.stored, self.hashed
        )
    }
}

/// The first column of `stored` that differs from `body`, if any.
pub(crate) fn check_columns(stored: &ColumnRow<'_>, body: &BodyFields<'_>) -> Option<ColumnMismatch> {
    for (i, (s, b)) in stored.iter().zip(body.values.iter()).enumerate() {
        let same = match (s, b) {
            (ColumnValue::Null, None) => true,
            (ColumnValue::Text(t), Some(v)) => *t == v.as_ref(),
            _ => false,
        };
        if !same {
            let hashed = b.as_deref().map_or_else(|| "absent".to_string(), |v| ColumnValue::Text(v).to_string());
            return Some(ColumnMismatch { column: COLUMNS[i], stored: s.to_string(), hashed });
        }
    }
    None
}

/// Owned [`ColumnValue`] (for [`super::verify::OwnedRecord`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedColumn {
    /// No value.
    Null,
    /// A text value.
    Text(String),
    /// Not text: what it is.
    NotText(&'static str),
}

impl OwnedColumn {
    /// Owns a stored value.
    pub fn of(v: &ColumnValue<'_>) -> Self {
        match v {
            ColumnValue::Null => Self::Null,
            ColumnValue::Text(t) => Self::Text((*t).to_string()),
            ColumnValue::NotText(w) => Self::NotText(w),
        }
    }

    /// Borrows it back.
    pub fn as_value(&self) -> ColumnValue<'_> {
        match self {
            Self::Null => ColumnValue::Null,
            Self::Text(t) => ColumnValue::Text(t),
            Self::NotText(w) => ColumnValue::NotText(w),
        }
    }
}

#[cfg(test)]
pub(crate) use fast::fields as fast_fields;

/// The fast path of [`BodyFields::parse`]: strict JSON without whitespace, escapes or
/// exponents, scanned once without building anything (the common form of a canonical body).
mod fast {
    use std::borrow::Cow;

    use super::{BodyFields, COLUMNS};
    use crate::ledger::scan::Scan;

    /// `None` means "not that form" (the caller decodes with serde, which gives the same answer
    /// when this one answers — checked by a property test).
    pub(crate) fn fields(b: &[u8]) -> Option<BodyFields<'_>> {
        std::str::from_utf8(b).ok()?;
        let mut s = Scan::new(b);
        if s.next()? != b'{' {
            return None;
        }
        let mut out = BodyFields::default();
        let mut seq = None;
        if s.peek()? == b'}' {
            s.skip(1);
        } else {
            loop {
                let key = s.string()?;
                if s.next()? != b':' {
                    return None;
                }
                if key == b"seq" {
                    if seq.is_some() {
                        return None;
                    }
                    seq = Some(s.uint()?);
                } else if let Some(i) = COLUMNS.iter().position(|c| c.as_bytes() == key) {
                    if out.values[i].is_some() {
                        return None;
                    }
                    out.values[i] = Some(Cow::Borrowed(std::str::from_utf8(s.string()?).ok()?));
                } else {
                    s.value(1)?;
                }
                match s.next()? {
                    b',' => {}
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        if !s.at_end() {
            return None;
        }
        out.seq = seq?;
        out.values[super::N_COLUMNS - 1].as_ref()?;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{GENESIS_PREVIOUS_HASH, NewEntry, Provenance};
    use proptest::prelude::*;

    fn sealed(tenant: Option<String>, reason: String) -> (LedgerEntry, Vec<u8>) {
        let n = NewEntry::new("EV")
            .reason(reason)
            .provenance(Provenance { tenant_id: tenant, ..Default::default() })
            .meta("k", serde_json::json!({"tenant_id": "x", "seq": 1}));
        LedgerEntry::seal(n, 7, "id-1".into(), "2026-01-01T00:00:00Z".into(), GENESIS_PREVIOUS_HASH.into())
    }

    #[test]
    fn entry_columns_match_its_body_and_a_changed_column_is_named() {
        let (e, body) = sealed(Some("acme".into()), "r".into());
        let f = BodyFields::parse(&body).unwrap();
        assert_eq!(f.seq, 7);
        assert_eq!(check_columns(&columns_of_entry(&e), &f), None);
        let mut row = columns_of_entry(&e);
        row[4] = ColumnValue::Text("victim");
        let m = check_columns(&row, &f).unwrap();
        assert_eq!((m.column, m.stored.as_str(), m.hashed.as_str()), ("tenant_id", "\"victim\"", "\"acme\""));
        row[4] = ColumnValue::Null;
        assert_eq!(check_columns(&row, &f).unwrap().stored, "absent");
        let mut row = columns_of_entry(&e);
        row[10] = ColumnValue::Text("s");
        assert_eq!(check_columns(&row, &f).unwrap().hashed, "absent");
    }

    #[test]
    fn duplicate_members_are_refused_by_both_paths() {
        let body = br#"{"previous_hash":"a","seq":1,"tenant_id":"a","tenant_id":"b"}"#;
        assert!(BodyFields::parse(body).is_err());
        let spaced = br#"{"previous_hash":"a", "seq":1, "tenant_id":"a", "tenant_id":"b"}"#;
        assert!(BodyFields::parse(spaced).is_err());
    }

    proptest! {
        #[test]
        fn fast_path_agrees_with_serde(tenant in proptest::option::of("[\\PC\"\\\\\u{1}]{0,8}"), reason in "[\\PC\"]{0,8}") {
            let (_, body) = sealed(tenant, reason);
            let slow: SerdeFields<'_> = serde_json::from_slice(&body).unwrap();
            let f = BodyFields::parse(&body).unwrap();
            prop_assert_eq!(f.values[4].as_deref(), slow.tenant_id.as_deref());
            prop_assert_eq!(f.values[3].as_deref(), slow.event_type.as_deref());
            prop_assert_eq!(Some(f.seq), slow.seq);
            if let Some(fast) = fast::fields(&body) {
                prop_assert_eq!(fast, f);
            }
        }
    }
}
