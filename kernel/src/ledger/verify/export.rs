//! The native JSONL export of a verified ledger (`cpctl ledger export`, see the parent module).

use std::io::Write;
use std::ops::ControlFlow;

use serde_json::Value;

use super::{Defect, VerifyReport, verify_store};
use crate::ledger::{LedgerError, LedgerStore, canonical};

/// Errors of [`export_jsonl`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// Reading the ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The ledger does not verify; nothing was written.
    #[error("ledger {ledger} does not verify ({defect}); nothing exported")]
    Broken {
        /// Ledger name.
        ledger: String,
        /// The first bad record.
        defect: Defect,
    },
    /// A verified body could not be decoded while exporting.
    #[error("ledger {ledger}: entry at seq {seq} is not a JSON object")]
    NotAnObject {
        /// Ledger name.
        ledger: String,
        /// Position.
        seq: u64,
    },
    /// Writing the output failed.
    #[error("cannot write the export of ledger {ledger}")]
    Write {
        /// Ledger name.
        ledger: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Verifies `store`, then writes it to `out` as native JSONL (see the module docs). A ledger
/// that does not verify is refused before anything is written. Returns the verification report.
pub fn export_jsonl(store: &dyn LedgerStore, out: &mut dyn Write) -> Result<VerifyReport, ExportError> {
    let report = verify_store(store)?;
    if let Some(defect) = report.first_bad.clone() {
        return Err(ExportError::Broken { ledger: report.ledger, defect });
    }
    let ledger = store.name().to_string();
    let mut failure: Option<ExportError> = None;
    let mut line = Vec::new();
    store.scan_raw(&mut |r| {
        let mut v: Value = match serde_json::from_slice(r.body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                failure = Some(ExportError::NotAnObject { ledger: ledger.clone(), seq: r.position });
                return ControlFlow::Break(());
            }
        };
        if let Value::Object(m) = &mut v {
            m.insert("entry_hash".into(), Value::String(r.entry_hash.to_string()));
        }
        line.clear();
        canonical::write_value(&v, &mut line);
        line.push(b'\n');
        if let Err(source) = out.write_all(&line) {
            failure = Some(ExportError::Write { ledger: ledger.clone(), source });
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })?;
    if let Some(f) = failure {
        return Err(f);
    }
    out.flush().map_err(|source| ExportError::Write { ledger, source })?;
    Ok(report)
}
