//! Issue 9 §1 at the library: `PromptRouter::authorize_scope` takes the tenant from the token
//! only; another tenant's id or session in any named field is refused and logged before
//! anything is read; in dev mode the first named tenant is used and a second one is refused;
//! a refusal never claims the named session.

use cp_kernel::{
    ASSEMBLE_ACTIONS, LedgerSet, NewEntry, Provenance, ROUTE_ACTIONS, RejectCode, RouterError, scope_fields,
};
use serde_json::json;

use crate::router_support::*;

fn refused(e: RouterError) -> (RejectCode, String) {
    let RouterError::Rejected { code, entry_id, .. } = e else { panic!("{e:?}") };
    (code, entry_id)
}

#[test]
fn the_tenant_comes_from_the_token_and_foreign_scopes_are_refused_and_logged() {
    let fx = Fx::new();
    let plane = &fx.tp.plane;
    // Session "vs" belongs to tenant victim (an entry on some ledger of the plane).
    let notes = LedgerSet::new(plane).open("HO2/notes").unwrap();
    let prov = Provenance { tenant_id: Some("victim".into()), session_id: Some("vs".into()), ..Provenance::default() };
    notes.append(NewEntry::new("NOTE").provenance(prov)).unwrap();
    let acme = fx.token("acme", &["agent"]);

    // No tenant named: the token's. Its own tenant and an unclaimed session pass.
    let p = fx.router.authorize_scope(plane, &acme, ROUTE_ACTIONS, &[]).unwrap();
    assert_eq!((p.tenant.as_str(), p.principal.as_str()), ("acme", "tester"));
    let ok = scope_fields(&json!({"tenant_id": "acme", "x": {"session_id": "fresh"}}));
    assert_eq!(fx.router.authorize_scope(plane, &acme, ROUTE_ACTIONS, &ok).unwrap().tenant, "acme");

    for (doc, field) in [
        (json!({"tenant_id": "victim"}), "/tenant_id"),
        (json!({"deep": [{"tenant": "victim"}]}), "/deep/0/tenant"),
        (json!({"session_id": "vs"}), "/session_id"),
        (json!({"a": {"session": "vs"}}), "/a/session"),
        (json!({"tenant_id": 7}), "/tenant_id"),
    ] {
        let before = fx.entries().len();
        let (code, id) =
            refused(fx.router.authorize_scope(plane, &acme, ROUTE_ACTIONS, &scope_fields(&doc)).unwrap_err());
        assert_eq!(code, RejectCode::AccessDenied, "{doc}");
        let logged = fx.entries();
        assert_eq!(logged.len(), before + 1, "exactly the refusal is written");
        let e = logged.iter().find(|e| e.id == id).unwrap();
        assert_eq!(e.event_type, "ACCESS_DENIED");
        assert_eq!(e.tenant_id.as_deref(), Some("acme"));
        assert_eq!(e.session_id, None, "a refusal never claims the session");
        assert_eq!(e.metadata["named"]["field"], field);
    }
    // A role without the action: FORBIDDEN; no token: AUTH_DENIED — both logged.
    let auditor_only = fx.token("acme", &["auditor"]);
    let (code, _) = refused(fx.router.authorize_scope(plane, &auditor_only, ROUTE_ACTIONS, &[]).unwrap_err());
    assert_eq!(code, RejectCode::Forbidden);
    assert_eq!(fx.router.authorize_scope(plane, &auditor_only, ASSEMBLE_ACTIONS, &[]).unwrap().tenant, "acme");
    let (code, _) = refused(fx.router.authorize_scope(plane, "", ASSEMBLE_ACTIONS, &[]).unwrap_err());
    assert_eq!(code, RejectCode::AuthDenied);
}

#[test]
fn dev_mode_takes_the_first_named_tenant_and_refuses_a_second_or_none() {
    let (mut r, b, p) = test_configs();
    r["auth"]["dev_mode"] = json!(true);
    let fx = Fx::with(r, b, p, false);
    let plane = &fx.tp.plane;
    let one = scope_fields(&json!({"provenance": {"tenant_id": "acme"}}));
    let p = fx.router.authorize_scope(plane, "", ROUTE_ACTIONS, &one).unwrap();
    assert!(p.dev_mode && p.tenant == "acme");
    let two = scope_fields(&json!({"provenance": {"tenant_id": "acme"}, "attention": {"tenant_id": "victim"}}));
    let (code, _) = refused(fx.router.authorize_scope(plane, "", ROUTE_ACTIONS, &two).unwrap_err());
    assert_eq!(code, RejectCode::AccessDenied);
    let (code, _) = refused(fx.router.authorize_scope(plane, "", ROUTE_ACTIONS, &[]).unwrap_err());
    assert_eq!(code, RejectCode::AuthDenied);
}
