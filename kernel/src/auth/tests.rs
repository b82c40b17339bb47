use super::*;

fn cfg() -> AuthConfig {
    AuthConfig {
        dev_mode: false,
        default_ttl_s: 60,
        max_ttl_s: 120,
        min_secret_bytes: 16,
        roles: [("agent".to_string(), vec![Action::Route])].into_iter().collect(),
    }
}

fn secret(b: u8) -> AuthSecret {
    AuthSecret::from_bytes(vec![b; 32], 16, "test").unwrap()
}

#[test]
fn issue_verify_roundtrip_and_tamper() {
    let a = Authorizer::new(cfg(), Some(secret(7)));
    let c = a.claims("alice", &["agent".into()], "t1", None, 1_000).unwrap();
    let tok = a.sign(&c).unwrap();
    assert_eq!(verify(&secret(7), &tok, 1_001).unwrap(), c);
    assert!(verify(&secret(8), &tok, 1_001).is_err(), "other secret");
    assert!(verify(&secret(7), &tok, 61_000).is_err(), "expired");
    // Flip one hex digit of the payload: the MAC no longer matches.
    let mut b = tok.into_bytes();
    b[5] = if b[5] == b'0' { b'1' } else { b'0' };
    assert!(verify(&secret(7), std::str::from_utf8(&b).unwrap(), 1_001).is_err());
}

#[test]
fn authorize_checks_action_and_tenant() {
    let a = Authorizer::new(cfg(), Some(secret(7)));
    let tok = a.sign(&a.claims("alice", &["agent".into()], "t1", None, 0).unwrap()).unwrap();
    assert!(a.authorize(&tok, Action::Route, "t1", 1).is_ok());
    assert_eq!(a.authorize(&tok, Action::Route, "t2", 1).unwrap_err().kind, DenialKind::Forbidden);
    assert_eq!(a.authorize(&tok, Action::BudgetAllocate, "t1", 1).unwrap_err().kind, DenialKind::Forbidden);
    assert_eq!(a.authorize("", Action::Route, "t1", 1).unwrap_err().kind, DenialKind::AuthDenied);
    assert_eq!(a.authorize("anything", Action::Route, "t1", 1).unwrap_err().kind, DenialKind::AuthDenied);
    let none = Authorizer::new(cfg(), None);
    assert_eq!(none.authorize(&tok, Action::Route, "t1", 1).unwrap_err().kind, DenialKind::AuthDenied);
}

#[test]
fn claims_refuse_unknown_role_and_long_ttl() {
    let a = Authorizer::new(cfg(), Some(secret(7)));
    assert!(matches!(a.claims("p", &["root".into()], "t", None, 0), Err(AuthError::UnknownRole(_))));
    assert!(matches!(a.claims("p", &["agent".into()], "t", Some(121), 0), Err(AuthError::TtlTooLong { .. })));
    assert!(AuthSecret::from_bytes(vec![1; 8], 16, "x").is_err());
}
