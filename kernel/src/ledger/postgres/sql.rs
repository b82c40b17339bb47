//! SQL text of the PostgreSQL backend: the insert, the head read, the scan, and the statement
//! answering a [`LedgerQuery`]. Every value is a bound parameter; only fixed column names are
//! spliced into the text.

use postgres::types::ToSql;

use crate::ledger::columns::COLUMNS;
use crate::ledger::{LedgerQuery, Order, Provenance};

/// Inserts one entry row — unless another writer holds the ledger's append lock (`$21`), when
/// it inserts nothing: an optimistic append yields to a writer queued on the lock, so no writer
/// can lose the race for the next `seq` forever. Inside a transaction holding the lock the
/// try-lock succeeds (advisory locks are re-entrant). The scalar subquery runs once.
pub(crate) const INSERT: &str = "INSERT INTO entries (ledger, seq, id, timestamp, schema_version, event_type, \
    tenant_id, agent_id, agent_class, framework_id, package_id, work_order_id, session_id, trace_id, span_id, \
    parent_event_id, tier, previous_hash, entry_hash, body) SELECT $1::text, $2::bigint, $3::text, $4::text, \
    $5::text, $6::text, $7::text, $8::text, $9::text, $10::text, $11::text, $12::text, $13::text, $14::text, \
    $15::text, $16::text, $17::text, $18::text, $19::text, $20::bytea \
    WHERE (SELECT pg_try_advisory_xact_lock($21))";

/// Inserts many entry rows in one statement (one array per column), under the same condition
/// as [`INSERT`].
pub(crate) const INSERT_MANY: &str = "INSERT INTO entries (ledger, seq, id, timestamp, schema_version, event_type, \
    tenant_id, agent_id, agent_class, framework_id, package_id, work_order_id, session_id, trace_id, span_id, \
    parent_event_id, tier, previous_hash, entry_hash, body) SELECT $1, * FROM unnest($2::bigint[], $3::text[], \
    $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
    $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::bytea[]) \
    WHERE (SELECT pg_try_advisory_xact_lock($21))";

/// Takes the ledger's append lock until the transaction ends.
pub(crate) const LOCK: &str = "SELECT pg_advisory_xact_lock($1)";

/// The last entry of a ledger.
pub(crate) const HEAD: &str = "SELECT seq, entry_hash FROM entries WHERE ledger = $1 ORDER BY seq DESC LIMIT 1";

/// One entry by `seq`.
pub(crate) const GET: &str = "SELECT seq, body, entry_hash FROM entries WHERE ledger = $1 AND seq = $2";

/// Registers a ledger name.
pub(crate) const REGISTER: &str = "INSERT INTO ledgers (ledger) VALUES ($1) ON CONFLICT DO NOTHING";

/// Every record of a ledger in `seq` order with its index columns, in [`COLUMNS`] order.
pub(crate) fn scan_sql() -> String {
    format!("SELECT seq, body, entry_hash, {} FROM entries WHERE ledger = $1 ORDER BY seq", COLUMNS.join(", "))
}

/// A bound parameter.
pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// The SQL and parameters answering `q` on ledger `name` (selecting `seq, body, entry_hash`).
pub(crate) fn build_query(name: &str, q: &LedgerQuery) -> (String, Vec<Param>) {
    build_query_upto(name, q, None)
}

/// [`build_query`] over the entries up to `seq` `upto` only (a transaction's view of the chain
/// at the head it was given, whatever was committed after).
pub(crate) fn build_query_upto(name: &str, q: &LedgerQuery, upto: Option<u64>) -> (String, Vec<Param>) {
    let mut params: Vec<Param> = vec![Box::new(name.to_string())];
    let mut conds = vec!["ledger = $1".to_string()];
    let push = |params: &mut Vec<Param>, p: Param| {
        params.push(p);
        format!("${}", params.len())
    };
    if !q.event_types.is_empty() {
        let marks: Vec<String> =
            q.event_types.iter().map(|t| push(&mut params, Box::new(t.clone()))).collect::<Vec<_>>();
        conds.push(format!("event_type IN ({})", marks.join(", ")));
    }
    for f in Provenance::FIELDS {
        if let Some(v) = q.provenance.get(f) {
            // `f` comes from the fixed list of column names, never from input.
            let m = push(&mut params, Box::new(v.to_string()));
            conds.push(format!("{f} = {m}"));
        }
    }
    if let Some(s) = &q.since {
        let m = push(&mut params, Box::new(s.clone()));
        conds.push(format!("timestamp >= {m}"));
    }
    if let Some(u) = &q.until {
        let m = push(&mut params, Box::new(u.clone()));
        conds.push(format!("timestamp < {m}"));
    }
    if let Some(a) = q.after_seq {
        let m = push(&mut params, Box::new(i64::try_from(a).unwrap_or(i64::MAX)));
        conds.push(format!("seq > {m}"));
    }
    if let Some(u) = upto {
        let m = push(&mut params, Box::new(i64::try_from(u).unwrap_or(i64::MAX)));
        conds.push(format!("seq <= {m}"));
    }
    let mut sql = format!("SELECT seq, body, entry_hash FROM entries WHERE {}", conds.join(" AND "));
    sql.push_str(match q.order {
        Order::Asc => " ORDER BY seq ASC",
        Order::Desc => " ORDER BY seq DESC",
    });
    if let Some(l) = q.limit {
        let m = push(&mut params, Box::new(i64::try_from(l).unwrap_or(i64::MAX)));
        sql.push_str(&format!(" LIMIT {m}"));
    }
    (sql, params)
}

/// Borrows boxed parameters as the client's argument slice.
pub(crate) fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
}
