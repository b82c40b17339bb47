//! JSONL ledger backend: one file per ledger, one entry per line.
//!
//! Owns: the line format, the multi-process append protocol, the in-memory indexes that answer
//! queries, and the removal of a torn last line ([`JsonlStore::repair_torn_tail`]). Never does:
//! rewrite or delete a complete line, or append after a torn or junk last line.
//!
//! On-disk format: each line is the RFC 8785 canonical JSON ([`super::canonical::to_vec`]) of
//! the whole entry including `entry_hash`, terminated by `\n` (`jq`- and `tail -f`-friendly).
//! Because canonical JSON sorts keys, removing the top-level `"entry_hash":"<64 hex>",`
//! member from a line yields exactly the canonical bytes that were hashed; [`JsonlStore`]'s
//! `scan_raw` hands those bytes out per line.
//!
//! Appends: an exclusive advisory lock ([`std::fs::File::lock`]) on the file is held around
//! "read the head + write the new lines", so appends from several processes form one chain.
//! Each store caches the file length, the head, an offset per line and indexes of
//! `event_type` and every provenance field; under the lock it reads only the bytes appended
//! since its cached length (by other processes). Reads take a shared lock while catching up.
//!
//! Durability ([`Durability`]):
//! * `full` — `sync_data` after every commit: an append that returned `Ok` survives a process
//!   crash and a power loss / OS crash.
//! * `normal` — no fsync: an append that returned `Ok` is in the OS page cache and survives a
//!   process crash; a power loss / OS crash may lose the last commits or leave a torn last line,
//!   which is reported (never silently skipped) and can be removed with
//!   `cpctl ledger repair --truncate-torn-tail`.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::columns::{BodyFields, ColumnRow, ColumnValue, N_COLUMNS};
use super::memory::seal_all;
use super::store::RecordFault;
use super::{
    ChainHead, LedgerEntry, LedgerError, LedgerQuery, LedgerStore, NewEntry, Order, Provenance, RawRecord, TxnFn,
    TxnView, event,
};
use crate::fsx;
use crate::plane::Durability;

/// Indexed fields: `event_type` then the provenance fields in [`Provenance::FIELDS`] order.
mod line;

pub(crate) use line::{insert_hash, line_of, split_line};

const N_INDEXED: usize = 1 + Provenance::FIELDS.len();

const HASH_KEY: &[u8] = b"\"entry_hash\":\"";

/// Bytes read per `pread` while catching up with the file.
const READ_CHUNK: u64 = 8 << 20;

/// A ledger stored as one canonical JSON object per line.
#[derive(Debug)]
pub struct JsonlStore {
    name: String,
    path: PathBuf,
    durability: Durability,
    state: Mutex<State>,
}

/// What [`JsonlStore::repair_torn_tail`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairReport {
    /// Ledger name.
    pub ledger: String,
    /// Whether a torn last line was found and removed.
    pub repaired: bool,
    /// Byte offset where the removed line started.
    pub offset: u64,
    /// Number of bytes removed.
    pub removed_bytes: u64,
    /// Hex SHA-256 of the removed bytes.
    pub removed_sha256: String,
    /// `seq` of the `LEDGER_REPAIRED` entry recorded, when repaired.
    pub repair_seq: Option<u64>,
}

#[derive(Debug)]
struct Line {
    offset: u64,
    /// Length without the `\n`.
    len: u32,
    seq: Option<u64>,
    timestamp: Option<Box<str>>,
}

#[derive(Debug)]
struct State {
    file: File,
    /// Bytes covered by `lines` (end of the last complete line).
    len: u64,
    lines: Vec<Line>,
    /// Bytes after `len` without a trailing `\n`: (offset, length).
    torn: Option<(u64, u64)>,
    head: Option<ChainHead>,
    /// (seq, line index), ascending.
    seqs: Vec<(u64, u32)>,
    /// Per indexed field: value → line indices, ascending.
    index: Vec<HashMap<String, Vec<u32>>>,
    /// Bytes of the last complete line (with its `\n`), to detect a rewritten file.
    last_line: Vec<u8>,
}

