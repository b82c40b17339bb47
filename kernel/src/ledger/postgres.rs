//! PostgreSQL ledger backend (kernel feature `postgres`): the scale-out path, where several
//! kernel hosts share one ledger and therefore one set of hard budgets.
//!
//! Owns: connecting (with retries within the configured window), the schema and its versioned
//! migrations ([`schema`]), SQL built from a [`LedgerQuery`] ([`sql`]), the append transaction
//! and streaming reads for verification. Never does: update or delete a row (triggers refuse
//! both, and the role the kernel runs as should hold only `SELECT, INSERT` — see
//! `docs/SCALE-OUT.md`), splice a value into SQL text, keep a password in a governed file.
//!
//! Layout: every ledger of a plane group lives in one table `entries` of one PostgreSQL schema
//! (the plane config's `postgres_schema`), keyed `(ledger, seq)`; columns and indexes as in the
//! SQLite backend, each index led by `ledger`. `body` holds the canonical bytes as hashed.
//!
//! Concurrency: [`LedgerStore::transact`] (the budgeter's check-and-reserve) reads the chain
//! head and inserts in one transaction holding `pg_advisory_xact_lock(k)`, `k` derived from
//! (schema, ledger name), so its closure sees every committed entry and two hosts' closures
//! never interleave. A plain append ([`LedgerStore::append_batch`]) is optimistic: sealed on
//! the head this connection last saw and inserted by one autocommit statement (one round trip,
//! like a raw `INSERT`). The primary key `(ledger, seq)` decides every race: a writer whose
//! head was stale conflicts, reads the head again and seals again (a locked transaction whose
//! insert conflicts runs again whole). Entries are never removed, so an insert that succeeds at
//! `head.seq + 1` proves the chain links and `seq` stays dense across hosts.
//!
//! Faults: a lost connection, a server restarting, or the advisory lock not granted within
//! `wait` (`lock_timeout`) is retried — reconnecting as needed — `retries` more times, each
//! after a pause of `wait`; then the caller gets [`LedgerError::Unavailable`]-like
//! [`LedgerError::PostgresUnavailable`] and nothing was written. A `COMMIT` whose answer was
//! lost is resolved after reconnecting by looking the last sealed entry up by `seq` and
//! `entry_hash` (its UUIDv7 `id` makes the hash unique): found → the append is acknowledged,
//! absent → the whole transaction (closure included) runs again. So no entry is lost or
//! duplicated by a retry.
//!
//! Durability ([`Durability`]): `full` — `synchronous_commit = on` (the commit is flushed to
//! the server's WAL before `Ok`); `normal` — `synchronous_commit = off` (a server crash may lose
//! the last commits whole; the chain is never broken).

mod schema;
mod sql;

pub use schema::PG_SCHEMA_VERSION;

use std::ops::ControlFlow;
use std::sync::Mutex;
use std::time::Duration;

use postgres::error::SqlState;
use postgres::{Client, NoTls};
use sha2::{Digest, Sha256};

use super::columns::{ColumnValue, N_COLUMNS};
use super::memory::seal_all;
use super::sqlite::decode_entry;
use super::{
    ChainHead, LedgerEntry, LedgerError, LedgerQuery, LedgerStore, NewEntry, PreparedEntry, RawRecord, TxnFn, TxnView,
};
use crate::plane::Durability;

/// Rows fetched per round trip while streaming a ledger for verification (memory stays bounded
/// by this many rows whatever the ledger's size). Tuning of the transfer, not policy.
const SCAN_BATCH_ROWS: i32 = 4096;

/// Query shapes whose prepared statements one connection keeps (a bound on memory; the shapes
/// a plane uses are far fewer).
const MAX_QUERY_SHAPES: usize = 256;

/// Times a locked transaction may find its `seq` taken before giving up. Every writer of this
/// kernel inserts only while holding the ledger's append lock or finding it free, so under the
/// lock this happens only with a writer that ignores the lock (an older kernel); each time, that
/// writer's append went through, so the ledger made progress.
const MAX_SEQ_CONFLICTS: u32 = 64;

