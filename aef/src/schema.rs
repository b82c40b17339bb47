//! The AEF JSON Schemas: the core schema (`schema/core.schema.json`, the source of truth for
//! what an entry is), the built-in `aef.*` extension schema, and the registry of extension
//! schemas by namespace. Owns compilation; never reads files (callers hand in parsed schemas).

use serde_json::Value;

/// The core schema, as shipped in `aef/schema/core.schema.json`.
pub const CORE_SCHEMA: &str = include_str!("../schema/core.schema.json");

/// The `$id` of the core schema; extension schemas may `$ref` its `$defs` (e.g. tokens).
pub const CORE_SCHEMA_ID: &str = "urn:aef:schema:v0.1:core";

/// The schema of the reserved `aef.*` extension namespace.
pub const AEF_EXTENSIONS_SCHEMA: &str = include_str!("../schema/extensions/aef.schema.json");

/// Why a schema could not be compiled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The schema text is not JSON.
    #[error("schema for {what} is not JSON")]
    NotJson {
        /// Which schema.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The schema is not a valid draft 2020-12 schema, or a `$ref` does not resolve.
    #[error("schema for {what} is invalid: {message}")]
    Invalid {
        /// Which schema.
        what: String,
        /// What the compiler said.
        message: String,
    },
    /// A namespace that is not `vendor` or `vendor.category` (lower-case segments).
    #[error("namespace {0:?} is not of the form vendor or vendor.category (lower-case letters, digits, '_' or '-')")]
    BadNamespace(String),
}

/// Compiles a schema; `$ref`s to the core schema resolve, remote `$ref`s fail closed.
pub(crate) fn compile(what: &str, schema: &Value) -> Result<jsonschema::Validator, SchemaError> {
    let core = core_value()?;
    let registry = jsonschema::Registry::new()
        .draft(jsonschema::Draft::Draft202012)
        .extend([(CORE_SCHEMA_ID.to_string(), core)])
        .and_then(|b| b.prepare())
        .map_err(|e| SchemaError::Invalid { what: what.to_string(), message: e.to_string() })?;
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_registry(&registry)
        .build(schema)
        .map_err(|e| SchemaError::Invalid { what: what.to_string(), message: e.to_string() })
}

/// The core schema as a JSON value.
pub fn core_value() -> Result<Value, SchemaError> {
    serde_json::from_str(CORE_SCHEMA).map_err(|source| SchemaError::NotJson { what: "core".into(), source })
}

/// Extension schemas by namespace. A namespace is a vendor (`warmhub`) or a vendor and category
/// (`warmhub.belief`); an entry of type `warmhub.belief.query` is checked against the longest
/// registered namespace that prefixes it, after the core schema has checked its base fields.
#[derive(Debug, Default)]
pub struct ExtensionRegistry {
    entries: Vec<(String, jsonschema::Validator)>,
}

impl ExtensionRegistry {
    /// A registry with no schema at all (not even `aef.*`).
    pub fn empty() -> ExtensionRegistry {
        ExtensionRegistry::default()
    }

    /// A registry holding the built-in `aef` namespace.
    pub fn with_builtin() -> Result<ExtensionRegistry, SchemaError> {
        let mut r = ExtensionRegistry::empty();
        let schema: Value = serde_json::from_str(AEF_EXTENSIONS_SCHEMA)
            .map_err(|source| SchemaError::NotJson { what: "aef".into(), source })?;
        r.register("aef", &schema)?;
        Ok(r)
    }

    /// Registers (or replaces) the schema of `namespace`.
    pub fn register(&mut self, namespace: &str, schema: &Value) -> Result<(), SchemaError> {
        let ok_segment = |s: &str| {
            s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        };
        let segments: Vec<&str> = namespace.split('.').collect();
        if segments.len() > 2 || !segments.iter().all(|s| ok_segment(s)) {
            return Err(SchemaError::BadNamespace(namespace.to_string()));
        }
        let v = compile(namespace, schema)?;
        self.entries.retain(|(ns, _)| ns != namespace);
        self.entries.push((namespace.to_string(), v));
        self.entries.sort_by_key(|e| std::cmp::Reverse(e.0.len()));
        Ok(())
    }

    /// The namespaces registered, longest first.
    pub fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(ns, _)| ns.as_str())
    }

    /// The schema and namespace that govern extension type `type_name`, if any.
    pub(crate) fn find(&self, type_name: &str) -> Option<(&str, &jsonschema::Validator)> {
        self.entries.iter().find_map(|(ns, v)| {
            let hit = type_name.strip_prefix(ns.as_str()).is_some_and(|rest| rest.starts_with('.'));
            hit.then_some((ns.as_str(), v))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn core_schema_is_a_valid_2020_12_schema() {
        let core = core_value().unwrap();
        assert!(jsonschema::meta::is_valid(&core));
        compile("core", &core).unwrap();
    }

    #[test]
    fn longest_namespace_wins_and_bad_namespaces_are_refused() {
        let mut r = ExtensionRegistry::empty();
        r.register("acme", &json!({"title": "a"})).unwrap();
        r.register("acme.belief", &json!({"required": ["q"]})).unwrap();
        assert_eq!(r.find("acme.belief.query").unwrap().0, "acme.belief");
        assert_eq!(r.find("acme.other.x").unwrap().0, "acme");
        assert!(r.find("acmex.a.b").is_none());
        assert!(matches!(r.register("Acme", &json!({})), Err(SchemaError::BadNamespace(_))));
        assert!(matches!(r.register("a.b.c", &json!({})), Err(SchemaError::BadNamespace(_))));
        assert!(matches!(r.register("a", &json!({"type": 5})), Err(SchemaError::Invalid { .. })));
    }
}
