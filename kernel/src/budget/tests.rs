use super::*;
use serde_json::json;

#[test]
fn scope_strings_roundtrip() {
    for s in ["tenant/t1", "session/t1/s1", "work_order/t1/w", "agent/t1/a"] {
        assert_eq!(s.parse::<ScopeKey>().unwrap().to_string(), s);
    }
    for s in ["tenant", "tenant/", "session/t1", "team/t1/x", "agent/t1/a/b"] {
        assert!(s.parse::<ScopeKey>().is_err(), "{s}");
    }
    let p = Provenance {
        tenant_id: Some("t".into()),
        session_id: Some("s".into()),
        agent_id: Some("a".into()),
        ..Provenance::default()
    };
    let chain: Vec<String> = ScopeKey::chain(&p).unwrap().iter().map(ToString::to_string).collect();
    assert_eq!(chain, ["tenant/t", "session/t/s", "agent/t/a"]);
    assert!(ScopeKey::chain(&Provenance::default()).is_none());
}

#[test]
fn cost_is_integer_and_rounds_up_per_component() {
    let p = Price {
        provider: "p".into(),
        model: "*".into(),
        input_per_mtok: 3,
        cached_input_per_mtok: 1,
        output_per_mtok: 1_000_000,
    };
    // 1 uncached input token at 3 per million rounds up to 1 micro; 7 output tokens = 7 micros.
    assert_eq!(p.cost_micros(1, 0, 7), 8);
    assert_eq!(p.cost_micros(0, 0, 0), 0);
    // Cached tokens are priced at the cached rate and never exceed the input count.
    assert_eq!(p.cost_micros(2_000_000, 1_000_000, 0), 3 + 1);
    assert_eq!(p.cost_micros(u64::MAX, 0, u64::MAX), u64::MAX);
}

#[test]
fn price_version_in_force_is_latest_not_after_now() {
    let v = |version: &str, from: &str| PriceVersion {
        version: version.into(),
        effective_from: from.into(),
        prices: vec![],
    };
    let book = PriceBook {
        schema_version: "1.0".into(),
        currency: "USD".into(),
        versions: vec![v("b", "2026-02-01T00:00:00Z"), v("a", "2026-01-01T00:00:00Z")],
    };
    let ms = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_millisecond() as u64;
    assert!(book.version_at(ms("2025-12-31T00:00:00Z")).is_none());
    assert_eq!(book.version_at(ms("2026-01-15T00:00:00Z")).unwrap().version, "a");
    assert_eq!(book.version_at(ms("2026-02-01T00:00:00Z")).unwrap().version, "b");
}

#[test]
fn malformed_budget_entries_are_reported_not_skipped() {
    let store = crate::ledger::MemoryStore::new("HO1/prompts");
    let cfg: BudgetConfig = serde_json::from_value(serde_json::json!({
        "schema_version": "1.0", "chars_per_token": 4, "rate_limits": [],
        "input_bound": {"min_bytes_per_token": 1, "overhead_tokens": 32},
        "defaults": {"tenant": {"max_tokens": null, "max_cost_micros": null, "warn_threshold_pct": 80},
                     "session": {"max_tokens": null, "max_cost_micros": null, "warn_threshold_pct": 80},
                     "work_order": {"max_tokens": null, "max_cost_micros": null, "warn_threshold_pct": 80},
                     "agent": {"max_tokens": null, "max_cost_micros": null, "warn_threshold_pct": 80}}}))
    .unwrap();
    store.append(NewEntry::new("X").meta("budget", json!({"op": "teleport"}))).unwrap();
    store.append(NewEntry::new("X").meta("budget", json!({"op": "reserve", "tokens": "many"}))).unwrap();
    store.append(NewEntry::new("X").meta("other", 1)).unwrap();
    // Each of these was partly applied (or silently ignored) when the state walked the JSON by
    // key; decoded as a typed `BudgetOp` each is malformed, and reported.
    store
        .append(NewEntry::new("X").meta("budget", json!({"op": "allocate", "scope": "tenant/a", "max_tokens": "x"})))
        .unwrap();
    store
        .append(NewEntry::new("X").meta("budget", json!({"op": "settle", "scopes": ["tenant/a"], "tokens": 5})))
        .unwrap();
    store.append(NewEntry::new("X").meta("budget", json!({"op": "warn"}))).unwrap();
    store.append(NewEntry::new("X").meta("budget", json!({"op": "allocate", "warn_threshold_pct": 300}))).unwrap();
    let b = Budgeter::open(cfg, Arc::new(store)).unwrap();
    let st = b.state().unwrap();
    assert_eq!(st.malformed, vec![0, 1, 3, 4, 5, 6]);
    assert!(st.scopes.is_empty(), "nothing of a malformed operation is applied: {:?}", st.scopes);
}

#[test]
fn every_budget_op_round_trips_through_an_entry() {
    let ops = [
        BudgetOp::Allocate {
            scope: "tenant/a".into(),
            max_tokens: Some(10),
            max_cost_micros: None,
            warn_threshold_pct: 80,
            source: "operator".into(),
        },
        BudgetOp::Warn { scope: "tenant/a".into(), used_tokens: 9, used_micros: 1 },
        BudgetOp::Reserve(Reservation {
            reservation_id: "r1".into(),
            scopes: vec!["tenant/a".into()],
            tokens: 3,
            micros: 4,
            provider: "mock".into(),
            at_ms: 5,
            price_book_version: "v1".into(),
        }),
        BudgetOp::Settle { reservation_id: "r1".into(), scopes: vec!["tenant/a".into()], tokens: 2, micros: 3 },
        BudgetOp::Release { reservation_id: "r1".into() },
    ];
    let store = crate::ledger::MemoryStore::new("HO1/prompts");
    for op in &ops {
        let e = store.append(NewEntry::new("X").meta("budget", op.to_value())).unwrap();
        assert_eq!(BudgetOp::of(&e).unwrap().unwrap(), *op);
    }
}

proptest::proptest! {
    /// `max_cost_micros(B, O)` bounds the cost of any usage with at most B input tokens (cached
    /// or not, in any split) and at most O output tokens, whatever the rates.
    #[test]
    fn max_cost_bounds_every_usage_within_the_reservation(
        rates in (0u64..20_000_000, 0u64..20_000_000, 0u64..20_000_000),
        bound in 0u64..100_000,
        out_cap in 0u64..100_000,
        frac in (0.0f64..=1.0, 0.0f64..=1.0, 0.0f64..=1.0),
    ) {
        let p = super::Price {
            provider: "p".into(),
            model: "*".into(),
            input_per_mtok: rates.0,
            cached_input_per_mtok: rates.1,
            output_per_mtok: rates.2,
        };
        let input = (bound as f64 * frac.0) as u64;
        let cached = (input as f64 * frac.1) as u64;
        let output = (out_cap as f64 * frac.2) as u64;
        proptest::prop_assert!(p.cost_micros(input, cached, output) <= p.max_cost_micros(bound, out_cap));
    }
}
