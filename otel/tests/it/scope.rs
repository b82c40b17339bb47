//! Tenant scope: a selection and an export never include another tenant's entries.

use std::sync::Arc;

use cp_kernel::{LedgerSet, LedgerStore, NewEntry, testkit::TempPlane};
use cp_otel::{OtelConfig, Selection, export_json_lines, read_entries};

use crate::fixture::{LEDGER, entries};

/// Appends the fixture entries of tenants t1 and t2 (interleaved) to the plane's ledger.
pub(crate) fn plane_with_two_tenants() -> TempPlane {
    let tp = TempPlane::new();
    let store: Arc<dyn LedgerStore> = LedgerSet::new(&tp.plane).open(LEDGER).unwrap();
    // Fixture id → id the store assigned, per tenant (answers point at their PROMPT_SENT).
    let mut ids: std::collections::HashMap<(String, String), String> = std::collections::HashMap::new();
    for (a, b) in entries("t1").into_iter().zip(entries("t2")) {
        for se in [a, b] {
            let e = se.entry;
            let tenant = e.tenant_id.clone().unwrap_or_default();
            let mut p = e.provenance();
            p.parent_event_id = p.parent_event_id.map(|old| ids[&(tenant.clone(), old)].clone());
            let mut n = NewEntry::new(e.event_type.clone()).provenance(p);
            n.metadata = e.metadata.clone();
            n.submission_id = e.submission_id.clone();
            n.reason = e.reason.clone();
            let stored = store.append(n).unwrap();
            ids.insert((tenant, e.id.clone()), stored.id);
        }
    }
    tp
}

#[test]
fn selection_and_export_stay_inside_the_tenant() {
    let tp = plane_with_two_tenants();
    let sel = Selection { tenant: "t1".into(), ..Selection::default() };
    let got = read_entries(&tp.plane, &sel, 3).unwrap();
    assert_eq!(got.len(), 8);
    assert!(got.iter().all(|e| e.entry.tenant_id.as_deref() == Some("t1")));
    let mut out = Vec::new();
    let cfg = OtelConfig::shipped().unwrap();
    let sum = export_json_lines(&tp.plane, &sel, &cfg, "cp-test", &mut out, "out.jsonl".as_ref()).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\"t1\"") && !text.contains("\"t2\""), "{text}");
    assert_eq!(sum.stats.entries, 8);
    assert_eq!(text.lines().count() as u64, sum.trace_lines + sum.metric_lines);
}

#[test]
fn a_selection_needs_a_tenant_and_valid_times() {
    let tp = TempPlane::new();
    let err = |s: Selection| read_entries(&tp.plane, &s, 10).unwrap_err().to_string();
    assert!(err(Selection::default()).contains("tenant is required"));
    let bad = Selection { tenant: "t1".into(), since: Some("yesterday".into()), ..Selection::default() };
    assert!(err(bad).contains("--since \"yesterday\": expected an RFC 3339 time"));
    let rev = Selection {
        tenant: "t1".into(),
        since: Some("2026-11-23T00:00:00Z".into()),
        until: Some("2026-11-22T00:00:00Z".into()),
        ..Selection::default()
    };
    assert!(err(rev).contains("is not before --until"));
}