impl State {
    fn new(file: File) -> Self {
        Self {
            file,
            len: 0,
            lines: Vec::new(),
            torn: None,
            head: None,
            seqs: Vec::new(),
            index: (0..N_INDEXED).map(|_| HashMap::new()).collect(),
            last_line: Vec::new(),
        }
    }

    fn reset(&mut self) {
        self.len = 0;
        self.lines.clear();
        self.torn = None;
        self.head = None;
        self.seqs.clear();
        self.index.iter_mut().for_each(HashMap::clear);
        self.last_line.clear();
    }

    /// Whether the last complete line is not an entry.
    fn last_line_is_junk(&self) -> bool {
        self.lines.last().is_some_and(|l| l.seq.is_none())
    }

    fn push_line(&mut self, offset: u64, len: usize, e: Option<&LedgerEntry>) {
        let li = self.lines.len() as u32;
        let mut line = Line { offset, len: len as u32, seq: None, timestamp: None };
        if let Some(e) = e {
            line.seq = Some(e.seq);
            line.timestamp = Some(e.timestamp.as_str().into());
            self.index[0].entry(e.event_type.clone()).or_default().push(li);
            let p = e.provenance();
            for (i, f) in Provenance::FIELDS.iter().enumerate() {
                if let Some(v) = p.get(f) {
                    self.index[i + 1].entry(v.to_string()).or_default().push(li);
                }
            }
            if self.seqs.last().is_none_or(|&(s, _)| s < e.seq) {
                self.seqs.push((e.seq, li));
            } else {
                let pos = self.seqs.partition_point(|&(s, _)| s < e.seq);
                self.seqs.insert(pos, (e.seq, li));
            }
            self.head = Some(ChainHead { seq: e.seq, entry_hash: e.entry_hash.clone() });
        }
        self.lines.push(line);
    }

    fn read_line(&self, path: &Path, li: u32) -> Result<Vec<u8>, LedgerError> {
        let l = &self.lines[li as usize];
        let mut buf = vec![0u8; l.len as usize];
        self.file.read_exact_at(&mut buf, l.offset).map_err(|e| fsx::FsError::new("read", path, e))?;
        Ok(buf)
    }

    /// Brings the cache up to date with the file (the caller holds the file lock).
    fn refresh(&mut self, path: &Path) -> Result<(), LedgerError> {
        let size = self.file.metadata().map_err(|e| fsx::FsError::new("stat", path, e))?.len();
        let known = self.len + self.torn.map_or(0, |t| t.1);
        if size == known {
            return Ok(());
        }
        if size < self.len || !self.last_line_unchanged(path)? {
            // Our complete lines are no longer there as we indexed them: re-index the file.
            self.reset();
        }
        // Read what was appended in chunks, indexing complete lines as they arrive.
        let mut buf: Vec<u8> = Vec::new();
        let mut pos = self.len;
        while pos < size {
            let n = (size - pos).min(READ_CHUNK) as usize;
            let old = buf.len();
            buf.resize(old + n, 0);
            self.file.read_exact_at(&mut buf[old..], pos).map_err(|e| fsx::FsError::new("read", path, e))?;
            pos += n as u64;
            let mut start = 0usize;
            let mut last_start = None;
            while let Some(nl) = memchr(b'\n', &buf[start..]) {
                let line = &buf[start..start + nl];
                let e: Option<LedgerEntry> = serde_json::from_slice(line).ok();
                self.push_line(self.len + start as u64, nl, e.as_ref());
                last_start = Some(start);
                start += nl + 1;
            }
            if let Some(ls) = last_start {
                self.last_line = buf[ls..start].to_vec();
            }
            buf.drain(..start);
            self.len += start as u64;
        }
        self.torn = (!buf.is_empty()).then_some((self.len, buf.len() as u64));
        Ok(())
    }

    fn last_line_unchanged(&self, path: &Path) -> Result<bool, LedgerError> {
        let Some(l) = self.lines.last() else { return Ok(true) };
        let mut b = vec![0u8; self.last_line.len()];
        match self.file.read_exact_at(&mut b, l.offset) {
            Ok(()) => Ok(b == self.last_line),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(fsx::FsError::new("read", path, e).into()),
        }
    }

