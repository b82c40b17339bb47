//! Validation of AEF entries and of whole AEF streams. An entry is checked against the core
//! schema (base fields, core type fields), then, for an extension type, against the schema
//! registered for its namespace, then against the token rules the schema cannot express
//! (`cached + cache_write <= input`, `reasoning <= output`). Streams are read line by line in
//! constant memory (one line, bounded by `Limits::max_line_bytes`); problems go to a callback as
//! they are found, never collected. Never prints.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::entry::{CORE_TYPES, Tokens};
use crate::input::{Input, InputError, Line};
use crate::limits::Limits;
use crate::schema::{ExtensionRegistry, SchemaError, compile, core_value};

/// Whether an entry is of a core type or an extension type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// One of the six core types.
    Core,
    /// A namespaced `vendor.category.type`.
    Extension,
}

/// One thing wrong with an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// JSON pointer of the offending value (`""` for the whole line).
    pub path: String,
    /// What is wrong, and what was expected.
    pub message: String,
}

/// The outcome of checking one entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// The entry's `type`, when it has a string one.
    pub type_name: Option<String>,
    /// Core or extension, when the type is well-formed.
    pub kind: Option<EntryKind>,
    /// Problems found (at most `Limits::max_problems_per_entry`).
    pub problems: Vec<Problem>,
    /// Problems found beyond the ones kept.
    pub more_problems: usize,
}

impl Verdict {
    /// True when nothing is wrong.
    pub fn is_valid(&self) -> bool {
        self.problems.is_empty()
    }

    fn push(&mut self, max: usize, path: impl Into<String>, message: impl Into<String>) {
        if self.problems.len() < max {
            self.problems.push(Problem { path: path.into(), message: message.into() });
        } else {
            self.more_problems += 1;
        }
    }
}

/// Checks AEF entries. Cheap to share across threads (`&self` only).
#[derive(Debug)]
pub struct Validator {
    core: jsonschema::Validator,
    extensions: ExtensionRegistry,
    strict: bool,
    max_problems: usize,
}

impl Validator {
    /// A validator with the built-in `aef.*` extension schema. In `strict` mode an extension type
    /// whose namespace has no registered schema is a problem.
    pub fn new(strict: bool) -> Result<Validator, SchemaError> {
        Validator::with_extensions(ExtensionRegistry::with_builtin()?, strict)
    }

    /// A validator with the given extension schemas.
    pub fn with_extensions(extensions: ExtensionRegistry, strict: bool) -> Result<Validator, SchemaError> {
        let core = compile("core", &core_value()?)?;
        Ok(Validator { core, extensions, strict, max_problems: Limits::default().max_problems_per_entry })
    }

    /// Sets how many problems are kept per entry.
    pub fn set_max_problems(&mut self, max: usize) {
        self.max_problems = max.max(1);
    }

    /// Checks one line of JSON text.
    pub fn check_line(&self, line: &[u8]) -> Verdict {
        match serde_json::from_slice::<Value>(line) {
            Ok(v) => self.check_value(&v),
            Err(e) => {
                let mut v = Verdict::default();
                v.push(self.max_problems, "", format!("not JSON: {} at column {}", strip_position(&e), e.column()));
                v
            }
        }
    }

    /// Checks one parsed entry.
    pub fn check_value(&self, entry: &Value) -> Verdict {
        let mut verdict = Verdict::default();
        let type_name = entry.get("type").and_then(Value::as_str);
        verdict.type_name = type_name.map(str::to_string);
        verdict.kind = type_name.and_then(classify);
        if !self.core.is_valid(entry) {
            for e in self.core.iter_errors(entry) {
                let (path, message) = describe(&e);
                verdict.push(self.max_problems, path, message);
            }
        }
        if verdict.kind == Some(EntryKind::Extension) {
            self.check_extension(entry, type_name.unwrap_or_default(), &mut verdict);
        }
        check_token_rules(entry, self.max_problems, &mut verdict);
        verdict
    }

    fn check_extension(&self, entry: &Value, type_name: &str, verdict: &mut Verdict) {
        match self.extensions.find(type_name) {
            Some((ns, schema)) if !schema.is_valid(entry) => {
                for e in schema.iter_errors(entry) {
                    let (path, message) = describe(&e);
                    verdict.push(self.max_problems, path, format!("{message} (extension schema {ns})"));
                }
            }
            Some(_) => {}
            None if self.strict => verdict.push(
                self.max_problems,
                "/type",
                format!("no schema is registered for the namespace of {type_name:?} (strict mode)"),
            ),
            None => {}
        }
    }
}

