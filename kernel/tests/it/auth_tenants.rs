//! Cross-tenant refusals (spend and read), denial logging, dev mode, and the secret's sources.

use std::sync::Arc;

use cp_kernel::{
    AuthError, AuthSecret, LedgerQuery, LimitConfig, ManualClock, PromptRouter, Provenance, RejectCode, RouterError,
    RouterOptions, ScopeKey, testkit::TempPlane,
};
use serde_json::json;

use crate::router_support::*;

fn denied(err: RouterError, code: RejectCode, fx: &Fx, action: &str, tenant: &str) {
    let RouterError::Rejected { code: got, entry_id, .. } = err else { panic!("{err:?}") };
    assert_eq!(got, code);
    let e = fx.entries().into_iter().find(|e| e.id == entry_id).unwrap();
    assert_eq!(e.event_type, "ACCESS_DENIED");
    assert_eq!(e.metadata["code"], code.as_str());
    assert_eq!(e.metadata["action"], action);
    assert_eq!(e.tenant_id.as_deref(), Some(tenant));
    // Who asked for what, and what the token held: a verified token names its own tenant, and
    // a token of another tenant is a sovereignty decision.
    assert_eq!(e.metadata["tenant_asked"], tenant, "{e:?}");
    match code {
        RejectCode::AuthDenied => assert!(e.metadata["tenant_held"].is_null(), "{e:?}"),
        _ => {
            let held = e.metadata["tenant_held"].as_str().unwrap_or_else(|| panic!("tenant_held: {e:?}"));
            let policy = if held == tenant { "router.roles" } else { "tenant.sovereignty" };
            assert_eq!(e.metadata["policy_id"], policy, "{e:?}");
        }
    }
}

#[test]
fn a_tenant_token_never_spends_or_reads_another_tenant() {
    let fx = Fx::new();
    let a_op = fx.token("A", &["operator"]);
    let b_op = fx.token("B", &["operator"]);
    fx.router.route(request("A", &a_op)).unwrap();
    fx.router.route(request("B", &b_op)).unwrap();
    // Spend.
    let e = fx.router.route(request("B", &a_op)).unwrap_err();
    assert_eq!(e.reject_code(), Some(RejectCode::Forbidden));
    let limit = LimitConfig { max_tokens: Some(1), max_cost_micros: None, warn_threshold_pct: 80 };
    let e = fx.router.allocate(&a_op, &"session/B/s1".parse::<ScopeKey>().unwrap(), limit).unwrap_err();
    denied(e, RejectCode::Forbidden, &fx, "budget.allocate", "B");
    // Read budget.
    denied(fx.router.budget_show(&a_op, "B").unwrap_err(), RejectCode::Forbidden, &fx, "budget.read", "B");
    let mine = fx.router.budget_show(&a_op, "A").unwrap();
    assert!(mine.scopes.keys().all(|k| k.contains("/A")), "{:?}", mine.scopes.keys());
    assert!(!mine.scopes.is_empty());
    // Read ledger.
    let q = LedgerQuery {
        provenance: Provenance { tenant_id: Some("B".into()), ..Provenance::default() },
        ..LedgerQuery::default()
    };
    denied(fx.router.ledger_entries(&a_op, "A", &q).unwrap_err(), RejectCode::Forbidden, &fx, "ledger.read", "B");
    denied(
        fx.router.ledger_entries(&a_op, "B", &LedgerQuery::default()).unwrap_err(),
        RejectCode::Forbidden,
        &fx,
        "ledger.read",
        "B",
    );
    let rows = fx.router.ledger_entries(&a_op, "A", &LedgerQuery::default()).unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|e| e.tenant_id.as_deref() == Some("A")));
    // Bad token on a read: AUTH_DENIED, logged.
    denied(fx.router.budget_show("nope", "A").unwrap_err(), RejectCode::AuthDenied, &fx, "budget.read", "A");
    // Role without the action.
    let agent = fx.token("A", &["agent"]);
    let limit = LimitConfig { max_tokens: Some(1), max_cost_micros: None, warn_threshold_pct: 80 };
    denied(
        fx.router.allocate(&agent, &ScopeKey::tenant("A"), limit).unwrap_err(),
        RejectCode::Forbidden,
        &fx,
        "budget.allocate",
        "A",
    );
    // Nothing of B changed.
    let b = fx.router.budget_show(&b_op, "B").unwrap();
    assert_eq!(b.scopes["tenant/B"].max_tokens, None);
    assert!(!b.scopes.contains_key("session/B/s1") || b.scopes["session/B/s1"].max_tokens != Some(1));
}