    fn query(&self, path: &Path, name: &str, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, LedgerError> {
        let mut lists: Vec<Vec<u32>> = Vec::new();
        if !q.event_types.is_empty() {
            let mut u: Vec<u32> =
                q.event_types.iter().filter_map(|t| self.index[0].get(t)).flatten().copied().collect();
            u.sort_unstable();
            u.dedup();
            lists.push(u);
        }
        for (i, f) in Provenance::FIELDS.iter().enumerate() {
            if let Some(v) = q.provenance.get(f) {
                lists.push(self.index[i + 1].get(v).cloned().unwrap_or_default());
            }
        }
        let candidates: Box<dyn DoubleEndedIterator<Item = u32>> = if lists.is_empty() {
            match q.after_seq {
                // Start right after `after_seq` through the seq index.
                Some(a) => {
                    let from = self.seqs.partition_point(|&(s, _)| s <= a);
                    let mut v: Vec<u32> = self.seqs[from..].iter().map(|&(_, li)| li).collect();
                    v.sort_unstable();
                    Box::new(v.into_iter())
                }
                None => Box::new(0..self.lines.len() as u32),
            }
        } else {
            lists.sort_by_key(Vec::len);
            let mut acc = lists.swap_remove(0);
            for l in &lists {
                acc.retain(|x| l.binary_search(x).is_ok());
            }
            Box::new(acc.into_iter())
        };
        let it: Box<dyn Iterator<Item = u32>> = match q.order {
            Order::Asc => candidates,
            Order::Desc => Box::new(candidates.rev()),
        };
        let limit = q.limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        for li in it {
            if out.len() >= limit {
                break;
            }
            let l = &self.lines[li as usize];
            let (Some(seq), Some(ts)) = (l.seq, l.timestamp.as_deref()) else { continue };
            if q.after_seq.is_some_and(|a| seq <= a)
                || q.since.as_deref().is_some_and(|s| ts < s)
                || q.until.as_deref().is_some_and(|u| ts >= u)
            {
                continue;
            }
            let e = parse_entry(name, li, &self.read_line(path, li)?)?;
            if q.matches(&e) {
                out.push(e);
            }
        }
        Ok(out)
    }
}

/// The index values of a line, as [`ColumnRow`] (absent members are `Null`).
fn line_columns<'a>(f: &'a BodyFields<'_>) -> ColumnRow<'a> {
    f.values.each_ref().map(|v| v.as_deref().map_or(ColumnValue::Null, ColumnValue::Text))
}

fn memchr(b: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|&x| x == b)
}

fn parse_entry(name: &str, li: u32, line: &[u8]) -> Result<LedgerEntry, LedgerError> {
    serde_json::from_slice(line).map_err(|e| LedgerError::Corrupt {
        ledger: name.to_string(),
        seq: u64::from(li),
        message: format!("line {}: {e}", u64::from(li) + 1),
    })
}

/// Holds an advisory lock on the ledger file until dropped.
struct FileLock<'a>(&'a File);

impl<'a> FileLock<'a> {
    fn exclusive(f: &'a File, path: &Path) -> Result<Self, LedgerError> {
        f.lock().map_err(|source| LedgerError::Lock { path: path.to_path_buf(), source })?;
        Ok(Self(f))
    }
    fn shared(f: &'a File, path: &Path) -> Result<Self, LedgerError> {
        f.lock_shared().map_err(|source| LedgerError::Lock { path: path.to_path_buf(), source })?;
        Ok(Self(f))
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

struct View<'a> {
    state: &'a State,
    path: &'a Path,
    name: &'a str,
}

impl TxnView for View<'_> {
    fn head(&self) -> Option<ChainHead> {
        self.state.head.clone()
    }
    fn query(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, LedgerError> {
        self.state.query(self.path, self.name, q)
    }
}

impl JsonlStore {
    /// Opens (creating) the ledger file at `path` and indexes it.
    pub fn open(path: &Path, name: &str, durability: Durability) -> Result<Self, LedgerError> {
        let existed = path.exists();
        let mut o = std::fs::OpenOptions::new();
        o.create(true).read(true).append(true);
        let file = fsx::open_with(path, &o)?;
        if !existed
            && durability == Durability::Full
            && let Some(dir) = path.parent()
        {
            fsx::sync_dir(if dir.as_os_str().is_empty() { Path::new(".") } else { dir })?;
        }
        let store =
            Self { name: name.to_string(), path: path.to_path_buf(), durability, state: Mutex::new(State::new(file)) };
        store.with_state(false, |_, _| Ok(()))?;
        Ok(store)
    }

