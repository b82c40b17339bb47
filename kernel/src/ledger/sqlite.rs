//! SQLite ledger backend (the default): one database file per ledger.
//!
//! Owns: the table layout, its indexes and append-only triggers, SQL built from a
//! [`LedgerQuery`], and the append transaction. Never does: update or delete a row (triggers
//! refuse both), splice a value into SQL text (every value is a bound parameter).
//!
//! On-disk format: a SQLite database in WAL mode with one table `entries`:
//! `seq INTEGER PRIMARY KEY` (dense, 0-based), `id`, `timestamp`, `schema_version`,
//! `event_type`, one column per provenance field ([`Provenance::FIELDS`]), `previous_hash`,
//! `entry_hash`, and `body BLOB` = the RFC 8785 canonical bytes of the entry without
//! `entry_hash`, exactly as they were hashed. Entries are decoded from `body` plus the stored
//! `entry_hash`; the other columns exist for the indexes.
//!
//! Durability ([`Durability`]):
//! * `full` — `PRAGMA synchronous=FULL`: the WAL is fsynced at every commit, so an append that
//!   returned `Ok` survives a process crash and a power loss / OS crash.
//! * `normal` — `PRAGMA synchronous=NORMAL`: the WAL is fsynced only at checkpoints. An append
//!   that returned `Ok` survives a process crash; after a power loss / OS crash the most recent
//!   commits may be missing, but the database is never corrupted and the chain stays intact
//!   (a lost commit is lost whole).

mod wal;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params_from_iter};
use serde_json::Value;

use super::columns::{COLUMNS, ColumnValue, N_COLUMNS};
use super::memory::seal_all;
use super::store::RecordFault;
use super::{
    ChainHead, LedgerEntry, LedgerError, LedgerQuery, LedgerStore, NewEntry, Order, PreparedEntry, Provenance,
    RawRecord, TxnFn, TxnView,
};
use crate::plane::Durability;

impl SqliteStore {
    /// Provenance columns that carry an index (composite with `seq`, so filtered "most recent
    /// N" reads walk the index in order). The indexes are partial (`WHERE <field> IS NOT NULL`):
    /// a query only ever asks `<field> = ?`, which no NULL satisfies, so rows without the field
    /// cost no index maintenance. `event_type` and `timestamp` are indexed too.
    pub const INDEXED_FIELDS: [&'static str; 8] = [
        "tenant_id",
        "session_id",
        "work_order_id",
        "agent_id",
        "package_id",
        "framework_id",
        "parent_event_id",
        "trace_id",
    ];
}

/// Page cache per connection, in KiB (SQLite's default is 2 000 KiB). The indexes of a large
/// ledger are walked at random positions (one `session_id` row per append); a cache that holds
/// their upper levels turns most of those walks into memory reads. Memory is used only as pages
/// are touched. Tuning of the storage engine, not policy: it changes no result.
pub(crate) const CACHE_KIB: i64 = 32 * 1024;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    schema_version TEXT NOT NULL,
    event_type TEXT NOT NULL,
    tenant_id TEXT, agent_id TEXT, agent_class TEXT, framework_id TEXT, package_id TEXT,
    work_order_id TEXT, session_id TEXT, trace_id TEXT, span_id TEXT, parent_event_id TEXT,
    tier TEXT,
    previous_hash TEXT NOT NULL,
    entry_hash TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS entries_event_type ON entries(event_type, seq);
CREATE INDEX IF NOT EXISTS entries_timestamp ON entries(timestamp);
CREATE INDEX IF NOT EXISTS entries_tenant_id ON entries(tenant_id, seq) WHERE tenant_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_session_id ON entries(session_id, seq) WHERE session_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_work_order_id ON entries(work_order_id, seq) WHERE work_order_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_agent_id ON entries(agent_id, seq) WHERE agent_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_package_id ON entries(package_id, seq) WHERE package_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_framework_id ON entries(framework_id, seq) WHERE framework_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_parent_event_id ON entries(parent_event_id, seq) WHERE parent_event_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS entries_trace_id ON entries(trace_id, seq) WHERE trace_id IS NOT NULL;
CREATE TRIGGER IF NOT EXISTS entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: update refused'); END;
CREATE TRIGGER IF NOT EXISTS entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: delete refused'); END;
";

const INSERT: &str = "INSERT INTO entries (seq, id, timestamp, schema_version, event_type, tenant_id, agent_id, \
    agent_class, framework_id, package_id, work_order_id, session_id, trace_id, span_id, parent_event_id, tier, \
    previous_hash, entry_hash, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
    ?17, ?18, ?19)";

