//! The plane reads its own documents through the schema service.

use std::error::Error as _;

use cp_kernel::{
    DEFAULT_LAYOUT_JSON, DocumentError, LAYOUT_PATH, Layout, Plane, PlaneConfig, PlaneError, SchemaSet,
    testkit::TempPlane,
};

fn shipped_layout_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../packages/PKG-LAYOUT-001/HOT/config/layout.json")
}

#[test]
fn shipped_layout_validates_and_decodes_with_nothing_unknown() {
    let path = shipped_layout_path();
    let set = SchemaSet::embedded().unwrap();
    let layout: Layout = set.load_document("layout", &path).unwrap();
    assert_eq!(layout, Layout::default_layout());
    // Nothing unknown: every key of the shipped document survives a decode/encode round trip.
    let shipped: serde_json::Value = serde_json::from_str(DEFAULT_LAYOUT_JSON).unwrap();
    let back = serde_json::to_value(&layout).unwrap();
    fn covered(a: &serde_json::Value, b: &serde_json::Value) -> bool {
        match (a, b) {
            (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
                x.iter().all(|(k, v)| y.get(k).is_some_and(|w| covered(v, w)))
            }
            _ => a == b,
        }
    }
    assert!(covered(&shipped, &back), "{shipped} vs {back}");
    // And what the struct writes validates again.
    set.validate("layout", &back).unwrap();
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(" / ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[test]
fn bad_layout_gives_file_line_column_and_field_path() {
    let tp = TempPlane::new();
    let path = tp.plane.root().join(LAYOUT_PATH);
    let bad = DEFAULT_LAYOUT_JSON
        .replace("\"durability\": \"full\"", "\"durability\": \"sometimes\"")
        .replace("\"schema_version\": \"1.0\",", "\"schema_version\": \"1.0\",\n  \"colour\": \"blue\",");
    std::fs::write(&path, &bad).unwrap();
    let e = Plane::open(tp.plane.root()).unwrap_err();
    let PlaneError::Document(DocumentError::Invalid { violations, .. }) = &e else { panic!("{e}") };
    assert_eq!(violations.len(), 2, "{violations:?}");
    let line_of = |needle: &str| bad.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let d = violations.iter().find(|v| v.instance_path == "/ledger/durability").unwrap();
    assert_eq!(d.line, Some(line_of("sometimes")));
    assert!(d.message.contains("sometimes"), "{d:?}");
    let extra = violations.iter().find(|v| v.instance_path.is_empty()).unwrap();
    assert!(extra.message.contains("colour"), "{extra:?}");
    let chain = source_chain(&e);
    assert!(chain.contains(&format!("{}:{}:", path.display(), line_of("sometimes"))), "{chain}");
    assert!(e.source().is_some());
}

#[test]
fn bad_plane_config_is_refused_with_location() {
    let tp = TempPlane::new();
    let path = PlaneConfig::path_in(tp.plane.root(), tp.plane.layout());
    std::fs::write(&path, "{\n  \"plane_id\": \"p\",\n  \"require_signatures\": \"yes\"\n}\n").unwrap();
    let e = Plane::open(tp.plane.root()).unwrap_err();
    let chain = source_chain(&e);
    assert!(
        chain.contains(&format!("{}:3:25: /require_signatures: \"yes\" is not of type \"boolean\"", path.display())),
        "{chain}"
    );
}

#[test]
fn busy_timeout_is_optional_with_default() {
    let tp = TempPlane::new();
    assert_eq!(tp.plane.layout().ledger.busy_timeout_ms, 5000);
    let without = DEFAULT_LAYOUT_JSON.replace(",\n    \"busy_timeout_ms\": 5000", "");
    assert_ne!(without, DEFAULT_LAYOUT_JSON);
    std::fs::write(tp.plane.root().join(LAYOUT_PATH), without).unwrap();
    assert_eq!(Plane::open(tp.plane.root()).unwrap().layout().ledger.busy_timeout_ms, 5000);
    let with = DEFAULT_LAYOUT_JSON.replace("\"busy_timeout_ms\": 5000", "\"busy_timeout_ms\": 250");
    assert_ne!(with, DEFAULT_LAYOUT_JSON, "the shipped layout sets busy_timeout_ms");
    std::fs::write(tp.plane.root().join(LAYOUT_PATH), with).unwrap();
    let p = Plane::open(tp.plane.root()).unwrap();
    assert_eq!(p.layout().ledger.busy_timeout_ms, 250);
    let neg = DEFAULT_LAYOUT_JSON.replace("\"busy_timeout_ms\": 5000", "\"busy_timeout_ms\": -1");
    std::fs::write(tp.plane.root().join(LAYOUT_PATH), neg).unwrap();
    assert!(Plane::open(tp.plane.root()).is_err());
}

#[test]
fn plane_config_written_by_init_validates() {
    let tp = TempPlane::new();
    let path = PlaneConfig::path_in(tp.plane.root(), tp.plane.layout());
    let set = SchemaSet::embedded().unwrap();
    let c: PlaneConfig = set.load_document("plane_config", &path).unwrap();
    assert_eq!(&c, tp.plane.config());
}

#[test]
fn init_refuses_a_plane_config_that_would_not_validate() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("p");
    let e = Plane::init(&root, PlaneConfig { plane_id: "has spaces".into(), ..PlaneConfig::default() }).unwrap_err();
    assert!(source_chain(&e).contains("/plane_id"), "{}", source_chain(&e));
    assert!(!root.join("HOT/plane/plane.json").exists());
}

#[test]
fn parse_limits_come_from_the_plane_config() {
    use cp_kernel::ParseLimits;
    // The defaults, written out, validate against the plane_config schema (schema and struct agree).
    let full = PlaneConfig { parse_limits: Some(ParseLimits::default()), ..PlaneConfig::default() };
    SchemaSet::embedded().unwrap().validate("plane_config", &serde_json::to_value(&full).unwrap()).unwrap();
    // A partial override keeps the other defaults and governs the plane's schema set.
    let tp = TempPlane::new();
    let path = PlaneConfig::path_in(tp.plane.root(), tp.plane.layout());
    std::fs::write(&path, "{\"plane_id\": \"p\", \"parse_limits\": {\"max_document_bytes\": 64}}").unwrap();
    let p = Plane::open(tp.plane.root()).unwrap();
    let limits = p.config().parse_limits.clone().unwrap();
    assert_eq!(limits, ParseLimits { max_document_bytes: 64, ..ParseLimits::default() });
    let set = SchemaSet::for_plane(&p).unwrap();
    assert_eq!(set.limits().max_document_bytes, 64);
    let doc = tp.dir.path().join("layout.json");
    std::fs::write(&doc, DEFAULT_LAYOUT_JSON).unwrap();
    assert!(matches!(set.load_document::<Layout>("layout", &doc), Err(DocumentError::TooLarge { limit: 64, .. })));
    // Unknown or mistyped limits are refused with their place.
    std::fs::write(&path, "{\"plane_id\": \"p\",\n \"parse_limits\": {\"max_dept\": 3}}").unwrap();
    let e = Plane::open(tp.plane.root()).unwrap_err();
    assert!(source_chain(&e).contains(":2:"), "{}", source_chain(&e));
}

#[test]
fn layout_busy_timeout_defaults_to_5000_ms() {
    let l = cp_kernel::Layout::default_layout();
    assert_eq!(l.ledger.busy_timeout_ms, 5000);
    let mut v: serde_json::Value = serde_json::from_str(cp_kernel::DEFAULT_LAYOUT_JSON).unwrap();
    v["ledger"].as_object_mut().unwrap().remove("busy_timeout_ms");
    let l: cp_kernel::Layout = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(l.ledger.busy_timeout_ms, 5000);
    v["ledger"]["busy_timeout_ms"] = serde_json::json!("soon");
    assert!(serde_json::from_value::<cp_kernel::Layout>(v).is_err());
}