    /// The ledger file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the up-to-date cache under the file lock (exclusive when `write`).
    fn with_state<T>(
        &self,
        write: bool,
        f: impl FnOnce(&mut State, &Self) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let file = g.file.try_clone().map_err(|e| fsx::FsError::new("reopen", &self.path, e))?;
        let _lock = if write { FileLock::exclusive(&file, &self.path)? } else { FileLock::shared(&file, &self.path)? };
        g.refresh(&self.path)?;
        f(&mut g, self)
    }

    fn refuse_if_torn(&self, st: &State) -> Result<(), LedgerError> {
        let hint = format!(
            "appends are refused until it is removed with `cpctl ledger repair --ledger {} --truncate-torn-tail`",
            self.name
        );
        if let Some((off, len)) = st.torn {
            return Err(LedgerError::Corrupt {
                ledger: self.name.clone(),
                seq: st.lines.len() as u64,
                message: format!("torn last line at byte {off} ({len} bytes without a trailing newline); {hint}"),
            });
        }
        if st.last_line_is_junk() {
            return Err(LedgerError::Corrupt {
                ledger: self.name.clone(),
                seq: st.lines.len() as u64 - 1,
                message: format!("last line is not a ledger entry; {hint}"),
            });
        }
        Ok(())
    }

    fn append_locked(&self, st: &mut State, f: &mut TxnFn<'_>) -> Result<Vec<LedgerEntry>, LedgerError> {
        self.refuse_if_torn(st)?;
        let new = f(&View { state: st, path: &self.path, name: &self.name })?;
        let sealed = seal_all(st.head.clone(), new)?;
        if sealed.is_empty() {
            return Ok(Vec::new());
        }
        let mut buf = Vec::new();
        let mut spans = Vec::with_capacity(sealed.len());
        for (e, body) in &sealed {
            let start = buf.len();
            buf.extend(line_of(e, body));
            spans.push((start, buf.len() - start));
            buf.push(b'\n');
        }
        let io = |e| fsx::FsError::new("append to", &self.path, e);
        (&st.file).write_all(&buf).map_err(io)?;
        if self.durability == Durability::Full {
            st.file.sync_data().map_err(io)?;
        }
        let base = st.len;
        let mut last_start = 0;
        for ((e, _), (start, len)) in sealed.iter().zip(spans) {
            st.push_line(base + start as u64, len, Some(e));
            last_start = start;
        }
        st.last_line = buf[last_start..].to_vec();
        st.len = base + buf.len() as u64;
        Ok(sealed.into_iter().map(|(e, _)| e).collect())
    }

