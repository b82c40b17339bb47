//! The schema service against real files: plane overrides, directories, hostile input.

use std::path::Path;

use cp_kernel::{DocumentError, ParseLimits, SchemaError, SchemaSet, testkit::TempPlane};

const SMALL: &str = r#"{"$schema": "https://json-schema.org/draft/2020-12/schema",
 "$id": "https://control-plane.invalid/schemas/small.schema.json",
 "type": "object", "additionalProperties": false,
 "properties": {"n": {"type": "integer"}, "s": {"type": "string"}}}"#;

#[test]
fn plane_schemas_override_embedded_ones() {
    let tp = TempPlane::new();
    let dir = tp.plane.dir(cp_kernel::Tier::Hot, "schemas");
    // An installed layout schema that also requires a "colour".
    let mut layout: serde_json::Value =
        serde_json::from_str(cp_kernel::EMBEDDED_SCHEMAS.iter().find(|(f, _)| *f == "layout.schema.json").unwrap().1)
            .unwrap();
    layout["required"].as_array_mut().unwrap().push("colour".into());
    std::fs::write(dir.join("layout.schema.json"), layout.to_string()).unwrap();
    std::fs::write(dir.join("small.schema.json"), SMALL).unwrap();
    let set = SchemaSet::for_plane(&tp.plane).unwrap();
    assert!(set.contains("small") && set.contains("ledger_entry"));
    let v: serde_json::Value = serde_json::from_str(cp_kernel::DEFAULT_LAYOUT_JSON).unwrap();
    let e = set.validate("layout", &v).unwrap_err();
    assert!(e.to_string().contains("colour"), "{e}");
    assert!(SchemaSet::embedded().unwrap().validate("layout", &v).is_ok());
}

#[test]
fn load_dir_refuses_a_schema_with_a_remote_ref() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("small.schema.json"), SMALL).unwrap();
    std::fs::write(
        d.path().join("evil.schema.json"),
        r#"{"type": "object", "properties": {"x": {"$ref": "https://example.com/x.json"}}}"#,
    )
    .unwrap();
    let e = SchemaSet::load_dir(d.path()).unwrap_err();
    assert!(matches!(&e, SchemaError::RemoteRef { path, .. } if path.ends_with("evil.schema.json")), "{e}");
}

#[test]
fn huge_document_is_refused_before_it_is_read() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("big.json");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(50 * 1024 * 1024).unwrap();
    let set = SchemaSet::from_texts([("small.schema.json", SMALL)]).unwrap();
    let e = set.load_document::<serde_json::Value>("small", &p).unwrap_err();
    assert!(matches!(e, DocumentError::TooLarge { size, .. } if size == 50 * 1024 * 1024), "{e}");
    // The limit is a setting.
    let tight = set.with_limits(ParseLimits { max_document_bytes: 10, ..ParseLimits::default() });
    std::fs::write(&p, "{\"n\": 12345678}").unwrap();
    assert!(matches!(tight.load_document::<serde_json::Value>("small", &p), Err(DocumentError::TooLarge { .. })));
}

#[test]
fn every_violation_is_reported_with_its_place() {
    let set = SchemaSet::from_texts([("small.schema.json", SMALL)]).unwrap();
    let e = set.load_str::<serde_json::Value>("small", Path::new("x.yaml"), "n: one\ns: 2\nz: true\n").unwrap_err();
    let DocumentError::Invalid { violations, .. } = e else { panic!() };
    let mut got: Vec<(String, Option<usize>)> = violations.iter().map(|v| (v.instance_path.clone(), v.line)).collect();
    got.sort();
    // The unexpected property is located at itself (line 3), not at its object.
    assert_eq!(got, [("".to_string(), Some(3)), ("/n".to_string(), Some(1)), ("/s".to_string(), Some(2))]);
}

#[test]
fn yaml_alias_bomb_is_refused_without_panic() {
    let set = SchemaSet::from_texts([("small.schema.json", SMALL)]).unwrap();
    let mut s = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
    let mut prev = "a".to_string();
    for i in 0..9 {
        let n = format!("l{i}");
        s.push_str(&format!("{n}: &{n} [{}]\n", vec![format!("*{prev}"); 10].join(",")));
        prev = n;
    }
    let e = set.load_str::<serde_json::Value>("small", Path::new("bomb.yaml"), &s).unwrap_err();
    assert!(matches!(e, DocumentError::Parse { .. }), "{e}");
}
