//! Tenant sovereignty in the library (issue 14 §3): `PromptRouter::read_scope` and the ledger
//! query `PromptRouter::ledger_entries`, × {own tenant, other tenant, no token, expired token},
//! each denial an `ACCESS_DENIED` entry. The clock is injected: the token expires on it.

use cp_kernel::{LedgerEntry, LedgerQuery, ReadAccess, RejectCode, RouterError, event};

use crate::router_support::{Fx, request};

fn last_denial(fx: &Fx) -> LedgerEntry {
    fx.entries().into_iter().rev().find(|e| e.event_type == event::ACCESS_DENIED).expect("an ACCESS_DENIED")
}

fn code(r: Result<impl std::fmt::Debug, RouterError>) -> RejectCode {
    match r {
        Err(e) => e.reject_code().unwrap_or_else(|| panic!("{e}")),
        Ok(v) => panic!("granted: {v:?}"),
    }
}

#[test]
fn read_scope_and_ledger_entries_by_own_other_missing_and_expired_token() {
    let fx = Fx::new();
    fx.router.route(request("acme", &fx.token("acme", &["agent"]))).unwrap();
    fx.router.route(request("globex", &fx.token("globex", &["agent"]))).unwrap();
    let own = fx.token("acme", &["auditor"]);
    let short = fx.router.issue_token("tester", &["auditor".into()], "acme", Some(1)).unwrap().0;
    let tok = |t: &str| ReadAccess::Token(t.to_string());

    // Own tenant.
    let g = fx.router.read_scope(&tok(&own), None, "test").unwrap();
    assert_eq!((g.tenant.as_str(), g.operator), ("acme", false));
    let mine = fx.router.ledger_entries(&own, "acme", &LedgerQuery::default()).unwrap();
    assert!(!mine.is_empty() && mine.iter().all(|e| e.tenant_id.as_deref() == Some("acme")));

    // Another tenant: denied, logged with principal, tenant asked and tenant held.
    assert_eq!(code(fx.router.read_scope(&tok(&own), Some("globex"), "test")), RejectCode::Forbidden);
    let e = last_denial(&fx);
    assert_eq!(
        (e.metadata["tenant_asked"].as_str(), e.metadata["tenant_held"].as_str()),
        (Some("globex"), Some("acme"))
    );
    assert_eq!(
        (e.metadata["principal"].as_str(), e.metadata["policy_id"].as_str()),
        (Some("tester"), Some("tenant.sovereignty"))
    );
    assert_eq!(code(fx.router.ledger_entries(&own, "globex", &LedgerQuery::default())), RejectCode::Forbidden);

    // No token.
    assert_eq!(code(fx.router.read_scope(&tok(""), Some("acme"), "test")), RejectCode::AuthDenied);
    assert_eq!(last_denial(&fx).metadata["code"], "AUTH_DENIED");
    assert_eq!(code(fx.router.ledger_entries("", "acme", &LedgerQuery::default())), RejectCode::AuthDenied);

    // Expired (on the router's clock).
    fx.clock.advance(2_000);
    let before = fx.entries().len();
    assert_eq!(code(fx.router.read_scope(&tok(&short), None, "test")), RejectCode::AuthDenied);
    assert!(last_denial(&fx).reason.unwrap().contains("expired"));
    assert_eq!(code(fx.router.ledger_entries(&short, "acme", &LedgerQuery::default())), RejectCode::AuthDenied);
    assert_eq!(fx.types_after(before), ["ACCESS_DENIED", "ACCESS_DENIED"]);
}

#[test]
fn operator_mode_names_one_tenant_and_is_recorded() {
    let fx = Fx::new();
    let op = ReadAccess::Operator { user: "alice".into() };
    assert_eq!(code(fx.router.read_scope(&op, None, "test")), RejectCode::InvalidInput);
    let g = fx.router.read_scope(&op, Some("globex"), "report").unwrap();
    assert_eq!((g.tenant.as_str(), g.actor.as_str(), g.operator), ("globex", "operator:alice", true));
    let e = fx.router.store().get(g.recorded_seq.unwrap()).unwrap().unwrap();
    assert_eq!(e.event_type, event::OPERATOR_READ);
    assert_eq!((e.metadata["surface"].as_str(), e.metadata["tenant_asked"].as_str()), (Some("report"), Some("globex")));
}