#[test]
fn token_issue_is_logged_without_the_token() {
    let fx = Fx::new();
    let (tok, claims) = fx.router.issue_token("alice", &["agent".into()], "A", Some(60)).unwrap();
    let e = fx.entries().into_iter().find(|e| e.event_type == "AUTH_TOKEN_ISSUED").unwrap();
    assert_eq!(e.metadata["token_id"], claims.token_id);
    assert_eq!(e.metadata["principal"], "alice");
    assert!(!serde_json::to_string(&e).unwrap().contains(&tok));
    assert!(matches!(
        fx.router.issue_token("x", &["root".into()], "A", None),
        Err(RouterError::Auth(AuthError::UnknownRole(_)))
    ));
}

#[test]
fn dev_mode_is_explicit_and_logged() {
    let (mut r, b, p) = test_configs();
    r["auth"]["dev_mode"] = json!(true);
    let fx = Fx::with(r, b, p, false);
    let first = fx.entries();
    assert_eq!(first[0].event_type, "AUTH_DEV_MODE");
    fx.router.route(request("A", "")).unwrap();
    let sent = fx.entries().into_iter().find(|e| e.event_type == "PROMPT_SENT").unwrap();
    assert_eq!(sent.metadata["dev_mode"], true);
}

#[test]
fn without_a_secret_every_token_is_refused() {
    let (r, b, p) = test_configs();
    let tp = TempPlane::new();
    write_configs(&tp, &r, &b, &p);
    // No secret injected; the test environment sets neither variable.
    if std::env::var_os("CP_AUTH_SECRET").is_some() || std::env::var_os("CP_AUTH_SECRET_FILE").is_some() {
        return;
    }
    let router = PromptRouter::open(&tp.plane, RouterOptions::new().clock(Arc::new(ManualClock::new(T0)))).unwrap();
    let forged = "cp1.7b7d.00";
    assert_eq!(router.route(request("A", forged)).unwrap_err().reject_code(), Some(RejectCode::AuthDenied));
}

#[test]
fn secret_sources() {
    let tp = TempPlane::new();
    let inside = tp.plane.root().join("HOT/secret");
    std::fs::write(&inside, "x".repeat(40)).unwrap();
    let err = AuthSecret::from_sources(Some(&inside), None, tp.plane.root(), 32).unwrap_err();
    assert!(matches!(err, AuthError::SecretInsidePlane { .. }), "{err}");
    let outside = tp.dir.path().join("secret");
    std::fs::write(&outside, format!("{}\n", "y".repeat(32))).unwrap();
    assert!(AuthSecret::from_sources(Some(&outside), Some("ignored"), tp.plane.root(), 32).is_ok());
    std::fs::write(&outside, "short\n").unwrap();
    assert!(matches!(
        AuthSecret::from_sources(Some(&outside), None, tp.plane.root(), 32),
        Err(AuthError::SecretTooShort { .. })
    ));
    assert!(AuthSecret::from_sources(None, Some(&"z".repeat(32)), tp.plane.root(), 32).is_ok());
    assert!(matches!(AuthSecret::from_sources(None, None, tp.plane.root(), 32), Err(AuthError::NoSecret)));
}
