//! The validator on the AEF fixtures, and the schema as the single source of truth.

use aef::{ExtensionRegistry, Input, Limits, Validator, validate_stream};
use serde_json::json;

use crate::support::fixture;

fn run(rel: &str, strict: bool) -> (aef::Summary, Vec<aef::Finding>) {
    let v = Validator::new(strict).unwrap();
    let mut found = Vec::new();
    let input = Input::open(&fixture(rel)).unwrap();
    let s = validate_stream(&v, input, &Limits::default(), &mut |f| found.push(f.clone())).unwrap();
    (s, found)
}

#[test]
fn valid_core_file_has_every_core_type() {
    let (s, found) = run("aef/valid-core.jsonl", true);
    assert!(found.is_empty(), "{found:?}");
    assert_eq!((s.entries, s.valid, s.core, s.extension), (7, 7, 7, 0));
    for t in aef::CORE_TYPES {
        assert!(s.by_type.contains_key(t), "{t}");
    }
}

#[test]
fn extensions_pass_through_but_strict_wants_a_schema() {
    let (s, found) = run("aef/valid-extension.jsonl", false);
    assert!(found.is_empty(), "{found:?}");
    assert_eq!((s.core, s.extension), (1, 3));
    let (s, found) = run("aef/valid-extension.jsonl", true);
    assert_eq!(s.invalid, 2, "warmhub.* and acme.* have no registered schema: {found:?}");
    assert!(found.iter().all(|f| f.path == "/type"));
}

#[test]
fn a_registered_namespace_schema_is_enforced() {
    let mut r = ExtensionRegistry::with_builtin().unwrap();
    r.register(
        "warmhub.belief",
        &json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "required": ["query", "snapshot"],
                "properties": {"snapshot": {"required": ["hypotheses", "assertions", "finish_ready"]}}}),
    )
    .unwrap();
    let v = Validator::with_extensions(r, false).unwrap();
    let ok = json!({"v":1,"id":"x","ts":1,"sid":"s","type":"warmhub.belief.query","query":"q","snapshot":{"hypotheses":[],"assertions":0,"finish_ready":false}});
    assert!(v.check_value(&ok).is_valid());
    let bad = json!({"v":1,"id":"x","ts":1,"sid":"s","type":"warmhub.belief.query","query":"q","snapshot":{}});
    let verdict = v.check_value(&bad);
    assert!(
        verdict.problems.iter().any(|p| p.path == "/snapshot/hypotheses" && p.message.contains("warmhub.belief")),
        "{verdict:?}"
    );
}

#[test]
fn invalid_file_reports_each_problem_with_line_and_path() {
    let (s, found) = run("aef/invalid.jsonl", false);
    assert_eq!((s.entries, s.valid, s.invalid), (9, 1, 8));
    let at = |line: u64, path: &str| found.iter().any(|f| f.line == line && f.path == path);
    assert!(at(2, "/id") && at(2, "/ts") && at(2, "/sid"), "{found:#?}");
    assert!(
        found.iter().any(|f| f.line == 3 && f.path == "/type" && f.message.contains("neither a core type")),
        "{found:#?}"
    );
    assert!(at(4, "/role"));
    assert!(found.iter().any(|f| f.line == 5 && f.message.starts_with("not JSON")));
    assert!(found.iter().any(|f| f.line == 6 && f.path == "/tokens" && f.message.contains("cache")));
    assert!(at(7, "/ts") && at(7, "/status"));
    assert!(at(8, "/success") && at(8, "/result"));
    assert!(at(9, "/v"));
    assert!(found.iter().all(|f| f.file.ends_with("invalid.jsonl")));
}

#[test]
fn the_spec_documents_every_field_the_schema_defines() {
    let spec = String::from_utf8(crate::support::read(fixture("../../docs/AEF-spec-v0.1.md"))).unwrap();
    let schema = aef::core_value().unwrap();
    for def in ["sessionStart", "sessionEnd", "message", "toolCall", "toolResult", "error"] {
        for field in schema["$defs"][def]["properties"].as_object().unwrap().keys() {
            assert!(spec.contains(&format!("`{field}`")), "spec does not document `{field}` of {def}");
        }
    }
    for field in schema["properties"].as_object().unwrap().keys() {
        assert!(spec.contains(&format!("`{field}`")), "spec does not document base field `{field}`");
    }
    for field in schema["$defs"]["tokens"]["properties"].as_object().unwrap().keys() {
        assert!(spec.contains(&format!("`tokens.{field}`")), "spec does not pin `tokens.{field}`");
    }
    let embedded = String::from_utf8(crate::support::read(fixture("../../docs/AEF-spec-v0.1.md"))).unwrap();
    assert!(embedded.contains("schema/core.schema.json"));
}
