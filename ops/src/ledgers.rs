//! Where the operations service keeps its two stores: per tenant, an event ledger
//! (`HO1/ops-events-<slug>`) and a cost ledger (`HO1/ops-costs-<slug>`), plus the alert ledger
//! (`HO1/ops-alerts-<slug>`). Every entry also carries its tenant in `tenant_id`, and every read
//! filters on it, so a tenant never sees another's entries even if two slugs collided.

use cp_kernel::{LedgerEntry, LedgerError, LedgerQuery, LedgerStore, Provenance};

/// Prefix of event ledgers.
pub(crate) const EVENTS_PREFIX: &str = "HO1/ops-events-";
/// Prefix of cost ledgers.
pub(crate) const COSTS_PREFIX: &str = "HO1/ops-costs-";
/// Prefix of alert ledgers.
pub(crate) const ALERTS_PREFIX: &str = "HO1/ops-alerts-";
/// Entries read per ledger query.
pub(crate) const PAGE: usize = 4096;

/// The ledger-name suffix of a tenant: the tenant itself when it is a short `[a-z0-9_-]` name,
/// else `h` + the first 32 hex digits of its SHA-256.
pub fn slug(tenant: &str) -> String {
    let plain = !tenant.is_empty()
        && tenant.len() <= 48
        && tenant.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if plain {
        format!("t-{tenant}")
    } else {
        let h = cp_kernel::sha256_hex(tenant.as_bytes());
        format!("h-{}", &h[..32])
    }
}

/// The three ledger names of a tenant: (events, costs, alerts).
pub fn names(tenant: &str) -> (String, String, String) {
    let s = slug(tenant);
    (format!("{EVENTS_PREFIX}{s}"), format!("{COSTS_PREFIX}{s}"), format!("{ALERTS_PREFIX}{s}"))
}

/// The query of a tenant's entries of `types` after `after`.
pub(crate) fn tenant_query(tenant: &str, types: &[&str], after: Option<u64>) -> LedgerQuery {
    LedgerQuery {
        event_types: types.iter().map(|s| s.to_string()).collect(),
        provenance: Provenance { tenant_id: Some(tenant.to_string()), ..Provenance::default() },
        after_seq: after,
        limit: Some(PAGE),
        ..LedgerQuery::default()
    }
}

/// Calls `f` with every entry matching `q` (paged, in seq order).
pub(crate) fn for_each(
    store: &dyn LedgerStore,
    mut q: LedgerQuery,
    f: &mut dyn FnMut(LedgerEntry) -> Result<(), crate::OpsError>,
) -> Result<(), crate::OpsError> {
    loop {
        let page = store.query(&q)?;
        let n = page.len();
        let Some(last) = page.last().map(|e| e.seq) else { return Ok(()) };
        for e in page {
            f(e)?;
        }
        if n < q.limit.unwrap_or(PAGE) {
            return Ok(());
        }
        q.after_seq = Some(last);
    }
}

/// The tenant an existing event ledger belongs to (from its first entry).
pub(crate) fn tenant_of(store: &dyn LedgerStore) -> Result<Option<String>, LedgerError> {
    Ok(store.get(0)?.and_then(|e| e.tenant_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_valid_ledger_names_and_distinct() {
        for t in ["acme", "Acme Corp", "a/b", "ü", &"x".repeat(300), "t-acme"] {
            let (e, c, a) = names(t);
            for n in [e, c, a] {
                cp_kernel::LedgerName::parse(&n).unwrap();
            }
        }
        assert_ne!(slug("Acme"), slug("acme"));
        assert_eq!(slug("acme"), "t-acme");
    }
}
