use super::*;

fn yaml(text: &str) -> Result<LocatedDocument, DocumentError> {
    parse_located(Path::new("t.yaml"), text, &ParseLimits::default())
}

fn json(text: &str) -> Result<LocatedDocument, DocumentError> {
    parse_located(Path::new("t.json"), text, &ParseLimits::default())
}

#[test]
fn yaml_locations_of_nested_values() {
    let d = yaml("a: 1\npipeline:\n  - stage: x\n    config:\n      max_entries: 5\n  - stage: y\n").unwrap();
    assert_eq!(d.value["pipeline"][0]["config"]["max_entries"], 5);
    assert_eq!(d.locations.find("/a"), Some((1, 4)));
    assert_eq!(d.locations.find("/pipeline/0/config/max_entries"), Some((5, 20)));
    assert_eq!(d.locations.find("/pipeline/1/stage"), Some((6, 12)));
    // A pointer below a scalar falls back to the nearest located ancestor.
    assert_eq!(d.locations.find("/pipeline/1/stage/nope"), Some((6, 12)));
    assert_eq!(d.locations.pointer_at(5, 20), Some("/pipeline/0/config/max_entries"));
}

#[test]
fn json_locations_of_nested_values_and_non_ascii_columns() {
    let d = json("{\n  \"é\": \"ü\", \"b\": [1, {\"c/d\": true}],\n  \"e\": null\n}").unwrap();
    assert_eq!(d.locations.find(""), Some((1, 1)));
    assert_eq!(d.locations.find("/é"), Some((2, 8)));
    assert_eq!(d.locations.find("/b"), Some((2, 18)));
    assert_eq!(d.locations.find("/b/1/c~1d"), Some((2, 30)));
    assert_eq!(d.locations.find("/e"), Some((3, 8)));
}

#[test]
fn duplicate_keys_are_errors() {
    let e = yaml("a: 1\nb: 2\na: 3\n").unwrap_err();
    assert!(matches!(e, DocumentError::Parse { line: 3, .. }), "{e}");
    let e = json("{\"a\": 1,\n \"a\": 2}").unwrap_err();
    assert!(matches!(e, DocumentError::Parse { line: 2, column: 2, .. }), "{e}");
    assert!(e.to_string().contains("duplicate key \"a\""), "{e}");
}

#[test]
fn alias_bomb_is_refused() {
    let mut s = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
    let mut prev = "a";
    for n in names {
        s.push_str(&format!("{n}: &{n} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        prev = n;
    }
    let e = yaml(&s).unwrap_err();
    assert!(matches!(e, DocumentError::Parse { .. }), "{e}");
}

#[test]
fn deep_nesting_is_refused_in_yaml_and_json() {
    let deep = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    assert!(matches!(yaml(&deep).unwrap_err(), DocumentError::Parse { .. }));
    let e = json(&deep).unwrap_err();
    assert!(e.to_string().contains("nesting"), "{e}");
    // Within the limit is fine.
    let ok = format!("{}1{}", "[".repeat(10), "]".repeat(10));
    yaml(&ok).unwrap();
    json(&ok).unwrap();
}

#[test]
fn huge_document_is_refused_before_parsing() {
    let limits = ParseLimits { max_document_bytes: 1000, ..ParseLimits::default() };
    let text = format!("{{\"a\": \"{}\"}}", "x".repeat(2000));
    let e = parse_located(Path::new("big.json"), &text, &limits).unwrap_err();
    assert!(matches!(e, DocumentError::TooLarge { size, limit: 1000, .. } if size == text.len()), "{e}");
}

#[test]
fn limits_are_settings() {
    let tight = ParseLimits { max_depth: 3, ..ParseLimits::default() };
    let doc = "a:\n  b:\n    c:\n      d: 1\n";
    assert!(parse_located(Path::new("x.yaml"), doc, &tight).is_err());
    parse_located(Path::new("x.yaml"), doc, &ParseLimits::default()).unwrap();
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let e = yaml("a: [1, 2\nb: 3\n").unwrap_err();
    assert!(matches!(e, DocumentError::Parse { line, .. } if line > 0), "{e}");
    let e = json("{\"a\": 1,,}").unwrap_err();
    assert!(matches!(e, DocumentError::Parse { line: 1, column: 9, .. }), "{e}");
}

#[test]
fn yaml_scalars_keep_their_json_types() {
    let d = yaml("i: -3\nu: 18446744073709551615\nf: 1.5\nb: true\nn: ~\ns: 'NO'\n").unwrap();
    assert_eq!(
        d.value,
        serde_json::json!({"i": -3, "u": 18446744073709551615u64, "f": 1.5, "b": true, "n": null, "s": "NO"})
    );
}
