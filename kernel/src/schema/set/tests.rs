use super::*;

const ITEM: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://control-plane.invalid/schemas/item.schema.json",
  "type": "object",
  "additionalProperties": false,
  "required": ["name"],
  "properties": { "name": { "type": "string" }, "size": { "type": "integer", "minimum": 0 } }
}"#;

const LIST: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "$id": "https://control-plane.invalid/schemas/list.schema.json",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "items": { "type": "array", "items": { "$ref": "item.schema.json" } },
    "stages": { "type": "array", "items": { "type": "object", "properties": {
      "config": { "type": "object", "properties": { "limits": { "type": "object", "properties": {
        "max_entries": { "type": "integer" } } } } } } } }
  }
}"#;

fn set() -> SchemaSet {
    SchemaSet::from_texts([("item.schema.json", ITEM), ("list.schema.json", LIST)]).unwrap()
}

#[test]
fn refs_between_schemas_of_the_set_resolve_by_id() {
    let s = set();
    let ok = "items:\n  - name: a\n    size: 1\n";
    s.check_str("list", Path::new("l.yaml"), ok).unwrap();
    let bad = "items:\n  - name: a\n  - size: -1\n    extra: true\n";
    let DocumentError::Invalid { violations, .. } = s.check_str("list", Path::new("l.yaml"), bad).unwrap_err() else {
        panic!("expected Invalid")
    };
    // Every violation is reported: missing name, negative size, unknown field.
    assert_eq!(violations.len(), 3, "{violations:?}");
    let size = violations.iter().find(|v| v.instance_path == "/items/1/size").unwrap();
    assert_eq!((size.line, size.column), (Some(3), Some(11)));
    assert!(violations.iter().any(|v| v.instance_path == "/items/1" && v.message.contains("name")));
}

#[test]
fn violation_deep_in_config_keeps_its_line() {
    let s = set();
    let doc = "stages:\n  - config:\n      limits:\n        max_entries: lots\n";
    let e = s.check_str("list", Path::new("deep.yaml"), doc).unwrap_err();
    let DocumentError::Invalid { violations, path, schema } = &e else { panic!("{e}") };
    assert_eq!(path, Path::new("deep.yaml"));
    assert_eq!(schema, "list");
    assert_eq!(violations[0].instance_path, "/stages/0/config/limits/max_entries");
    assert_eq!((violations[0].line, violations[0].column), (Some(4), Some(22)));
    assert!(
        e.to_string().contains("deep.yaml:4:22: /stages/0/config/limits/max_entries: \"lots\" is not of type"),
        "{e}"
    );
    // The same document as JSON keeps its place too.
    let json = "{\"stages\": [\n {\"config\": {\"limits\": {\n   \"max_entries\": \"lots\"}}}]}";
    let DocumentError::Invalid { violations, .. } = s.check_str("list", Path::new("deep.json"), json).unwrap_err()
    else {
        panic!()
    };
    assert_eq!((violations[0].line, violations[0].column), (Some(3), Some(19)));
}

#[test]
fn remote_ref_is_refused_when_loading() {
    let remote = r#"{"$id": "https://control-plane.invalid/schemas/r.schema.json",
        "properties": {"x": {"$ref": "https://example.com/x.json"}}}"#;
    let e = SchemaSet::from_texts([("r.schema.json", remote)]).unwrap_err();
    assert!(matches!(&e, SchemaError::RemoteRef { reference, .. } if reference == "https://example.com/x.json"), "{e}");
    assert!(e.to_string().contains("remote references are refused"), "{e}");
}

#[test]
fn relative_ref_outside_the_set_fails_closed() {
    let dangling = r#"{"$id": "https://control-plane.invalid/schemas/d.schema.json",
        "properties": {"x": {"$ref": "missing.schema.json"}}}"#;
    let e = SchemaSet::from_texts([("d.schema.json", dangling)]).unwrap_err();
    assert!(e.to_string().contains("missing.schema.json"), "{e}");
}

#[test]
fn unknown_schema_is_an_error() {
    assert!(matches!(set().validate("nope", &Value::Null), Err(DocumentError::UnknownSchema(n)) if n == "nope"));
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Item {
    name: String,
    size: u8,
}

#[test]
fn decode_errors_carry_the_field_path_and_location() {
    let s = set();
    // Valid for the schema (size is a non-negative integer) but not for u8.
    let e = s.load_str::<Item>("item", Path::new("i.yaml"), "name: a\nsize: 300\n").unwrap_err();
    let DocumentError::Decode { message, .. } = &e else { panic!("{e}") };
    assert!(message.starts_with("2:7: /size: "), "{message}");
    let e = s.load_str::<Item>("item", Path::new("i.json"), "{\"name\": \"a\",\n \"size\": 300}").unwrap_err();
    assert!(e.to_string().contains("i.json: 2:10: /size: "), "{e}");
}

#[test]
fn schema_text_is_checked_against_the_meta_schema() {
    let s = set();
    s.check_schema_text(Path::new("ok.schema.json"), ITEM).unwrap();
    let bad = "{\n  \"type\": \"objekt\",\n  \"minimum\": \"x\"\n}";
    let DocumentError::Invalid { violations, schema, .. } =
        s.check_schema_text(Path::new("bad.schema.json"), bad).unwrap_err()
    else {
        panic!()
    };
    assert_eq!(schema, "meta-schema");
    assert!(violations.iter().any(|v| v.instance_path == "/type" && v.line == Some(2)), "{violations:?}");
    assert!(violations.iter().any(|v| v.instance_path == "/minimum" && v.line == Some(3)), "{violations:?}");
    let remote = r#"{"properties": {"x": {"$ref": "https://example.com/x.json"}}}"#;
    let e = s.check_schema_text(Path::new("r.schema.json"), remote).unwrap_err();
    assert!(e.to_string().contains("https://example.com/x.json"), "{e}");
}

#[test]
fn every_embedded_schema_compiles_and_is_meta_valid() {
    let s = SchemaSet::embedded().unwrap();
    for (file, text) in EMBEDDED_SCHEMAS {
        s.check_schema_text(Path::new(file), text).unwrap_or_else(|e| panic!("{file}: {e}"));
        let v: Value = serde_json::from_str(text).unwrap();
        assert!(v.get("$id").is_some(), "{file} has no $id");
        assert!(v.get("description").is_some(), "{file} has no description");
    }
    for n in ["layout", "plane_config", "ledger_entry", "ledger_entry_metadata"] {
        assert!(s.contains(n), "{n}");
    }
}

#[test]
fn infer_schema_names() {
    let s = SchemaSet::embedded().unwrap();
    assert_eq!(infer_schema_name(Path::new("x/HOT/config/layout.json"), &s).as_deref(), Some("layout"));
    assert_eq!(infer_schema_name(Path::new("HOT/plane/plane.json"), &s).as_deref(), Some("plane_config"));
    assert_eq!(infer_schema_name(Path::new("FMWK-001_X/manifest.yaml"), &s).as_deref(), Some("framework"));
    assert_eq!(infer_schema_name(Path::new("layout.schema.json"), &s), None);
    assert_eq!(infer_schema_name(Path::new("random.txt"), &s), None);
}