    /// Removes a torn last line (bytes without a trailing `\n`, or a last line that is not
    /// JSON) and records a `LEDGER_REPAIRED` entry with the removed byte count, the SHA-256 of
    /// the removed bytes and their offset. Complete entries are never touched. When the tail
    /// is not torn nothing changes and the report says `repaired: false`.
    pub fn repair_torn_tail(&self) -> Result<RepairReport, LedgerError> {
        self.with_state(true, |st, this| {
            let (offset, end) = if let Some((off, len)) = st.torn {
                (off, off + len)
            } else if let Some(last) = st.lines.last()
                && last.seq.is_none()
                && serde_json::from_slice::<serde_json::Value>(&st.read_line(&this.path, st.lines.len() as u32 - 1)?)
                    .is_err()
            {
                (last.offset, st.len)
            } else {
                return Ok(RepairReport {
                    ledger: this.name.clone(),
                    repaired: false,
                    offset: st.len,
                    removed_bytes: 0,
                    removed_sha256: String::new(),
                    repair_seq: None,
                });
            };
            let mut removed = vec![0u8; (end - offset) as usize];
            st.file.read_exact_at(&mut removed, offset).map_err(|e| fsx::FsError::new("read", &this.path, e))?;
            let sha = const_hex::encode(Sha256::digest(&removed));
            let io = |e| fsx::FsError::new("truncate", &this.path, e);
            st.file.set_len(offset).map_err(io)?;
            st.file.sync_data().map_err(io)?;
            st.reset();
            st.refresh(&this.path)?;
            let entry = NewEntry::new(event::LEDGER_REPAIRED)
                .reason("removed a torn last line")
                .meta("removed_bytes", removed.len() as u64)
                .meta("removed_sha256", sha.clone())
                .meta("offset", offset);
            let mut once = Some(vec![entry]);
            let out = this.append_locked(st, &mut |_| Ok(once.take().unwrap_or_default()))?;
            Ok(RepairReport {
                ledger: this.name.clone(),
                repaired: true,
                offset,
                removed_bytes: removed.len() as u64,
                removed_sha256: sha,
                repair_seq: out.first().map(|e| e.seq),
            })
        })
    }
}

impl LedgerStore for JsonlStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn transact(&self, f: &mut TxnFn<'_>) -> Result<Vec<LedgerEntry>, LedgerError> {
        self.with_state(true, |st, this| this.append_locked(st, f))
    }

    fn head(&self) -> Result<Option<ChainHead>, LedgerError> {
        self.with_state(false, |st, _| Ok(st.head.clone()))
    }

    fn get(&self, seq: u64) -> Result<Option<LedgerEntry>, LedgerError> {
        self.with_state(false, |st, this| match st.seqs.binary_search_by_key(&seq, |&(s, _)| s) {
            Ok(i) => {
                let li = st.seqs[i].1;
                Ok(Some(parse_entry(&this.name, li, &st.read_line(&this.path, li)?)?))
            }
            Err(_) => Ok(None),
        })
    }

    fn query(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, LedgerError> {
        self.with_state(false, |st, this| st.query(&this.path, &this.name, q))
    }

    fn scan_raw(&self, f: &mut dyn FnMut(RawRecord<'_>) -> ControlFlow<()>) -> Result<(), LedgerError> {
        let g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let file = g.file.try_clone().map_err(|e| fsx::FsError::new("reopen", &self.path, e))?;
        drop(g);
        let _lock = FileLock::shared(&file, &self.path)?;
        let reader = fsx::open(&self.path)?;
        let mut r = BufReader::with_capacity(1 << 20, reader);
        let mut line = Vec::new();
        let mut position = 0u64;
        loop {
            line.clear();
            let n = r.read_until(b'\n', &mut line).map_err(|e| fsx::FsError::new("read", &self.path, e))?;
            if n == 0 {
                break;
            }
            let flow = if line.last() != Some(&b'\n') {
                f(RawRecord {
                    position,
                    body: &line,
                    entry_hash: "",
                    defect: Some((RecordFault::Torn, "torn last line: no trailing newline")),
                    columns: None,
                })
            } else {
                let l = &line[..line.len() - 1];
                match split_line(l) {
                    Ok((body, hash)) => {
                        // The index is built from the whole line: its members are the columns.
                        let fields = BodyFields::parse(l);
                        let columns = Some(match &fields {
                            Ok(fl) => line_columns(fl),
                            Err(_) => [ColumnValue::NotText("a line the index cannot read"); N_COLUMNS],
                        });
                        f(RawRecord { position, body: &body, entry_hash: hash, defect: None, columns })
                    }
                    Err(defect) => f(RawRecord {
                        position,
                        body: l,
                        entry_hash: "",
                        defect: Some((RecordFault::Junk, defect)),
                        columns: None,
                    }),
                }
            };
            if flow.is_break() {
                break;
            }
            position += 1;
        }
        Ok(())
    }
}
