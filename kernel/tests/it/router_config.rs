//! The shipped configs validate against their schemas and decode into their structs; a plane
//! without them is refused with the file and the package that ships it; inconsistent configs
//! are refused.

use std::sync::Arc;

use cp_kernel::{
    BudgetConfig, ManualClock, PriceBook, PromptContract, PromptRouter, RouterConfig, RouterError, RouterOptions,
    SchemaSet, testkit::TempPlane,
};
use serde_json::json;

use crate::router_support::*;

#[test]
fn shipped_configs_validate_and_decode() {
    let s = SchemaSet::embedded().unwrap();
    let root = std::path::Path::new(REPO).join("packages");
    let r: RouterConfig =
        s.load_document("router_config", &root.join("PKG-PROMPT-ROUTER-001/HOT/config/router_config.yaml")).unwrap();
    assert!(r.providers.contains_key(&r.default_provider));
    let b: BudgetConfig =
        s.load_document("budget_config", &root.join("PKG-TOKEN-BUDGETER-001/HOT/config/budget_config.yaml")).unwrap();
    assert!(b.chars_per_token > 0);
    let p: PriceBook =
        s.load_document("price_book", &root.join("PKG-TOKEN-BUDGETER-001/HOT/config/price_book.yaml")).unwrap();
    assert!(p.version_at(T0).unwrap().price(&r.default_provider, "anything").is_some());
    // The shipped contract decodes (and validates once the prompt_contract schema is embedded).
    let path = root.join("PKG-PROMPT-ROUTER-001/HOT/contracts/PRC-QUICKSTART-001.yaml");
    if s.names().any(|n| n == "prompt_contract") {
        PromptContract::load(&s, &path).unwrap();
    } else {
        let v = cp_kernel::parse_document(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
        serde_json::from_value::<PromptContract>(v).unwrap();
    }
}

#[test]
fn unknown_keys_and_bad_values_are_refused_by_the_schema() {
    let s = SchemaSet::embedded().unwrap();
    let mut r = router_cfg();
    r["retries"]["max_atempts"] = json!(3);
    assert!(s.validate("router_config", &r).is_err());
    let mut r = router_cfg();
    r["log_content"] = json!("some");
    assert!(s.validate("router_config", &r).is_err());
    let mut b = budget_cfg();
    b["defaults"]["tenant"]["warn_threshold_pct"] = json!(101);
    assert!(s.validate("budget_config", &b).is_err());
    let mut p = price_book();
    p["versions"][0]["prices"][0]["input_per_mtok"] = json!(1.5);
    assert!(s.validate("price_book", &p).is_err(), "prices are integers: no float drift");
}

fn open(tp: &TempPlane) -> Result<PromptRouter, RouterError> {
    PromptRouter::open(&tp.plane, RouterOptions::new().clock(Arc::new(ManualClock::new(T0))).auth_secret(secret()))
}

#[test]
fn missing_config_names_the_file_and_package() {
    let tp = TempPlane::new();
    let err = open(&tp).unwrap_err();
    let RouterError::MissingConfig { path, package } = &err else { panic!("{err:?}") };
    assert!(path.ends_with("HOT/config/router_config.yaml"));
    assert_eq!(*package, "PKG-PROMPT-ROUTER-001");
    let (r, b, p) = test_configs();
    write_configs(&tp, &r, &b, &p);
    std::fs::remove_file(tp.plane.root().join("HOT/config/price_book.yaml")).unwrap();
    let err = open(&tp).unwrap_err();
    assert!(err.to_string().contains("price_book.yaml") && err.to_string().contains("PKG-TOKEN-BUDGETER-001"), "{err}");
}

#[test]
fn inconsistent_configs_are_refused() {
    let tp = TempPlane::new();
    let (mut r, b, p) = test_configs();
    r["fallback_providers"] = json!(["nowhere"]);
    write_configs(&tp, &r, &b, &p);
    assert!(matches!(open(&tp), Err(RouterError::InvalidConfig { .. })));
    let (mut r, b, p) = test_configs();
    r["providers"]["mock"]["surprise"] = json!(1);
    write_configs(&tp, &r, &b, &p);
    let err = open(&tp).unwrap_err();
    assert!(matches!(err, RouterError::Document(_)), "{err:?}");
}
