//! Issue 9 §2: a route request's contract must be governed (inside the plane and owned by a
//! package); an ungoverned one is recorded as `CONTRACT_UNGOVERNED` before anything is routed and
//! admitted (`warn`, ALLOW) or refused (`refuse`, DENY) by the router config.

use cp_kernel::{
    OwnershipRow, RegistryKind, RejectCode, RequestFile, RouterError, append_rows, registry_path,
    testkit::test_contract as contract_doc,
};
use serde_json::json;

use crate::router_support::*;

/// Writes `contract.json` at `dir/rel` and a request naming it as `name`, returning the request path.
fn request_for(dir: &std::path::Path, contract_at: &str, name: &str) -> std::path::PathBuf {
    let at = dir.join(contract_at);
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    std::fs::write(&at, serde_json::to_vec(&contract_doc()).unwrap()).unwrap();
    let req = json!({"contract": name, "context": "c", "input": {"question": "q?"},
                     "provenance": {"tenant_id": "acme", "session_id": "s1"}});
    let path = dir.join("req.json");
    std::fs::write(&path, serde_json::to_vec(&req).unwrap()).unwrap();
    path
}

fn ungoverned_entries(fx: &Fx) -> Vec<cp_kernel::LedgerEntry> {
    fx.entries().into_iter().filter(|e| e.event_type == "CONTRACT_UNGOVERNED").collect()
}

#[test]
fn a_contract_beside_the_request_is_routed_with_a_warning_and_recorded() {
    let fx = Fx::new();
    let out = tempfile::tempdir().unwrap();
    let req = request_for(out.path(), "contract.json", "contract.json");
    let tok = fx.token("acme", &["agent"]);
    let doc = RequestFile::read(&fx.tp.plane, &req).unwrap();
    let routed = fx.router.authorize_route_request(&fx.tp.plane, doc, Some(tok)).unwrap();
    assert!(!routed.contract_source.governed);
    assert!(routed.contract_source.sha256.starts_with("sha256:"));
    let logged = ungoverned_entries(&fx);
    assert_eq!(logged.len(), 1);
    let e = &logged[0];
    assert_eq!(
        (e.decision.as_deref(), e.tenant_id.as_deref(), e.session_id.as_deref()),
        (Some("ALLOW"), Some("acme"), Some("s1"))
    );
    assert_eq!(e.metadata["contract"]["sha256"], json!(routed.contract_source.sha256));
    assert_eq!(e.metadata["policy"], "warn");
}

#[test]
fn refuse_policy_refuses_loose_and_outside_contracts_and_logs_the_denial() {
    let (mut r, b, p) = test_configs();
    r["ungoverned_contracts"] = json!("refuse");
    let fx = Fx::with(r, b, p, false);
    let tok = fx.token("acme", &["agent"]);
    let outside = tempfile::tempdir().unwrap();
    // Outside the plane, and a loose file inside it that no package owns.
    let cases = [
        request_for(outside.path(), "contract.json", "contract.json"),
        request_for(fx.tp.plane.root(), "HO2/contracts/loose.json", "HO2/contracts/loose.json"),
    ];
    for (i, req) in cases.iter().enumerate() {
        let doc = RequestFile::read(&fx.tp.plane, req).unwrap();
        let err = fx.router.authorize_route_request(&fx.tp.plane, doc, Some(tok.clone())).unwrap_err();
        let RouterError::Rejected { code, .. } = err else { panic!("{err:?}") };
        assert_eq!(code, RejectCode::ContractUngoverned);
        let logged = ungoverned_entries(&fx);
        assert_eq!(logged.len(), i + 1);
        assert_eq!(logged[i].decision.as_deref(), Some("DENY"));
    }
    assert_eq!(ungoverned_entries(&fx)[1].metadata["contract"]["path"], "HO2/contracts/loose.json");
}

#[test]
fn a_contract_a_package_owns_is_governed_and_writes_nothing() {
    let (mut r, b, p) = test_configs();
    r["ungoverned_contracts"] = json!("refuse");
    let fx = Fx::with(r, b, p, false);
    let req = request_for(fx.tp.plane.root(), "HO2/contracts/owned.json", "HO2/contracts/owned.json");
    let row = OwnershipRow {
        file_path: "HO2/contracts/owned.json".into(),
        package_id: "PKG-CONTRACTS-001".into(),
        sha256: String::new(),
        classification: "contract".into(),
        installed_date: "2026-01-01".into(),
        replaced_date: String::new(),
        superseded_by: String::new(),
    };
    append_rows(&registry_path(&fx.tp.plane, RegistryKind::FileOwnership), RegistryKind::FileOwnership, &[row])
        .unwrap();
    let doc = RequestFile::read(&fx.tp.plane, &req).unwrap();
    let tok = fx.token("acme", &["agent"]);
    let routed = fx.router.authorize_route_request(&fx.tp.plane, doc, Some(tok)).unwrap();
    assert!(routed.contract_source.governed);
    assert_eq!(routed.contract_source.path, "HO2/contracts/owned.json");
    assert!(ungoverned_entries(&fx).is_empty());
}
