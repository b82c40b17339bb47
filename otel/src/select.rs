//! Which entries a command sees: one tenant (required), optionally one session and a time
//! window, across every ledger of the plane, read page by page in (ledger, seq) order.

use cp_kernel::{LedgerQuery, LedgerSet, Plane, Provenance};

use crate::error::OtelError;
use crate::project::SourcedEntry;

/// A tenant-scoped selection of ledger entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Tenant (required): entries of other tenants, and entries without a tenant, are never
    /// selected.
    pub tenant: String,
    /// Only this session.
    pub session: Option<String>,
    /// Only entries at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Only entries before this RFC 3339 time.
    pub until: Option<String>,
}

/// Normalises an RFC 3339 time to the ledger's form (UTC, nanoseconds), naming the flag on error.
fn normalise(flag: &str, t: &str) -> Result<String, OtelError> {
    let ts: jiff::Timestamp = t.parse().map_err(|e| {
        OtelError::Usage(format!("{flag} {t:?}: expected an RFC 3339 time such as 2026-11-22T00:00:00Z ({e})"))
    })?;
    Ok(format!("{ts:.9}"))
}

impl Selection {
    /// Checks the tenant and the times and returns the ledger query of the selection.
    pub fn query(&self) -> Result<LedgerQuery, OtelError> {
        if self.tenant.trim().is_empty() {
            return Err(OtelError::Usage("a tenant is required (--tenant)".into()));
        }
        let since = self.since.as_deref().map(|t| normalise("--since", t)).transpose()?;
        let until = self.until.as_deref().map(|t| normalise("--until", t)).transpose()?;
        if let (Some(s), Some(u)) = (&since, &until)
            && s >= u
        {
            return Err(OtelError::Usage(format!("--since {s} is not before --until {u}")));
        }
        Ok(LedgerQuery {
            provenance: Provenance {
                tenant_id: Some(self.tenant.clone()),
                session_id: self.session.clone(),
                ..Provenance::default()
            },
            since,
            until,
            ..LedgerQuery::default()
        })
    }
}

/// Calls `f` with the selected entries of every ledger of `plane`, `page` entries at a time, in
/// (ledger name, seq) order.
pub fn for_each_page(
    plane: &Plane,
    sel: &Selection,
    page: usize,
    f: &mut dyn FnMut(Vec<SourcedEntry>) -> Result<(), OtelError>,
) -> Result<(), OtelError> {
    let base = sel.query()?;
    let set = LedgerSet::new(plane);
    for name in set.list()? {
        let ledger = name.to_string();
        let store = set.open_existing(&ledger)?;
        let mut q = base.clone();
        q.limit = Some(page.max(1));
        loop {
            let got = store.query(&q)?;
            let Some(last) = got.last().map(|e| e.seq) else { break };
            let n = got.len();
            f(got.into_iter().map(|entry| SourcedEntry { ledger: ledger.clone(), entry }).collect())?;
            if n < page.max(1) {
                break;
            }
            q.after_seq = Some(last);
        }
    }
    Ok(())
}

/// Every selected entry, read `page` at a time (small selections; exports stream with
/// [`for_each_page`]).
pub fn read_entries(plane: &Plane, sel: &Selection, page: usize) -> Result<Vec<SourcedEntry>, OtelError> {
    let mut out = Vec::new();
    for_each_page(plane, sel, page, &mut |mut page| {
        out.append(&mut page);
        Ok(())
    })?;
    Ok(out)
}
