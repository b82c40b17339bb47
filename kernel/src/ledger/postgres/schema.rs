//! The PostgreSQL schema of the ledger backend and its versioned migrations.
//!
//! Owns: the list of migrations ([`MIGRATIONS`]), applying the missing ones under a
//! transaction-scoped advisory lock (so hosts starting together migrate once), and refusing a
//! database migrated by a newer kernel. Never does: alter or drop a table that holds entries.
//!
//! Layout (one PostgreSQL schema per plane group, name chosen in the plane config):
//! * `cp_schema_version(version, applied_at)` — one row per applied migration;
//! * `ledgers(ledger)` — the ledger names that exist;
//! * `entries` — one row per entry, primary key `(ledger, seq)`, the same columns as the SQLite
//!   backend (`body` = the canonical bytes as hashed, `BYTEA`), text columns in the `"C"`
//!   collation so that `timestamp` ranges compare byte-wise as in SQLite; the same indexes as
//!   SQLite, each led by `ledger`; triggers refusing `UPDATE`, `DELETE` and `TRUNCATE`.

use postgres::Client;

/// The migrations, in order; migration `i` brings the schema to version `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE ledgers (ledger TEXT COLLATE "C" PRIMARY KEY);
CREATE TABLE entries (
    ledger TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL CHECK (seq >= 0),
    id TEXT COLLATE "C" NOT NULL,
    timestamp TEXT COLLATE "C" NOT NULL,
    schema_version TEXT COLLATE "C" NOT NULL,
    event_type TEXT COLLATE "C" NOT NULL,
    tenant_id TEXT COLLATE "C", agent_id TEXT COLLATE "C", agent_class TEXT COLLATE "C",
    framework_id TEXT COLLATE "C", package_id TEXT COLLATE "C", work_order_id TEXT COLLATE "C",
    session_id TEXT COLLATE "C", trace_id TEXT COLLATE "C", span_id TEXT COLLATE "C",
    parent_event_id TEXT COLLATE "C", tier TEXT COLLATE "C",
    previous_hash TEXT COLLATE "C" NOT NULL,
    entry_hash TEXT COLLATE "C" NOT NULL,
    body BYTEA NOT NULL,
    PRIMARY KEY (ledger, seq)
);
CREATE INDEX entries_event_type ON entries(ledger, event_type, seq);
CREATE INDEX entries_timestamp ON entries(ledger, timestamp);
CREATE INDEX entries_tenant_id ON entries(ledger, tenant_id, seq) WHERE tenant_id IS NOT NULL;
CREATE INDEX entries_session_id ON entries(ledger, session_id, seq) WHERE session_id IS NOT NULL;
CREATE INDEX entries_work_order_id ON entries(ledger, work_order_id, seq) WHERE work_order_id IS NOT NULL;
CREATE INDEX entries_agent_id ON entries(ledger, agent_id, seq) WHERE agent_id IS NOT NULL;
CREATE INDEX entries_package_id ON entries(ledger, package_id, seq) WHERE package_id IS NOT NULL;
CREATE INDEX entries_framework_id ON entries(ledger, framework_id, seq) WHERE framework_id IS NOT NULL;
CREATE INDEX entries_parent_event_id ON entries(ledger, parent_event_id, seq) WHERE parent_event_id IS NOT NULL;
CREATE INDEX entries_trace_id ON entries(ledger, trace_id, seq) WHERE trace_id IS NOT NULL;
CREATE FUNCTION cp_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only: % refused', lower(TG_OP)
        USING ERRCODE = 'insufficient_privilege';
END
$fn$;
CREATE TRIGGER entries_no_update_delete BEFORE UPDATE OR DELETE ON entries
    FOR EACH ROW EXECUTE FUNCTION cp_refuse_change();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
    FOR EACH STATEMENT EXECUTE FUNCTION cp_refuse_change();
CREATE TRIGGER ledgers_no_update_delete BEFORE UPDATE OR DELETE ON ledgers
    FOR EACH ROW EXECUTE FUNCTION cp_refuse_change();
"#];

/// The schema version this kernel writes.
pub const PG_SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// What migrating found.
#[derive(Debug)]
pub(crate) enum MigrateError {
    /// The database failed.
    Db(postgres::Error),
    /// The schema was migrated by a newer kernel.
    Newer(i32),
}

impl From<postgres::Error> for MigrateError {
    fn from(e: postgres::Error) -> Self {
        Self::Db(e)
    }
}

/// Creates the schema `schema` (a validated identifier) if needed and applies the missing
/// migrations, in one transaction under an advisory lock keyed by the schema name.
pub(crate) fn migrate(client: &mut Client, schema: &str, lock_key: i64) -> Result<i32, MigrateError> {
    // Up to date already: nothing to create, so a role with only SELECT/INSERT grants opens it.
    let exists: bool = client
        .query_one("SELECT to_regclass(format('%I.cp_schema_version', $1::text)) IS NOT NULL", &[&schema])?
        .get(0);
    let current: Option<i32> = if exists {
        let q = format!("SELECT COALESCE(max(version), 0) FROM \"{schema}\".cp_schema_version");
        Some(client.query_one(&q, &[])?.get(0))
    } else {
        None
    };
    match current {
        Some(v) if v == PG_SCHEMA_VERSION => return Ok(v),
        Some(v) if v > PG_SCHEMA_VERSION => return Err(MigrateError::Newer(v)),
        _ => {}
    }
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key])?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS \"{schema}\"; SET LOCAL search_path TO \"{schema}\";
         CREATE TABLE IF NOT EXISTS cp_schema_version (version INT PRIMARY KEY, \
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now());"
    ))?;
    let have: i32 = tx.query_one("SELECT COALESCE(max(version), 0) FROM cp_schema_version", &[])?.get(0);
    if have > PG_SCHEMA_VERSION {
        return Err(MigrateError::Newer(have));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(have.max(0) as usize) {
        tx.batch_execute(sql)?;
        tx.execute("INSERT INTO cp_schema_version (version) VALUES ($1)", &[&(i as i32 + 1)])?;
    }
    tx.commit()?;
    Ok(PG_SCHEMA_VERSION)
}