/// Where a PostgreSQL ledger lives: the server connection and the schema (namespace) holding
/// the ledger tables.
#[derive(Clone)]
pub struct PgTarget {
    config: postgres::Config,
    schema: String,
}

impl std::fmt::Debug for PgTarget {
    /// Never shows the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("hosts", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .field("user", &self.config.get_user())
            .field("schema", &self.schema)
            .finish()
    }
}

impl PgTarget {
    /// A target from a libpq connection string (`postgres://user@host/db` or
    /// `host=… dbname=…`) and a schema name (`[a-z_][a-z0-9_]*`, at most 63 characters).
    pub fn new(conninfo: &str, schema: &str) -> Result<Self, LedgerError> {
        let config: postgres::Config = conninfo
            .trim()
            .parse()
            .map_err(|e| LedgerError::Backend(format!("postgres connection string is not valid: {e}")))?;
        check_schema_name(schema)?;
        Ok(Self { config, schema: schema.to_string() })
    }

    /// The same target, connecting as `user` (e.g. the kernel's restricted role where an
    /// administrator's string was given).
    pub fn with_user(mut self, user: &str) -> Self {
        self.config.user(user);
        self
    }

    /// The schema holding the ledger tables.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// A display form without the password (`host:port/db as user, schema s`).
    pub fn describe(&self) -> String {
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .map(|h| match h {
                postgres::config::Host::Tcp(t) => t.clone(),
                postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .collect();
        format!(
            "{}/{} as {}, schema {}",
            hosts.join(","),
            self.config.get_dbname().unwrap_or("-"),
            self.config.get_user().unwrap_or("-"),
            self.schema
        )
    }

    /// One new connection, set up for this target: `search_path`, `synchronous_commit` per
    /// `opts.durability`, `lock_timeout` = `opts.wait`.
    fn connect(&self, opts: &PgOptions) -> Result<Client, postgres::Error> {
        let mut cfg = self.config.clone();
        cfg.connect_timeout(opts.wait);
        cfg.application_name(&format!("cp-kernel ledger {}", self.schema));
        let mut c = cfg.connect(NoTls)?;
        let sync = match opts.durability {
            Durability::Full => "on",
            Durability::Normal => "off",
        };
        c.batch_execute(&format!(
            "SET search_path TO \"{}\"; SET synchronous_commit TO {sync}; SET lock_timeout TO {}",
            self.schema,
            opts.wait.as_millis().max(1)
        ))?;
        Ok(c)
    }
}

/// A schema name must be a plain lower-case identifier (it is quoted into SQL text).
fn check_schema_name(s: &str) -> Result<(), LedgerError> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(LedgerError::Backend(format!(
            "postgres schema name {s:?} is not valid (expected [a-z_][a-z0-9_]*, at most 63 characters)"
        )))
    }
}

/// How the store waits for the database.
#[derive(Debug, Clone, Copy)]
pub struct PgOptions {
    /// Durability of an append.
    pub durability: Durability,
    /// Wait per attempt: connect timeout, `lock_timeout` for another host's append, and the
    /// pause before the next attempt (the layout's `ledger.busy_timeout_ms`).
    pub wait: Duration,
    /// Further attempts after a transient failure (the layout's `ledger.busy_retries`).
    pub retries: u32,
}