/// Every record in `seq` order with its index columns, in [`COLUMNS`] order.
fn scan_sql() -> String {
    format!("SELECT seq, body, entry_hash, {} FROM entries ORDER BY seq", COLUMNS.join(", "))
}

/// A stored column as verification compares it.
fn column_value(v: ValueRef<'_>) -> ColumnValue<'_> {
    match v {
        ValueRef::Null => ColumnValue::Null,
        ValueRef::Text(t) => {
            std::str::from_utf8(t).map_or(ColumnValue::NotText("text that is not UTF-8"), ColumnValue::Text)
        }
        ValueRef::Integer(_) => ColumnValue::NotText("an integer"),
        ValueRef::Real(_) => ColumnValue::NotText("a real number"),
        ValueRef::Blob(_) => ColumnValue::NotText("a blob"),
    }
}

const HEAD: &str = "SELECT seq, entry_hash FROM entries ORDER BY seq DESC LIMIT 1";

/// A ledger stored in one SQLite database.
pub struct SqliteStore {
    name: String,
    path: PathBuf,
    conn: Mutex<Connection>,
    busy: BusyPolicy,
}

/// How long to wait for another process's lock, and how often to try again.
#[derive(Debug, Clone, Copy)]
struct BusyPolicy {
    /// SQLite's own busy timeout per attempt (and the pause between attempts).
    timeout: Duration,
    /// Further attempts after the first one found the database locked.
    retries: u32,
}

impl BusyPolicy {
    /// Runs `attempt` until it succeeds, fails with something other than "database is locked",
    /// or `retries` further attempts found the database locked too.
    fn run<T>(&self, name: &str, mut attempt: impl FnMut() -> Result<T, LedgerError>) -> Result<T, LedgerError> {
        let mut tries = 0u32;
        loop {
            tries += 1;
            match attempt() {
                Err(LedgerError::Sqlite { source, .. }) if is_busy(&source) => {
                    if tries > self.retries {
                        return Err(LedgerError::Unavailable {
                            ledger: name.to_string(),
                            attempts: tries,
                            wait_ms: self.timeout.as_millis() as u64,
                            source,
                        });
                    }
                    tracing::debug!(ledger = name, attempt = tries, "ledger database locked; retrying");
                    std::thread::sleep(self.timeout);
                }
                other => return other,
            }
        }
    }
}

/// Rolls the open transaction back when dropped before `committed` (an error or a panic in
/// the transaction closure), so the connection is never left inside a transaction.
struct RollbackUnlessCommitted<'a> {
    conn: &'a Connection,
    committed: bool,
}

impl Drop for RollbackUnlessCommitted<'_> {
    fn drop(&mut self) {
        if !self.committed
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::warn!(error = %e, "ledger rollback failed");
        }
    }
}

/// Whether SQLite gave up on a lock held by another connection (`SQLITE_BUSY`, `SQLITE_LOCKED`).
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("name", &self.name).field("path", &self.path).finish()
    }
}

impl SqliteStore {
    /// Opens (creating) the ledger database at `path`: WAL mode, `synchronous` per
    /// `durability`, writers wait up to `busy_timeout` for another process's write lock.
    pub fn open(path: &Path, name: &str, durability: Durability, busy_timeout: Duration) -> Result<Self, LedgerError> {
        Self::open_retrying(path, name, durability, busy_timeout, 0)
    }

    /// [`SqliteStore::open`], and an open or append that still finds the database locked after
    /// `busy_timeout` is tried again up to `retries` times (each after a pause of
    /// `busy_timeout`); then it fails with [`LedgerError::Unavailable`] and nothing is written.
    pub fn open_retrying(
        path: &Path,
        name: &str,
        durability: Durability,
        busy_timeout: Duration,
        retries: u32,
    ) -> Result<Self, LedgerError> {
        let busy = BusyPolicy { timeout: busy_timeout, retries };
        let conn = busy.run(name, || Self::connect(path, name, durability, busy_timeout))?;
        Ok(Self { name: name.to_string(), path: path.to_path_buf(), conn: Mutex::new(conn), busy })
    }

