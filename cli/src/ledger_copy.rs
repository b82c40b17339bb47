//! `cpctl ledger copy`: copies a ledger verbatim between this plane (SQLite) and a PostgreSQL
//! database, in either direction — every stored byte and hash kept — and verifies both sides
//! equal (same length, same head hash, both verify).

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use cp_kernel::{
    Durability, LEDGER_URL_ENV, LedgerBackend, LedgerError, LedgerName, LedgerSet, PgOptions, PgStore, PgTarget,
    SealedSink, SqliteStore, copy_ledger,
};

use crate::common::{CmdResult, Outcome, Refused, Settings, render};

#[derive(Debug, Args)]
pub(crate) struct CopyArgs {
    /// Source: a ledger of this plane (`HOT/governance`), or a PostgreSQL connection string
    /// (`postgres://user@host/db`, `host=… dbname=…`, or `postgres` for the one in
    /// CP_LEDGER_URL, which keeps a password off the command line).
    #[arg(long)]
    from: String,
    /// Destination: same forms as --from; one side must be this plane, the other PostgreSQL.
    #[arg(long)]
    to: String,
    /// PostgreSQL schema of the database side.
    #[arg(long)]
    schema: String,
    /// Ledger name on the database side (default: the plane side's name).
    #[arg(long)]
    ledger: Option<String>,
}

/// Whether `s` names a PostgreSQL database rather than a plane ledger.
fn is_database(s: &str) -> bool {
    s == "postgres" || s.starts_with("postgres://") || s.starts_with("postgresql://") || s.contains('=')
}

fn connection_string(s: &str) -> anyhow::Result<String> {
    if s != "postgres" {
        return Ok(s.to_string());
    }
    match std::env::var(LEDGER_URL_ENV) {
        Ok(u) if !u.trim().is_empty() => Ok(u),
        _ => anyhow::bail!("`postgres` stands for the connection string in {LEDGER_URL_ENV}, which is unset"),
    }
}

pub(crate) fn run(s: &Settings, a: CopyArgs) -> CmdResult {
    let (plane_side, db_side, to_db) = match (is_database(&a.from), is_database(&a.to)) {
        (false, true) => (&a.from, &a.to, true),
        (true, false) => (&a.to, &a.from, false),
        _ => anyhow::bail!(
            "one of --from/--to must be a ledger of this plane (e.g. HOT/governance) and the other a PostgreSQL \
             connection string (postgres://…, or `postgres` for {LEDGER_URL_ENV})"
        ),
    };
    let name = LedgerName::parse(plane_side)?.to_string();
    let plane = s.plane()?;
    let set = LedgerSet::new(&plane);
    if set.backend() != LedgerBackend::Sqlite {
        anyhow::bail!(
            "ledger copy reads and writes the plane's SQLite ledgers; this plane's backend is {:?}",
            set.backend()
        );
    }
    let layout = &plane.layout().ledger;
    let wait = Duration::from_millis(layout.busy_timeout_ms);
    let opts = PgOptions { durability: Durability::Full, wait, retries: layout.busy_retries() };
    let target = PgTarget::new(&connection_string(db_side)?, &a.schema)?;
    let db = PgStore::open(&target, a.ledger.as_deref().unwrap_or(&name), opts)?;
    if !to_db {
        // Creates the file and lists it in the plane's manifest.
        set.open(&name)?;
    } else if set.open_existing(&name).is_err() {
        anyhow::bail!("this plane has no ledger {name}");
    }
    let file = Arc::new(SqliteStore::open_retrying(
        &set.path_of(&LedgerName::parse(&name)?),
        &name,
        Durability::Full,
        wait,
        layout.busy_retries(),
    )?);
    let result = if to_db { copy_ledger(&*file, &db) } else { copy_ledger(&db, &*file as &dyn SealedSink) };
    let report = result.map_err(|e| -> anyhow::Error {
        match e {
            LedgerError::Aborted(m) => Refused(m).into(),
            other => other.into(),
        }
    })?;
    let (src, dst) = if to_db { ("plane".to_string(), target.describe()) } else { (target.describe(), "plane".into()) };
    render(s, &report, |r| {
        format!(
            "copied {} entries of {} ({src} → {dst}); both sides verify, head {}",
            r.entries,
            r.ledger,
            r.head.as_deref().unwrap_or("(empty)")
        )
    })?;
    Ok(Outcome::Ok)
}
