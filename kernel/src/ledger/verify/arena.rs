//! The chunk buffer of [`super::verify_store`]: records copied into one buffer so the scan
//! callback can return while hashing runs in parallel.

use super::{CHUNK_RECORDS, OwnedRecord};
use crate::ledger::RawRecord;
use crate::ledger::RecordFault;
use crate::ledger::columns::{ColumnValue, N_COLUMNS};

/// Records of one chunk copied into one buffer (one copy per record, no allocation per
/// record), so the scan callback can return while hashing runs in parallel.
pub(super) struct Arena {
    data: Vec<u8>,
    recs: Vec<ArenaRecord>,
}

/// Position, body range, hash range, defect and columns of one record in an [`Arena`].
type ArenaRecord = (
    u64,
    std::ops::Range<usize>,
    std::ops::Range<usize>,
    Option<(RecordFault, String)>,
    Option<[ArenaColumn; N_COLUMNS]>,
);

/// A column value of an [`Arena`] record: text is a range of the arena's bytes.
#[derive(Clone)]
enum ArenaColumn {
    Null,
    Text(std::ops::Range<usize>),
    NotText(&'static str),
}

impl Arena {
    pub(super) fn new() -> Self {
        Self { data: Vec::new(), recs: Vec::with_capacity(CHUNK_RECORDS) }
    }

    pub(super) fn push(&mut self, r: &RawRecord<'_>) {
        let b = self.data.len();
        self.data.extend_from_slice(r.body);
        let h = self.data.len();
        self.data.extend_from_slice(r.entry_hash.as_bytes());
        let e = self.data.len();
        let columns = r.columns.map(|row| {
            row.map(|c| match c {
                ColumnValue::Null => ArenaColumn::Null,
                ColumnValue::NotText(w) => ArenaColumn::NotText(w),
                ColumnValue::Text(t) => {
                    let at = self.data.len();
                    self.data.extend_from_slice(t.as_bytes());
                    ArenaColumn::Text(at..self.data.len())
                }
            })
        });
        self.recs.push((r.position, b..h, h..e, r.defect.map(|(f, m)| (f, m.to_string())), columns));
    }

    pub(super) fn len(&self) -> usize {
        self.recs.len()
    }

    pub(super) fn clear(&mut self) {
        self.data.clear();
        self.recs.clear();
    }

    /// Bytes that were a `&str` when pushed: a range of them is valid UTF-8.
    fn text(&self, r: &std::ops::Range<usize>) -> &str {
        std::str::from_utf8(&self.data[r.clone()]).unwrap_or_default()
    }

    pub(super) fn views(&self) -> Vec<RawRecord<'_>> {
        self.recs
            .iter()
            .map(|(position, b, h, defect, columns)| RawRecord {
                position: *position,
                body: &self.data[b.clone()],
                // The bytes were a `&str`; a range of them is valid UTF-8.
                entry_hash: self.text(h),
                defect: defect.as_ref().map(|(f, m)| (*f, m.as_str())),
                columns: columns.as_ref().map(|row| {
                    let mut out = [ColumnValue::Null; N_COLUMNS];
                    for (slot, c) in out.iter_mut().zip(row) {
                        *slot = match c {
                            ArenaColumn::Null => ColumnValue::Null,
                            ArenaColumn::Text(r) => ColumnValue::Text(self.text(r)),
                            ArenaColumn::NotText(w) => ColumnValue::NotText(w),
                        };
                    }
                    out
                }),
            })
            .collect()
    }
}

pub(super) fn view(r: &OwnedRecord) -> RawRecord<'_> {
    let columns = r.columns.as_ref().map(|c| {
        let mut row = [ColumnValue::Null; N_COLUMNS];
        for (slot, v) in row.iter_mut().zip(c) {
            *slot = v.as_value();
        }
        row
    });
    RawRecord {
        position: r.position,
        body: &r.body,
        entry_hash: &r.entry_hash,
        defect: r.defect.as_ref().map(|(f, m)| (*f, m.as_str())),
        columns,
    }
}
