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

mod props {
    use super::*;
    use proptest::prelude::*;

    fn arb_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|i| Value::Number(i.into())),
            (-1000i32..1000, 1u32..100).prop_map(|(a, b)| serde_json::json!(f64::from(a) + f64::from(b) / 128.0)),
            "[a-z~/ é\"\\\\:#-]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 40, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z~/ é:#-]{1,6}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Every JSON pointer of `v` with the value there.
    fn pointers<'a>(v: &'a Value, ptr: String, out: &mut Vec<(String, &'a Value)>) {
        out.push((ptr.clone(), v));
        match v {
            Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| {
                let mut p = ptr.clone();
                push_segment(&mut p, &i.to_string());
                pointers(x, p, out)
            }),
            Value::Object(m) => m.iter().for_each(|(k, x)| {
                let mut p = ptr.clone();
                push_segment(&mut p, k);
                pointers(x, p, out)
            }),
            _ => {}
        }
    }

    fn char_at(text: &str, line: usize, column: usize) -> Option<char> {
        text.lines().nth(line - 1)?.chars().nth(column - 1)
    }

    proptest! {
        /// In JSON text (pretty or compact) every value is located exactly where its own
        /// serialization starts.
        #[test]
        fn json_locations_point_at_each_value(v in arb_value(), pretty in any::<bool>()) {
            let text = if pretty { serde_json::to_string_pretty(&v).unwrap() } else { serde_json::to_string(&v).unwrap() };
            let d = parse_located(Path::new("p.json"), &text, &ParseLimits::default()).unwrap();
            prop_assert_eq!(&d.value, &v);
            let mut ps = Vec::new();
            pointers(&v, String::new(), &mut ps);
            for (p, x) in ps {
                let (l, c) = d.locations.find(&p).unwrap();
                prop_assert_eq!(d.locations.pointer_at(l, c).map(|q| q.len() >= p.len()), Some(true));
                let first = serde_json::to_string(x).unwrap().chars().next().unwrap();
                prop_assert_eq!(char_at(&text, l, c), Some(first), "{} at {}:{}", p, l, c);
            }
        }

        /// YAML written by serde-saphyr parses back to the same value with every value located.
        #[test]
        fn yaml_round_trip_locates_every_value(v in arb_value()) {
            let text = serde_saphyr::to_string(&v).unwrap();
            let d = parse_located(Path::new("p.yaml"), &text, &ParseLimits::default()).unwrap();
            prop_assert_eq!(&d.value, &v, "{}", text);
            let mut ps = Vec::new();
            pointers(&v, String::new(), &mut ps);
            let lines = text.lines().count().max(1);
            for (p, _) in ps {
                let (l, _) = d.locations.find(&p).unwrap();
                prop_assert!(l >= 1 && l <= lines + 1, "{} at line {} of {}", p, l, lines);
            }
        }
    }
}