/// The advisory-lock key of `(schema, what)`: the first 8 bytes of a SHA-256.
fn lock_key(schema: &str, what: &str) -> i64 {
    let d = Sha256::new().chain_update(b"cp-ledger\0").chain_update(schema).chain_update(b"\0").chain_update(what);
    let b = d.finalize();
    i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// Why one attempt failed.
enum Fail {
    /// A database error: retried when [`is_transient`].
    Db(postgres::Error),
    /// A database error that must not be retried (rows were already handed out).
    Final(postgres::Error),
    /// Not a database error (the closure refused, a record is corrupt): never retried.
    Ledger(LedgerError),
}

impl From<postgres::Error> for Fail {
    fn from(e: postgres::Error) -> Self {
        Self::Db(e)
    }
}

impl From<LedgerError> for Fail {
    fn from(e: LedgerError) -> Self {
        Self::Ledger(e)
    }
}

/// A failure that may clear by itself: the connection is gone, the server is starting or
/// shutting down, another host held the ledger lock past `lock_timeout`, a serialization
/// conflict.
fn is_transient(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        None => true,
        Some(c) => {
            c.code().starts_with("08")
                || [
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                    SqlState::LOCK_NOT_AVAILABLE,
                    SqlState::T_R_SERIALIZATION_FAILURE,
                    SqlState::T_R_DEADLOCK_DETECTED,
                ]
                .contains(c)
        }
    }
}

/// A live connection and the statements prepared on it (the append path's, prepared once per
/// connection instead of once per append).
struct Live {
    client: Client,
    statements: std::collections::HashMap<&'static str, postgres::Statement>,
    /// The chain head as this connection last committed or read it: a lower bound of the real
    /// head (entries are never removed), the starting point of an optimistic append.
    head: Option<ChainHead>,
    /// Query statements built from a [`LedgerQuery`], prepared once per shape (the text holds
    /// only column names and placeholders, so the shapes are few).
    queries: std::collections::HashMap<String, postgres::Statement>,
}

impl std::ops::Deref for Live {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl std::ops::DerefMut for Live {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

impl Live {
    /// `text` prepared on this connection (cached).
    fn prepared(&mut self, text: &'static str) -> Result<postgres::Statement, postgres::Error> {
        if let Some(st) = self.statements.get(text) {
            return Ok(st.clone());
        }
        let st = self.client.prepare(text)?;
        self.statements.insert(text, st.clone());
        Ok(st)
    }

    /// A query statement prepared on this connection (cached by its text, at most
    /// [`MAX_QUERY_SHAPES`]; past that the cache starts over).
    fn prepared_query(&mut self, text: String) -> Result<postgres::Statement, postgres::Error> {
        if let Some(st) = self.queries.get(&text) {
            return Ok(st.clone());
        }
        if self.queries.len() >= MAX_QUERY_SHAPES {
            self.queries.clear();
        }
        let st = self.client.prepare(&text)?;
        self.queries.insert(text, st.clone());
        Ok(st)
    }
}

/// A connection slot shared by the operations of one store.
struct Conn {
    target: PgTarget,
    opts: PgOptions,
    name: String,
    client: Mutex<Option<Live>>,
}

impl Conn {
    /// Runs `op` on a live connection, reconnecting and trying again after transient
    /// failures as [`PgOptions`] allow.
    fn run<T>(&self, mut op: impl FnMut(&mut Live) -> Result<T, Fail>) -> Result<T, LedgerError> {
        let mut g = self.client.lock().unwrap_or_else(|p| p.into_inner());
        let mut tries = 0u32;
        loop {
            tries += 1;
            let was_connected = g.is_some();
            let result = match g.as_mut() {
                Some(c) => op(c),
                None => match self.target.connect(&self.opts) {
                    Ok(client) => op(g.insert(Live {
                        client,
                        statements: Default::default(),
                        head: None,
                        queries: Default::default(),
                    })),
                    Err(e) => Err(Fail::Db(e)),
                },
            };
            match result {
                Ok(v) => return Ok(v),
                Err(Fail::Ledger(e)) => return Err(e),
                Err(Fail::Final(source)) => {
                    *g = None;
                    return Err(LedgerError::Postgres { ledger: self.name.clone(), source });
                }
                Err(Fail::Db(source)) => {
                    let lost = g.as_ref().is_none_or(|c| c.is_closed());
                    if lost || !is_transient(&source) {
                        // A broken connection is never reused; a healthy one stays.
                        *g = None;
                    }
                    if !is_transient(&source) {
                        return Err(LedgerError::Postgres { ledger: self.name.clone(), source });
                    }
                    if tries > self.opts.retries {
                        return Err(LedgerError::PostgresUnavailable {
                            ledger: self.name.clone(),
                            attempts: tries,
                            wait_ms: self.opts.wait.as_millis() as u64,
                            source,
                        });
                    }
                    tracing::debug!(ledger = %self.name, attempt = tries, error = %source, "ledger database unavailable; retrying");
                    // A connection that was up and is now gone is replaced at once; a failed
                    // connect or a lock wait is tried again after a pause.
                    if !(was_connected && lost) {
                        std::thread::sleep(self.opts.wait);
                    }
                }
            }
        }
    }
}

/// A ledger stored in a PostgreSQL schema shared by every host of a plane group.
pub struct PgStore {
    conn: Conn,
    lock_key: i64,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("name", &self.conn.name).field("target", &self.conn.target).finish()
    }
}

impl PgStore {
    /// Opens ledger `name` in `target`: connects (retrying per `opts`), creates or migrates the
    /// schema to [`PG_SCHEMA_VERSION`] (refusing one written by a newer kernel) and registers
    /// the ledger name.
    pub fn open(target: &PgTarget, name: &str, opts: PgOptions) -> Result<Self, LedgerError> {
        let conn = Conn { target: target.clone(), opts, name: name.to_string(), client: Mutex::new(None) };
        migrate(&conn)?;
        conn.run(|c| Ok(c.execute(sql::REGISTER, &[&name]).map(|_| ())?))?;
        Ok(Self { conn, lock_key: lock_key(target.schema(), name) })
    }