    /// One attempt at opening the database and creating its schema.
    fn connect(
        path: &Path,
        name: &str,
        durability: Durability,
        busy_timeout: Duration,
    ) -> Result<Connection, LedgerError> {
        let err = sql_err(name);
        let conn = Connection::open(path).map_err(&err)?;
        conn.busy_timeout(busy_timeout).map_err(&err)?;
        // journal_mode=WAL is persistent in the file; setting it again is a no-op.
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).map_err(&err)?;
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync).map_err(&err)?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB).map_err(&err)?;
        let mut conn = conn;
        // Checkpoints in the background from here on (replaces the auto-checkpoint).
        wal::install(&mut conn, path, busy_timeout, wal::WalLimits::DEFAULT).map_err(&err)?;
        {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&err)?;
            tx.execute_batch(SCHEMA).map_err(&err)?;
            tx.commit().map_err(&err)?;
        }
        Ok(conn)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The SQL and parameters answering `q` (selecting `seq, body, entry_hash`). Every value
    /// is a bound parameter.
    pub(crate) fn build_query(q: &LedgerQuery) -> (String, Vec<SqlValue>) {
        let mut sql = String::from("SELECT seq, body, entry_hash FROM entries");
        let mut conds: Vec<String> = Vec::new();
        let mut params: Vec<SqlValue> = Vec::new();
        if !q.event_types.is_empty() {
            let marks = vec!["?"; q.event_types.len()].join(", ");
            conds.push(format!("event_type IN ({marks})"));
            params.extend(q.event_types.iter().map(|t| SqlValue::Text(t.clone())));
        }
        for f in Provenance::FIELDS {
            if let Some(v) = q.provenance.get(f) {
                // `f` comes from the fixed list of column names, never from input.
                conds.push(format!("{f} = ?"));
                params.push(SqlValue::Text(v.to_string()));
            }
        }
        if let Some(s) = &q.since {
            conds.push("timestamp >= ?".into());
            params.push(SqlValue::Text(s.clone()));
        }
        if let Some(u) = &q.until {
            conds.push("timestamp < ?".into());
            params.push(SqlValue::Text(u.clone()));
        }
        if let Some(a) = q.after_seq {
            conds.push("seq > ?".into());
            params.push(SqlValue::Integer(i64::try_from(a).unwrap_or(i64::MAX)));
        }
        let other_index = !q.event_types.is_empty()
            || Self::INDEXED_FIELDS.iter().any(|f| q.provenance.get(f).is_some())
            || q.after_seq.is_some();
        if !other_index && (q.since.is_some() || q.until.is_some()) {
            // Without statistics the planner prefers walking `seq` order over a time range;
            // a time filter alone is answered through its index instead.
            sql.push_str(" INDEXED BY entries_timestamp");
        }
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        sql.push_str(match q.order {
            Order::Asc => " ORDER BY seq ASC",
            Order::Desc => " ORDER BY seq DESC",
        });
        if let Some(l) = q.limit {
            sql.push_str(" LIMIT ?");
            params.push(SqlValue::Integer(i64::try_from(l).unwrap_or(i64::MAX)));
        }
        (sql, params)
    }

    /// `EXPLAIN QUERY PLAN` of the SQL that answers `q`, one line per plan row (for tests and
    /// diagnostics).
    pub fn explain_query(&self, q: &LedgerQuery) -> Result<Vec<String>, LedgerError> {
        let (sql, params) = Self::build_query(q);
        let conn = self.lock();
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).map_err(sql_err(&self.name))?;
        let rows = st.query_map(params_from_iter(params), |r| r.get::<_, String>(3)).map_err(sql_err(&self.name))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(sql_err(&self.name))
    }
}

fn sql_err(name: &str) -> impl Fn(rusqlite::Error) -> LedgerError + '_ {
    move |source| LedgerError::Sqlite { ledger: name.to_string(), source }
}

fn read_head(conn: &Connection, name: &str) -> Result<Option<ChainHead>, LedgerError> {
    conn.prepare_cached(HEAD)
        .and_then(|mut st| {
            st.query_row([], |r| Ok(ChainHead { seq: r.get::<_, i64>(0)? as u64, entry_hash: r.get(1)? })).optional()
        })
        .map_err(sql_err(name))
}

