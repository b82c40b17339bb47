//! Copying a ledger between backends verbatim: every stored canonical body and `entry_hash`
//! as it is (so `seq`, `id`, `timestamp`, every hash and the Merkle root are unchanged), from a
//! verified source into an empty destination, which is verified afterwards.
//!
//! Owns: the copy loop (bounded batches), the checks before (source verifies, destination
//! empty) and after (destination verifies to the same length and head). Never does: re-seal an
//! entry, copy into a ledger that holds entries, or leave a half-copied ledger unreported.

use super::verify::verify_store;
use super::{ChainHead, LedgerEntry, LedgerError, LedgerStore};

/// Entries written per destination transaction.
const COPY_BATCH: usize = 2_000;

/// A store that can take sealed entries as they are (a copy target).
pub trait SealedSink: LedgerStore {
    /// Appends already-sealed entries verbatim (`body` = the stored canonical bytes) in one
    /// transaction, provided the destination's head is still `expected` (else nothing is
    /// written and the error says so). The entries must continue the chain from `expected`.
    fn append_sealed(&self, expected: Option<&ChainHead>, batch: &[(LedgerEntry, Vec<u8>)]) -> Result<(), LedgerError>;
}

/// Checks that `batch` continues the chain after `head` (dense `seq`, linked hashes).
pub(crate) fn check_continues(
    name: &str,
    head: Option<&ChainHead>,
    batch: &[(LedgerEntry, Vec<u8>)],
) -> Result<(), LedgerError> {
    let (mut seq, mut prev) = match head {
        Some(h) => (h.seq + 1, h.entry_hash.clone()),
        None => (0, super::GENESIS_PREVIOUS_HASH.to_string()),
    };
    for (e, _) in batch {
        if e.seq != seq || e.previous_hash != prev {
            return Err(LedgerError::Corrupt {
                ledger: name.to_string(),
                seq: e.seq,
                message: format!("sealed entry does not continue the chain at seq {seq}"),
            });
        }
        prev = e.entry_hash.clone();
        seq += 1;
    }
    Ok(())
}

/// What a copy did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    /// Ledger name.
    pub ledger: String,
    /// Entries copied (= entries in both stores).
    pub entries: u64,
    /// `entry_hash` of the last entry, the same on both sides.
    pub head: Option<String>,
}

/// Copies every entry of `from` into the empty `to`, verbatim, then verifies `to`.
pub fn copy_ledger(from: &dyn LedgerStore, to: &dyn SealedSink) -> Result<CopyReport, LedgerError> {
    let name = from.name().to_string();
    let refuse = |m: String| LedgerError::Aborted(format!("copy of {name}: {m}"));
    let src = verify_store(from)?;
    if let Some(d) = &src.first_bad {
        return Err(refuse(format!("the source does not verify: {d}")));
    }
    if !to.is_empty()? {
        return Err(refuse(format!(
            "the destination already holds {} entries; copy only into an empty ledger",
            to.len()?
        )));
    }
    let mut head: Option<ChainHead> = None;
    let mut batch: Vec<(LedgerEntry, Vec<u8>)> = Vec::with_capacity(COPY_BATCH);
    let mut failed: Option<LedgerError> = None;
    from.scan_raw(&mut |r| {
        let step = super::sqlite::decode_entry(&name, r.position, r.body, r.entry_hash).and_then(|e| {
            batch.push((e, r.body.to_vec()));
            if batch.len() < COPY_BATCH {
                return Ok(());
            }
            flush(to, &mut head, &mut batch)
        });
        match step {
            Ok(()) => std::ops::ControlFlow::Continue(()),
            Err(e) => {
                failed = Some(e);
                std::ops::ControlFlow::Break(())
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    flush(to, &mut head, &mut batch)?;
    let dst = verify_store(to)?;
    if let Some(d) = &dst.first_bad {
        return Err(refuse(format!("the destination does not verify after the copy: {d}")));
    }
    if dst.entries != src.entries || dst.head != src.head {
        return Err(refuse(format!(
            "the destination holds {} entries (head {:?}) but the source {} (head {:?})",
            dst.entries, dst.head, src.entries, src.head
        )));
    }
    Ok(CopyReport { ledger: name, entries: src.entries, head: src.head })
}

fn flush(
    to: &dyn SealedSink,
    head: &mut Option<ChainHead>,
    batch: &mut Vec<(LedgerEntry, Vec<u8>)>,
) -> Result<(), LedgerError> {
    let Some((last, _)) = batch.last() else { return Ok(()) };
    let next = ChainHead { seq: last.seq, entry_hash: last.entry_hash.clone() };
    to.append_sealed(head.as_ref(), batch)?;
    *head = Some(next);
    batch.clear();
    Ok(())
}