    /// One optimistic append of `entries` on the cached head (see
    /// [`LedgerStore::append_batch`]): the stored entries, or `None` when another writer got
    /// there first (the cached head is then dropped, to be read again).
    fn append_optimistic(&self, entries: &[PreparedEntry]) -> Result<Option<Vec<LedgerEntry>>, LedgerError> {
        let name = self.conn.name.as_str();
        // Entries whose insert was sent but not answered: decided on the next attempt.
        let mut in_doubt: Option<Vec<LedgerEntry>> = None;
        self.conn.run(|c| {
            if let Some(sent) = settled(c, name, &mut in_doubt)? {
                return Ok(Some(sent));
            }
            let st = Statements::prepare(c)?;
            let head = match c.head.clone() {
                Some(h) => Some(h),
                None => Self::read_head(&mut c.client, &st.head, name)?,
            };
            let sealed = seal_all(head, entries.to_vec())?;
            if sealed.is_empty() {
                return Ok(Some(Vec::new()));
            }
            let sent: Vec<LedgerEntry> = sealed.iter().map(|(e, _)| e.clone()).collect();
            in_doubt = Some(sent.clone());
            let stored = match insert(&mut c.client, &st, name, self.lock_key, &sealed) {
                Ok(stored) => stored,
                Err(Fail::Db(e)) if is_seq_conflict(&e) => false,
                Err(e) => return Err(e),
            };
            in_doubt = None;
            c.head = if stored { sent.last().map(head_of) } else { None };
            Ok(stored.then_some(sent))
        })
    }

    /// Names of the ledgers in `target` (empty when its schema does not exist yet), sorted.
    pub fn list(target: &PgTarget, opts: PgOptions) -> Result<Vec<String>, LedgerError> {
        let conn = Conn { target: target.clone(), opts, name: target.schema.clone(), client: Mutex::new(None) };
        conn.run(|c| {
            let exists: bool = c
                .query_one("SELECT to_regclass(format('%I.ledgers', $1::text)) IS NOT NULL", &[&target.schema])?
                .get(0);
            if !exists {
                return Ok(Vec::new());
            }
            let rows = c.query("SELECT ledger FROM ledgers ORDER BY ledger", &[])?;
            Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
        })
    }

    /// The target this store writes to.
    pub fn target(&self) -> &PgTarget {
        &self.conn.target
    }