/// Core or extension by the `type` string alone; `None` when it is neither.
pub fn classify(type_name: &str) -> Option<EntryKind> {
    if CORE_TYPES.contains(&type_name) {
        return Some(EntryKind::Core);
    }
    let segments: Vec<&str> = type_name.split('.').collect();
    let ok = segments.len() >= 3
        && segments.iter().all(|s| {
            s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        });
    ok.then_some(EntryKind::Extension)
}

/// The token rules of spec §4 that JSON Schema cannot express.
fn check_token_rules(entry: &Value, max: usize, verdict: &mut Verdict) {
    let places: [(&str, Option<&Value>); 2] =
        [("/tokens", entry.get("tokens")), ("/summary/tokens", entry.get("summary").and_then(|s| s.get("tokens")))];
    for (path, v) in places {
        let Some(t) = v.and_then(Tokens::from_value) else { continue };
        let cache = t.cached.unwrap_or(0).saturating_add(t.cache_write.unwrap_or(0));
        if cache > t.input {
            verdict.push(
                max,
                path,
                format!(
                    "cached + cache_write ({cache}) exceeds input ({}): input must include cache reads and writes",
                    t.input
                ),
            );
        }
        if let Some(r) = t.reasoning
            && r > t.output
        {
            verdict.push(
                max,
                path,
                format!("reasoning ({r}) exceeds output ({}): output must include reasoning", t.output),
            );
        }
    }
}

/// The location and message of a schema error; a missing property is located at the property.
fn describe(e: &jsonschema::ValidationError<'_>) -> (String, String) {
    let mut path = e.instance_path().to_string();
    if let jsonschema::error::ValidationErrorKind::Required { property } = e.kind()
        && let Some(name) = property.as_str()
    {
        path.push('/');
        path.push_str(&name.replace('~', "~0").replace('/', "~1"));
        return (path, format!("required field {name:?} is missing"));
    }
    if path == "/type" && matches!(e.kind(), jsonschema::error::ValidationErrorKind::AnyOf { .. }) {
        let t = e.instance().to_string();
        return (
            path,
            format!(
                "{t} is neither a core type ({}) nor an extension type vendor.category.type",
                CORE_TYPES.join(", ")
            ),
        );
    }
    (path, e.to_string())
}

/// serde_json's message without its " at line L column C" tail (a line is reported apart).
fn strip_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// One problem found in a stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The input's display name.
    pub file: String,
    /// Line number, from 1.
    pub line: u64,
    /// JSON pointer within the entry.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Counts over one or more validated streams.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    /// Non-blank lines read.
    pub entries: u64,
    /// Entries without problems.
    pub valid: u64,
    /// Entries with at least one problem.
    pub invalid: u64,
    /// Entries of a core type (valid or not).
    pub core: u64,
    /// Entries of an extension type (valid or not).
    pub extension: u64,
    /// Blank lines (skipped; a problem in strict mode).
    pub blank: u64,
    /// Entries per `type` (first `Limits::max_types` names).
    pub by_type: BTreeMap<String, u64>,
    /// Entries whose type did not fit in `by_type`, or had no string type.
    pub other_types: u64,
}

impl Summary {
    /// Adds another summary's counts into this one.
    pub fn merge(&mut self, other: &Summary, max_types: usize) {
        self.entries += other.entries;
        self.valid += other.valid;
        self.invalid += other.invalid;
        self.core += other.core;
        self.extension += other.extension;
        self.blank += other.blank;
        self.other_types += other.other_types;
        for (k, n) in &other.by_type {
            self.count_type(Some(k), *n, max_types);
        }
    }

    fn count_type(&mut self, t: Option<&str>, n: u64, max_types: usize) {
        match t {
            Some(t) => {
                if let Some(count) = self.by_type.get_mut(t) {
                    *count += n;
                } else if self.by_type.len() < max_types {
                    self.by_type.insert(t.to_string(), n);
                } else {
                    self.other_types += n;
                }
            }
            None => self.other_types += n,
        }
    }

    fn count(&mut self, v: &Verdict, max_types: usize) {
        self.entries += 1;
        if v.is_valid() {
            self.valid += 1;
        } else {
            self.invalid += 1;
        }
        match v.kind {
            Some(EntryKind::Core) => self.core += 1,
            Some(EntryKind::Extension) => self.extension += 1,
            None => {}
        }
        self.count_type(v.type_name.as_deref(), 1, max_types);
    }
}