/// Decodes an entry from its stored canonical body and `entry_hash`.
pub(crate) fn decode_entry(name: &str, seq: u64, body: &[u8], entry_hash: &str) -> Result<LedgerEntry, LedgerError> {
    let corrupt = |message: String| LedgerError::Corrupt { ledger: name.to_string(), seq, message };
    // Fast path: one parse of the body with the hash spliced in where canonical order puts it.
    if entry_hash.len() == 64
        && entry_hash.bytes().all(|b| b.is_ascii_hexdigit())
        && let Some(full) = super::jsonl::insert_hash(body, entry_hash)
        && let Ok(e) = serde_json::from_slice::<LedgerEntry>(&full)
    {
        return Ok(e);
    }
    let mut v: Value = serde_json::from_slice(body).map_err(|e| corrupt(format!("body is not JSON: {e}")))?;
    match &mut v {
        Value::Object(m) => {
            m.insert("entry_hash".into(), Value::String(entry_hash.to_string()));
        }
        _ => return Err(corrupt("body is not a JSON object".into())),
    }
    serde_json::from_value(v).map_err(|e| corrupt(format!("body is not a ledger entry: {e}")))
}

fn run_select(conn: &Connection, name: &str, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, LedgerError> {
    let (sql, params) = SqliteStore::build_query(q);
    let mut st = conn.prepare_cached(&sql).map_err(sql_err(name))?;
    let mut rows = st.query(params_from_iter(params)).map_err(sql_err(name))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(sql_err(name))? {
        let e = row_entry(name, r)?;
        // The columns chose the row; the hashed body decides (a tampered column can hide an
        // entry from this answer, which verification reports, but never add one).
        if q.matches(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

fn row_entry(name: &str, r: &rusqlite::Row<'_>) -> Result<LedgerEntry, LedgerError> {
    let seq = r.get::<_, i64>(0).map_err(sql_err(name))? as u64;
    let body = r.get_ref(1).map_err(sql_err(name))?;
    let hash = r.get_ref(2).map_err(sql_err(name))?;
    let corrupt = |m: &str| LedgerError::Corrupt { ledger: name.to_string(), seq, message: m.to_string() };
    let body = match body {
        ValueRef::Blob(b) | ValueRef::Text(b) => b,
        _ => return Err(corrupt("body is not a blob")),
    };
    let hash = match hash {
        ValueRef::Text(t) => std::str::from_utf8(t).map_err(|_| corrupt("entry_hash is not UTF-8"))?,
        _ => return Err(corrupt("entry_hash is not text")),
    };
    decode_entry(name, seq, body, hash)
}

/// Inserts sealed entries (inside the caller's transaction).
fn insert_rows(conn: &Connection, name: &str, sealed: &[(LedgerEntry, Vec<u8>)]) -> Result<(), LedgerError> {
    let err = sql_err(name);
    let mut st = conn.prepare_cached(INSERT).map_err(&err)?;
    for (e, body) in sealed {
        // Bound by reference: no copies of the row's strings.
        st.execute(rusqlite::params![
            e.seq as i64,
            e.id,
            e.timestamp,
            e.schema_version,
            e.event_type,
            e.tenant_id,
            e.agent_id,
            e.agent_class,
            e.framework_id,
            e.package_id,
            e.work_order_id,
            e.session_id,
            e.trace_id,
            e.span_id,
            e.parent_event_id,
            e.tier,
            e.previous_hash,
            e.entry_hash,
            body,
        ])
        .map_err(&err)?;
    }
    Ok(())
}

struct View<'a> {
    conn: &'a Connection,
    name: &'a str,
    head: Option<ChainHead>,
}

impl TxnView for View<'_> {
    fn head(&self) -> Option<ChainHead> {
        self.head.clone()
    }
    fn query(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, LedgerError> {
        run_select(self.conn, self.name, q)
    }
}

impl SqliteStore {
    /// One write transaction: takes the write lock, lets `make` see the chain and return the
    /// entries to append, seals them after the head, inserts them and commits (runs `make`
    /// exactly once; an error from it appends nothing).
    fn write<E: Into<PreparedEntry>>(
        &self,
        make: impl FnOnce(&dyn TxnView) -> Result<Vec<E>, LedgerError>,
    ) -> Result<Vec<LedgerEntry>, LedgerError> {
        let err = sql_err(&self.name);
        let conn = self.lock();
        // Only taking the write lock is retried: `make` has not run yet, so nothing is repeated.
        self.busy.run(&self.name, || conn.execute_batch("BEGIN IMMEDIATE").map_err(&err))?;
        let mut guard = RollbackUnlessCommitted { conn: &conn, committed: false };
        let head = read_head(&conn, &self.name)?;
        let new = make(&View { conn: &conn, name: &self.name, head: head.clone() })?;
        let sealed = seal_all(head, new)?;
        insert_rows(&conn, &self.name, &sealed)?;
        conn.execute_batch("COMMIT").map_err(&err)?;
        guard.committed = true;
        Ok(sealed.into_iter().map(|(e, _)| e).collect())
    }
}

impl LedgerStore for SqliteStore {
    fn name(&self) -> &str {
        &self.name
    }

    fn append_batch(&self, entries: Vec<NewEntry>) -> Result<Vec<LedgerEntry>, LedgerError> {
        // Rendered before the write lock is taken, so other writers wait less.
        self.append_prepared(entries.into_iter().map(NewEntry::prepare).collect())
    }

    fn append_prepared(&self, entries: Vec<PreparedEntry>) -> Result<Vec<LedgerEntry>, LedgerError> {
        // The entries are moved into the one transaction: SQLite never runs it twice.
        self.write(|_| Ok(entries))
    }

    fn transact(&self, f: &mut TxnFn<'_>) -> Result<Vec<LedgerEntry>, LedgerError> {
        self.write(|view| f(view))
    }

    fn head(&self) -> Result<Option<ChainHead>, LedgerError> {
        read_head(&self.lock(), &self.name)
    }

    fn get(&self, seq: u64) -> Result<Option<LedgerEntry>, LedgerError> {
        let Ok(s) = i64::try_from(seq) else { return Ok(None) };
        let conn = self.lock();
        let mut st = conn
            .prepare_cached("SELECT seq, body, entry_hash FROM entries WHERE seq = ?1")
            .map_err(sql_err(&self.name))?;
        let mut rows = st.query([s]).map_err(sql_err(&self.name))?;
        match rows.next().map_err(sql_err(&self.name))? {
            Some(r) => Ok(Some(row_entry(&self.name, r)?)),
            None => Ok(None),
        }
    }

    fn query(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, LedgerError> {
        run_select(&self.lock(), &self.name, q)
    }

    fn scan_raw(&self, f: &mut dyn FnMut(RawRecord<'_>) -> ControlFlow<()>) -> Result<(), LedgerError> {
        let err = sql_err(&self.name);
        let conn = self.lock();
        let mut st = conn.prepare_cached(&scan_sql()).map_err(&err)?;
        let mut rows = st.query([]).map_err(&err)?;
        while let Some(r) = rows.next().map_err(&err)? {
            let position = r.get::<_, i64>(0).map_err(&err)? as u64;
            let mut defect = None;
            let body: &[u8] = match r.get_ref(1).map_err(&err)? {
                ValueRef::Blob(b) => b,
                ValueRef::Text(t) => {
                    defect = Some((RecordFault::Junk, "body is stored as text, not a blob"));
                    t
                }
                _ => {
                    defect = Some((RecordFault::Junk, "body is missing or not a blob"));
                    &[]
                }
            };
            let entry_hash = match r.get_ref(2).map_err(&err)? {
                ValueRef::Text(t) => std::str::from_utf8(t).unwrap_or_else(|_| {
                    defect = Some((RecordFault::Junk, "entry_hash is not UTF-8"));
                    ""
                }),
                _ => {
                    defect = Some((RecordFault::Junk, "entry_hash is missing or not text"));
                    ""
                }
            };
            let mut columns = [ColumnValue::Null; N_COLUMNS];
            for (i, slot) in columns.iter_mut().enumerate() {
                *slot = column_value(r.get_ref(3 + i).map_err(&err)?);
            }
            if f(RawRecord { position, body, entry_hash, defect, columns: Some(columns) }).is_break() {
                break;
            }
        }
        Ok(())
    }
}

impl super::SealedSink for SqliteStore {
    fn append_sealed(&self, expected: Option<&ChainHead>, batch: &[(LedgerEntry, Vec<u8>)]) -> Result<(), LedgerError> {
        super::copy::check_continues(&self.name, expected, batch)?;
        let err = sql_err(&self.name);
        let conn = self.lock();
        self.busy.run(&self.name, || conn.execute_batch("BEGIN IMMEDIATE").map_err(&err))?;
        let mut guard = RollbackUnlessCommitted { conn: &conn, committed: false };
        if read_head(&conn, &self.name)?.as_ref() != expected {
            return Err(LedgerError::Aborted(format!("ledger {} changed during the copy", self.name)));
        }
        insert_rows(&conn, &self.name, batch)?;
        conn.execute_batch("COMMIT").map_err(&err)?;
        guard.committed = true;
        Ok(())
    }
}