    /// `EXPLAIN` of the statement that answers `q`, one line per plan row (for tests and
    /// diagnostics).
    pub fn explain_query(&self, q: &LedgerQuery) -> Result<Vec<String>, LedgerError> {
        let (text, params) = sql::build_query(&self.conn.name, q);
        self.conn.run(|c| {
            let rows = c.query(&format!("EXPLAIN {text}"), &sql::refs(&params))?;
            Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
        })
    }

    fn read_head<S: ?Sized + postgres::ToStatement>(
        c: &mut impl postgres::GenericClient,
        head: &S,
        name: &str,
    ) -> Result<Option<ChainHead>, postgres::Error> {
        Ok(c.query_opt(head, &[&name])?.map(|r| ChainHead { seq: r.get::<_, i64>(0) as u64, entry_hash: r.get(1) }))
    }
}

/// Creates or migrates the schema of `conn`'s target.
fn migrate(conn: &Conn) -> Result<(), LedgerError> {
    let key = lock_key(&conn.target.schema, "\0migrate");
    let mut newer = None;
    conn.run(|c| match schema::migrate(c, &conn.target.schema, key) {
        Ok(_) => Ok(()),
        Err(schema::MigrateError::Db(e)) => Err(Fail::Db(e)),
        Err(schema::MigrateError::Newer(v)) => {
            newer = Some(v);
            Ok(())
        }
    })?;
    match newer {
        Some(v) => Err(LedgerError::Backend(format!(
            "postgres schema {} is at version {v}, newer than this kernel's {PG_SCHEMA_VERSION}; upgrade the kernel",
            conn.target.schema
        ))),
        None => Ok(()),
    }
}

fn row_entry(name: &str, r: &postgres::Row) -> Result<LedgerEntry, Fail> {
    let seq = r.try_get::<_, i64>(0)? as u64;
    let body: &[u8] = r.try_get(1)?;
    let hash: &str = r.try_get(2)?;
    Ok(decode_entry(name, seq, body, hash)?)
}

fn run_select(
    c: &mut impl postgres::GenericClient,
    name: &str,
    q: &LedgerQuery,
    upto: Option<u64>,
) -> Result<Vec<LedgerEntry>, Fail> {
    let (text, params) = sql::build_query_upto(name, q, upto);
    let rows = c.query(&text, &sql::refs(&params))?;
    decode_rows(name, q, &rows)
}

/// A query's rows as entries: the columns chose the row; the hashed body decides (as in the
/// SQLite backend).
fn decode_rows(name: &str, q: &LedgerQuery, rows: &[postgres::Row]) -> Result<Vec<LedgerEntry>, Fail> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let e = row_entry(name, r)?;
        if q.matches(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

/// The chain as a transaction closure sees it.
struct View<'a, 'b> {
    tx: std::cell::RefCell<&'a mut postgres::Transaction<'b>>,
    name: &'a str,
    head: Option<ChainHead>,
}

impl TxnView for View<'_, '_> {
    fn head(&self) -> Option<ChainHead> {
        self.head.clone()
    }
    fn query(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, LedgerError> {
        // The chain as of the head the closure was given: an optimistic append committed
        // since is not seen (the insert then conflicts and the transaction runs again).
        let Some(head) = &self.head else { return Ok(Vec::new()) };
        let mut tx = self.tx.borrow_mut();
        run_select(&mut **tx, self.name, q, Some(head.seq)).map_err(|f| match f {
            Fail::Db(source) | Fail::Final(source) => LedgerError::Postgres { ledger: self.name.to_string(), source },
            Fail::Ledger(e) => e,
        })
    }
}

/// The append path's statements, prepared on the connection.
struct Statements {
    lock: postgres::Statement,
    head: postgres::Statement,
    one: postgres::Statement,
    many: postgres::Statement,
}

impl Statements {
    /// The statements of `c` (prepared once per connection).
    fn prepare(c: &mut Live) -> Result<Self, postgres::Error> {
        Ok(Self {
            lock: c.prepared(sql::LOCK)?,
            head: c.prepared(sql::HEAD)?,
            one: c.prepared(sql::INSERT)?,
            many: c.prepared(sql::INSERT_MANY)?,
        })
    }
}

/// Inserts sealed entries (one row statement for one, one array statement for many) unless
/// another connection holds the ledger's append lock `key`; whether they went in.
fn insert(
    tx: &mut impl postgres::GenericClient,
    st: &Statements,
    name: &str,
    key: i64,
    sealed: &[(LedgerEntry, Vec<u8>)],
) -> Result<bool, Fail> {
    if let [(e, body)] = sealed {
        let n = tx.execute(
            &st.one,
            &[
                &name,
                &(e.seq as i64),
                &e.id,
                &e.timestamp,
                &e.schema_version,
                &e.event_type,
                &e.tenant_id,
                &e.agent_id,
                &e.agent_class,
                &e.framework_id,
                &e.package_id,
                &e.work_order_id,
                &e.session_id,
                &e.trace_id,
                &e.span_id,
                &e.parent_event_id,
                &e.tier,
                &e.previous_hash,
                &e.entry_hash,
                body,
                &key,
            ],
        )?;
        return Ok(n > 0);
    }
    let col = |f: fn(&LedgerEntry) -> Option<&str>| sealed.iter().map(|(e, _)| f(e)).collect::<Vec<_>>();
    let seqs: Vec<i64> = sealed.iter().map(|(e, _)| e.seq as i64).collect();
    let bodies: Vec<&[u8]> = sealed.iter().map(|(_, b)| b.as_slice()).collect();
    let n = tx.execute(
        &st.many,
        &[
            &name,
            &seqs,
            &col(|e| Some(&e.id)),
            &col(|e| Some(&e.timestamp)),
            &col(|e| Some(&e.schema_version)),
            &col(|e| Some(&e.event_type)),
            &col(|e| e.tenant_id.as_deref()),
            &col(|e| e.agent_id.as_deref()),
            &col(|e| e.agent_class.as_deref()),
            &col(|e| e.framework_id.as_deref()),
            &col(|e| e.package_id.as_deref()),
            &col(|e| e.work_order_id.as_deref()),
            &col(|e| e.session_id.as_deref()),
            &col(|e| e.trace_id.as_deref()),
            &col(|e| e.span_id.as_deref()),
            &col(|e| e.parent_event_id.as_deref()),
            &col(|e| e.tier.as_deref()),
            &col(|e| Some(&e.previous_hash)),
            &col(|e| Some(&e.entry_hash)),
            &bodies,
            &key,
        ],
    )?;
    Ok(n > 0)
}

impl LedgerStore for PgStore {
    fn name(&self) -> &str {
        &self.conn.name
    }

    fn transact(&self, f: &mut TxnFn<'_>) -> Result<Vec<LedgerEntry>, LedgerError> {
        let name = self.conn.name.as_str();
        // Entries whose COMMIT was sent but not answered: decided on the next attempt.
        let mut in_doubt: Option<Vec<LedgerEntry>> = None;
        self.conn.run(|c| {
            if let Some(sent) = settled(c, name, &mut in_doubt)? {
                return Ok(sent);
            }
            let st = Statements::prepare(c)?;
            for _ in 0..=MAX_SEQ_CONFLICTS {
                let mut tx = c.client.transaction()?;
                tx.execute(&st.lock, &[&self.lock_key])?;
                let head = Self::read_head(&mut tx, &st.head, name)?;
                let new = {
                    let view = View { tx: std::cell::RefCell::new(&mut tx), name, head: head.clone() };
                    f(&view)?
                };
                let sealed = seal_all(head, new)?;
                if sealed.is_empty() {
                    tx.commit()?;
                    return Ok(Vec::new());
                }
                match insert(&mut tx, &st, name, self.lock_key, &sealed) {
                    Ok(true) => {}
                    // Holding the lock, the insert is never refused, and only a writer that
                    // does not take it (an older kernel) can take the seq meanwhile: run the
                    // transaction again on the new head.
                    Ok(false) => continue,
                    Err(Fail::Db(e)) if is_seq_conflict(&e) => continue,
                    Err(e) => return Err(e),
                }
                let entries: Vec<LedgerEntry> = sealed.into_iter().map(|(e, _)| e).collect();
                in_doubt = Some(entries.clone());
                tx.commit()?;
                in_doubt = None;
                c.head = entries.last().map(head_of);
                return Ok(entries);
            }
            Err(Fail::Ledger(seq_conflicts(name)))
        })
    }

    /// An optimistic append: the entries are sealed on the head this connection last saw and
    /// inserted in one autocommit statement — one round trip, no lock wait. The primary key
    /// `(ledger, seq)` decides between writers, and entries are never removed, so a successful
    /// insert at `head.seq + 1` proves `head` is still the last entry and the chain links.
    ///
    /// An append that loses the race (another host took the `seq`, or holds the append lock)
    /// does not race again: it queues on the ledger's append lock as [`transact`] does, and
    /// optimistic inserts yield to a lock holder. Racing again could lose for ever to a host
    /// whose cached head is always right (four busy writers starved one within a second).
    ///
    /// [`transact`]: LedgerStore::transact
    fn append_batch(&self, entries: Vec<NewEntry>) -> Result<Vec<LedgerEntry>, LedgerError> {
        self.append_prepared(entries.into_iter().map(NewEntry::prepare).collect())
    }

    fn append_prepared(&self, entries: Vec<PreparedEntry>) -> Result<Vec<LedgerEntry>, LedgerError> {
        match self.append_optimistic(&entries)? {
            Some(done) => Ok(done),
            None => self.transact(&mut |_| Ok(entries.iter().map(|p| p.entry().clone()).collect())),
        }
    }

    fn head(&self) -> Result<Option<ChainHead>, LedgerError> {
        let name = self.conn.name.as_str();
        self.conn.run(|c| Ok(Self::read_head(&mut **c, sql::HEAD, name)?))
    }

    fn get(&self, seq: u64) -> Result<Option<LedgerEntry>, LedgerError> {
        let Ok(s) = i64::try_from(seq) else { return Ok(None) };
        let name = self.conn.name.as_str();
        self.conn.run(|c| match c.query_opt(sql::GET, &[&name, &s])? {
            Some(r) => Ok(Some(row_entry(name, &r)?)),
            None => Ok(None),
        })
    }

    fn query(&self, q: &LedgerQuery) -> Result<Vec<LedgerEntry>, LedgerError> {
        let name = self.conn.name.as_str();
        self.conn.run(|c| {
            let (text, params) = sql::build_query(name, q);
            let st = c.prepared_query(text)?;
            let rows = c.client.query(&st, &sql::refs(&params))?;
            decode_rows(name, q, &rows)
        })
    }

    fn scan_raw(&self, f: &mut dyn FnMut(RawRecord<'_>) -> ControlFlow<()>) -> Result<(), LedgerError> {
        let name = self.conn.name.as_str();
        let text = sql::scan_sql();
        let mut delivered = false;
        self.conn.run(|c| {
            // After the first record was handed out a failure is final: a retry would repeat it.
            let fin = |delivered: bool| move |e: postgres::Error| if delivered { Fail::Final(e) } else { Fail::Db(e) };
            // One snapshot for the whole scan, fetched in bounded batches.
            let mut tx = c
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(fin(delivered))?;
            let portal = tx.bind(text.as_str(), &[&name]).map_err(fin(delivered))?;
            loop {
                let rows = tx.query_portal(&portal, SCAN_BATCH_ROWS).map_err(fin(delivered))?;
                if rows.is_empty() {
                    break;
                }
                for r in &rows {
                    delivered = true;
                    if deliver(r, f).map_err(fin(true))?.is_break() {
                        return Ok(());
                    }
                }
            }
            Ok(())
        })
    }
}

/// The chain head `e` makes.
fn head_of(e: &LedgerEntry) -> ChainHead {
    ChainHead { seq: e.seq, entry_hash: e.entry_hash.clone() }
}

/// The entries of an earlier attempt whose commit was not answered (`in_doubt`, taken), when
/// they are in the ledger after all: then they are the append's result and the new head.
fn settled(
    c: &mut Live,
    name: &str,
    in_doubt: &mut Option<Vec<LedgerEntry>>,
) -> Result<Option<Vec<LedgerEntry>>, Fail> {
    match in_doubt.take() {
        Some(sent) if in_place(c, name, &sent)? => {
            c.head = sent.last().map(head_of);
            Ok(Some(sent))
        }
        _ => Ok(None),
    }
}

/// Whether `sent` — entries whose commit was not answered — is in the ledger: its last entry
/// by `seq` and `entry_hash` (its UUIDv7 `id` makes the hash unique).
fn in_place(c: &mut Live, name: &str, sent: &[LedgerEntry]) -> Result<bool, Fail> {
    let Some(last) = sent.last() else { return Ok(false) };
    let found = c.client.query_opt(
        "SELECT 1 FROM entries WHERE ledger = $1 AND seq = $2 AND entry_hash = $3",
        &[&name, &(last.seq as i64), &last.entry_hash],
    )?;
    Ok(found.is_some())
}

/// Whether `e` is another writer having taken the `seq` (the primary key `(ledger, seq)`).
fn is_seq_conflict(e: &postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// The error of an append that lost the race for the next `seq` more than
/// [`MAX_SEQ_CONFLICTS`] times in a row.
fn seq_conflicts(name: &str) -> LedgerError {
    LedgerError::Aborted(format!(
        "ledger {name}: other hosts took the next entry {MAX_SEQ_CONFLICTS} times in a row; nothing was written"
    ))
}

/// Hands one scanned row to the verifier.
fn deliver(
    r: &postgres::Row,
    f: &mut dyn FnMut(RawRecord<'_>) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, postgres::Error> {
    let position = r.try_get::<_, i64>(0)? as u64;
    let body: &[u8] = r.try_get(1)?;
    let entry_hash: &str = r.try_get(2)?;
    let mut columns = [ColumnValue::Null; N_COLUMNS];
    for (i, slot) in columns.iter_mut().enumerate() {
        if let Some(t) = r.try_get::<_, Option<&str>>(3 + i)? {
            *slot = ColumnValue::Text(t);
        }
    }
    Ok(f(RawRecord { position, body, entry_hash, defect: None, columns: Some(columns) }))
}

impl super::SealedSink for PgStore {
    fn append_sealed(&self, expected: Option<&ChainHead>, batch: &[(LedgerEntry, Vec<u8>)]) -> Result<(), LedgerError> {
        let name = self.conn.name.as_str();
        super::copy::check_continues(name, expected, batch)?;
        let last = batch.last().map(|(e, _)| e.entry_hash.clone());
        self.conn.run(|c| {
            let st = Statements::prepare(c)?;
            let mut tx = c.transaction()?;
            tx.execute(&st.lock, &[&self.lock_key])?;
            let head = Self::read_head(&mut tx, &st.head, name)?;
            if head.as_ref() != expected {
                // A retry after a COMMIT whose answer was lost finds its own batch in place.
                if head.as_ref().map(|h| &h.entry_hash) == last.as_ref() {
                    return Ok(());
                }
                return Err(Fail::Ledger(LedgerError::Aborted(format!("ledger {name} changed during the copy"))));
            }
            if !insert(&mut tx, &st, name, self.lock_key, batch)? {
                return Err(Fail::Ledger(LedgerError::Aborted(format!("ledger {name}: the append lock was not held"))));
            }
            tx.commit()?;
            Ok(())
        })
    }
}