/// Validates every line of `input`, calling `on_problem` for each problem as it is found.
/// Returns the counts, or the read error that stopped it (the counts up to there are lost only
/// for that input).
pub fn validate_stream(
    validator: &Validator,
    input: Input,
    limits: &Limits,
    on_problem: &mut dyn FnMut(&Finding),
) -> Result<Summary, InputError> {
    let name = input.name.clone();
    let mut lines = input.lines(limits.max_line_bytes);
    let mut summary = Summary::default();
    while let Some((n, line)) = lines.next_line()? {
        let finding =
            |path: &str, message: String| Finding { file: name.clone(), line: n, path: path.to_string(), message };
        match line {
            Line::TooLong { len } => {
                summary.entries += 1;
                summary.invalid += 1;
                summary.other_types += 1;
                on_problem(&finding(
                    "",
                    format!("line of {len} bytes exceeds the limit of {} bytes", limits.max_line_bytes),
                ));
            }
            Line::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {
                summary.blank += 1;
                if validator.strict {
                    summary.invalid += 1;
                    on_problem(&finding("", "blank line (strict mode)".to_string()));
                }
            }
            Line::Text(t) => {
                let verdict = validator.check_line(t);
                summary.count(&verdict, limits.max_types);
                for p in &verdict.problems {
                    on_problem(&finding(&p.path, p.message.clone()));
                }
                if verdict.more_problems > 0 {
                    on_problem(&finding("", format!("{} more problems in this entry", verdict.more_problems)));
                }
            }
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v() -> Validator {
        Validator::new(false).unwrap()
    }

    #[test]
    fn a_minimal_message_is_valid_core() {
        let verdict =
            v().check_value(&json!({"v":1,"id":"a","ts":1,"type":"message","sid":"s","role":"user","content":"hi"}));
        assert!(verdict.is_valid(), "{verdict:?}");
        assert_eq!(verdict.kind, Some(EntryKind::Core));
    }

    #[test]
    fn missing_fields_are_located_at_the_field() {
        let verdict = v().check_value(&json!({"v":1,"type":"message"}));
        let paths: Vec<&str> = verdict.problems.iter().map(|p| p.path.as_str()).collect();
        for p in ["/id", "/ts", "/sid", "/role", "/content"] {
            assert!(paths.contains(&p), "{p} missing from {paths:?}");
        }
    }

    #[test]
    fn unknown_extensions_pass_unless_strict() {
        let e = json!({"v":1,"id":"a","ts":1,"type":"acme.custom.widget","sid":"s","extra":{"x":1}});
        let verdict = v().check_value(&e);
        assert!(verdict.is_valid());
        assert_eq!(verdict.kind, Some(EntryKind::Extension));
        let strict = Validator::new(true).unwrap().check_value(&e);
        assert_eq!(strict.problems[0].path, "/type");
    }

    #[test]
    fn bad_type_names_are_neither_core_nor_extension() {
        for t in ["tool", "acme.widget", "Acme.a.b", "acme..b", "1a.b.c"] {
            assert_eq!(classify(t), None, "{t}");
            let verdict = v().check_value(&json!({"v":1,"id":"a","ts":1,"type":t,"sid":"s"}));
            assert!(!verdict.is_valid(), "{t}");
        }
    }

    #[test]
    fn token_rules_beyond_the_schema() {
        let e = json!({"v":1,"id":"a","ts":1,"type":"message","sid":"s","role":"assistant","content":"",
            "tokens":{"input":10,"output":5,"cached":8,"cache_write":4,"reasoning":6}});
        let verdict = v().check_value(&e);
        assert_eq!(verdict.problems.len(), 2, "{verdict:?}");
        assert!(verdict.problems.iter().all(|p| p.path == "/tokens"));
    }

    #[test]
    fn builtin_aef_namespace_is_enforced() {
        let ok = json!({"v":1,"id":"a","ts":1,"type":"aef.usage.report","sid":"s","tokens":{"input":1,"output":1}});
        assert!(v().check_value(&ok).is_valid());
        let bad = json!({"v":1,"id":"a","ts":1,"type":"aef.usage.report","sid":"s","tokens":{"input":-1,"output":1}});
        assert!(!v().check_value(&bad).is_valid());
        let unknown = json!({"v":1,"id":"a","ts":1,"type":"aef.made.up","sid":"s"});
        assert!(!v().check_value(&unknown).is_valid());
    }

    #[test]
    fn stream_reports_line_numbers_and_counts() {
        let text = "{\"v\":1,\"id\":\"a\",\"ts\":1,\"type\":\"error\",\"sid\":\"s\",\"message\":\"m\"}\n\nnot json\n";
        let input = Input::from_reader("mem", std::io::Cursor::new(text.as_bytes().to_vec()));
        let mut found = Vec::new();
        let s = validate_stream(&v(), input, &Limits::default(), &mut |f| found.push(f.clone())).unwrap();
        assert_eq!((s.entries, s.valid, s.invalid, s.blank, s.core), (2, 1, 1, 1, 1));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].line, 3);
        assert!(found[0].message.starts_with("not JSON"), "{}", found[0].message);
    }
}
