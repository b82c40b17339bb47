//! JSONL ledger backend. PROVISIONAL skeleton: one `serde_json` line per entry, exclusive
//! `File::lock` around read-head + append, fsync per commit in `full` mode. The ledger work
//! replaces the internals; the type name and constructor stay.

use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::memory::{run_query, seal_all};
use super::{ChainHead, LedgerEntry, LedgerError, LedgerQuery, LedgerStore, RawRecord, TxnFn, TxnView};
use crate::fsx;
use crate::plane::Durability;

/// A ledger stored as one JSON object per line.
#[derive(Debug)]
pub struct JsonlStore {
    name: String,
    path: PathBuf,
    durability: Durability,
}

impl JsonlStore {
    /// Opens (creating) the ledger file at `path`.
    pub fn open(path: &Path, name: &str, durability: Durability) -> Result<Self, LedgerError> {
        let mut o = std::fs::OpenOptions::new();
        o.create(true).append(true);
        fsx::open_with(path, &o)?;
        Ok(Self { name: name.to_string(), path: path.to_path_buf(), durability })
    }

    fn read_all(&self) -> Result<Vec<LedgerEntry>, LedgerError> {
        let f = fsx::open(&self.path)?;
        let mut out = Vec::new();
        for (i, line) in BufReader::new(f).lines().enumerate() {
            let line = line.map_err(|e| fsx::FsError::new("read", &self.path, e))?;
            let e: LedgerEntry = serde_json::from_str(&line).map_err(|e| LedgerError::Corrupt {
                ledger: self.name.clone(),
                seq: i as u64,
                message: e.to_string(),
            })?;
            out.push(e);
        }
        Ok(out)
    }
}

struct View(Vec<LedgerEntry>);

impl TxnView for View {
    fn head(&self) -> Option<ChainHead> {
        self.0.last().map(|e| ChainHead { seq: e.seq, entry_hash: e.entry_hash.clone() })
    }
    fn query(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, LedgerError> {
        Ok(run_query(self.0.iter(), q))
    }
}

impl LedgerStore for JsonlStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn transact(&self, f: &mut TxnFn<'_>) -> Result<Vec<LedgerEntry>, LedgerError> {
        let mut o = std::fs::OpenOptions::new();
        o.read(true).append(true);
        let mut file = fsx::open_with(&self.path, &o)?;
        file.lock().map_err(|source| LedgerError::Lock { path: self.path.clone(), source })?;
        let view = View(self.read_all()?);
        let new = f(&view)?;
        let sealed = seal_all(view.head(), new)?;
        let mut buf = Vec::new();
        for (e, _) in &sealed {
            buf.extend(serde_json::to_vec(e).map_err(|e| LedgerError::InvalidEntry(e.to_string()))?);
            buf.push(b'\n');
        }
        let io = |e| fsx::FsError::new("append to", &self.path, e);
        file.seek(SeekFrom::End(0)).map_err(io)?;
        file.write_all(&buf).map_err(io)?;
        if self.durability == Durability::Full {
            file.sync_data().map_err(io)?;
        }
        Ok(sealed.into_iter().map(|(e, _)| e).collect())
    }

    fn head(&self) -> Result<Option<ChainHead>, LedgerError> {
        Ok(View(self.read_all()?).head())
    }

    fn get(&self, seq: u64) -> Result<Option<LedgerEntry>, LedgerError> {
        Ok(self.read_all()?.into_iter().nth(seq as usize))
    }

    fn query(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, LedgerError> {
        Ok(run_query(self.read_all()?.iter(), q))
    }

    fn scan_raw(&self, f: &mut dyn FnMut(RawRecord<'_>) -> ControlFlow<()>) -> Result<(), LedgerError> {
        for (i, e) in self.read_all()?.iter().enumerate() {
            let body = e.canonical_body();
            if f(RawRecord { position: i as u64, body: &body, entry_hash: &e.entry_hash, defect: None }).is_break() {
                break;
            }
        }
        Ok(())
    }
}
