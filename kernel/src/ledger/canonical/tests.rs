use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn canon(text: &str) -> String {
    let v: Value = serde_json::from_str(text).unwrap();
    String::from_utf8(to_vec(&v)).unwrap()
}

fn num_bits(bits: u64) -> String {
    let mut out = Vec::new();
    write_es_number(f64::from_bits(bits), &mut out);
    String::from_utf8(out).unwrap()
}

/// RFC 8785 Appendix B, every finite sample.
#[test]
fn rfc8785_appendix_b_numbers() {
    let table: &[(u64, &str)] = &[
        (0x0000000000000000, "0"),
        (0x8000000000000000, "0"),
        (0x0000000000000001, "5e-324"),
        (0x8000000000000001, "-5e-324"),
        (0x7fefffffffffffff, "1.7976931348623157e+308"),
        (0xffefffffffffffff, "-1.7976931348623157e+308"),
        (0x4340000000000000, "9007199254740992"),
        (0xc340000000000000, "-9007199254740992"),
        (0x4430000000000000, "295147905179352830000"),
        (0x44b52d02c7e14af5, "9.999999999999997e+22"),
        (0x44b52d02c7e14af6, "1e+23"),
        (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
        (0x444b1ae4d6e2ef4e, "999999999999999700000"),
        (0x444b1ae4d6e2ef4f, "999999999999999900000"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
        (0x3eb0c6f7a0b5ed8d, "0.000001"),
        (0x41b3de4355555553, "333333333.3333332"),
        (0x41b3de4355555554, "333333333.33333325"),
        (0x41b3de4355555555, "333333333.3333333"),
        (0x41b3de4355555556, "333333333.3333334"),
        (0x41b3de4355555557, "333333333.33333343"),
        (0xbecbf647612f3696, "-0.0000033333333333333333"),
        (0x43143ff3c1cb0959, "1424953923781206.2"),
    ];
    for &(bits, want) in table {
        assert_eq!(num_bits(bits), want, "bits {bits:016x}");
    }
}

/// RFC 8785 §3.2.2 example (numbers, string escaping, literals).
#[test]
fn rfc8785_section_3_2_2_example() {
    let input = r#"{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }"#;
    assert_eq!(
        canon(input),
        "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\
         \"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
    );
}

/// RFC 8785 §3.2.3 sorting example: keys ordered by UTF-16 code units.
#[test]
fn rfc8785_section_3_2_3_key_order() {
    let input = r#"{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }"#;
    let v: Value = serde_json::from_str(&canon(input)).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["\r", "1", "\u{80}", "\u{f6}", "\u{20ac}", "\u{1F600}", "\u{fb33}"]);
    // UTF-8 byte order would put U+FB33 before the emoji: prove the test can fail.
    assert!("\u{fb33}".as_bytes() < "\u{1F600}".as_bytes());
}

/// The reference implementation's test data (cyberphone/json-canonicalization `testdata/`).
#[test]
fn reference_testdata() {
    let cases: &[(&str, &str)] = &[
        (r#"[56, {"d": true, "10": null, "1": [ ]}]"#, r#"[56,{"1":[],"10":null,"d":true}]"#),
        (
            r#"{"peach": "a", "péché": "b", "pêche": "c", "sin": "d"}"#,
            r#"{"peach":"a","péché":"b","pêche":"c","sin":"d"}"#,
        ),
        (
            r#"{"1": {"f": {"f": "hi","F": 5} ,"\n": 56.0}, "10": { }, "": "empty", "a": { }, "111": [ { } ], "A": { }}"#,
            r#"{"":"empty","1":{"\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{}],"A":{},"a":{}}"#,
        ),
        (r#"{"Unnormalized Unicode":"A\u030a"}"#, "{\"Unnormalized Unicode\":\"A\u{30a}\"}"),
        (
            r#"{"\u20ac": "Euro Sign", "1": "One", "\u0080": "Control\u007f", "\ud83d\ude02": "Smiley",
                "\u00f6": "Latin Small Letter O With Diaeresis", "\ufb33": "Hebrew Letter Dalet With Dagesh",
                "</script>": "Browser Challenge"}"#,
            "{\"1\":\"One\",\"</script>\":\"Browser Challenge\",\"\u{80}\":\"Control\u{7f}\",\
             \"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"\u{1F602}\":\"Smiley\",\
             \"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(&canon(input), want, "input {input}");
    }
}

#[test]
fn control_characters_and_escapes() {
    let v = json!("\u{0}\u{1f}\u{8}\u{c}\n\r\t\"\\/\u{7f}\u{2028}é");
    assert_eq!(String::from_utf8(to_vec(&v)).unwrap(), "\"\\u0000\\u001f\\b\\f\\n\\r\\t\\\"\\\\/\u{7f}\u{2028}é\"");
}

#[test]
fn integers_beyond_2_pow_53_are_ieee_doubles() {
    assert_eq!(canon("9007199254740992"), "9007199254740992");
    assert_eq!(canon("9007199254740993"), "9007199254740992");
    assert_eq!(canon("-9007199254740993"), "-9007199254740992");
    assert_eq!(canon("18446744073709551615"), "18446744073709552000");
    assert_eq!(canon("1000000000000000000000"), "1e+21");
    assert_eq!(canon("-0"), "0");
    assert_eq!(canon("-0.0"), "0");
    assert_eq!(canon("1e-7"), "1e-7");
    assert_eq!(canon("123e-20"), "1.23e-18");
    assert_eq!(canon("0.1"), "0.1");
    assert_eq!(canon("100"), "100");
    assert_eq!(canon("1.5e300"), "1.5e+300");
}

fn naive_sorted(keys: &[String]) -> Vec<String> {
    let mut k: Vec<(Vec<u16>, String)> = keys.iter().map(|s| (s.encode_utf16().collect(), s.clone())).collect();
    k.sort();
    k.into_iter().map(|(_, s)| s).collect()
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-(1i64 << 53)..=(1i64 << 53)).prop_map(|i| json!(i)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        "\\PC*".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Numbers compared by value: canonical output re-parses to the same doubles.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

proptest! {
    #[test]
    fn reparses_equal_and_idempotent(v in arb_json()) {
        let c = to_vec(&v);
        let back: Value = serde_json::from_slice(&c).unwrap();
        prop_assert!(same(&v, &back), "{v} vs {back}");
        prop_assert_eq!(to_vec(&back), c);
    }

    #[test]
    fn keys_follow_utf16_order(keys in prop::collection::btree_set(any::<String>(), 0..12)) {
        let m: serde_json::Map<String, Value> = keys.iter().map(|k| (k.clone(), Value::Null)).collect();
        let back: Value = serde_json::from_slice(&to_vec(&Value::Object(m))).unwrap();
        let got: Vec<String> = back.as_object().unwrap().keys().cloned().collect();
        let all: Vec<String> = keys.into_iter().collect();
        prop_assert_eq!(got, naive_sorted(&all));
    }

    #[test]
    fn numbers_round_trip_and_are_shortest(bits in any::<u64>()) {
        let x = f64::from_bits(bits);
        prop_assume!(x.is_finite());
        let mut out = Vec::new();
        write_es_number(x, &mut out);
        let s = String::from_utf8(out).unwrap();
        let back: f64 = s.parse().unwrap();
        prop_assert_eq!(back, if x == 0.0 { 0.0 } else { x });
        // Shortest: one digit fewer, correctly rounded, no longer round-trips.
        if x != 0.0 {
            let (digits, _) = shortest_digits(x);
            prop_assert!(!digits.ends_with('0') || digits == "0");
            if digits.len() > 1 {
                let fewer = format!("{:.*e}", digits.len() - 2, x);
                prop_assert_ne!(fewer.parse::<f64>().unwrap(), x, "{} shortens to {}", s, fewer);
            }
        }
    }
}
