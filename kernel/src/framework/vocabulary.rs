//! The plane's closed vocabularies (`HOT/config/vocabulary.yaml`, schema
//! `vocabulary.schema.json`, shipped by PKG-VOCABULARY-001).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::FrameworkError;
use super::config::load_or_builtin;
use crate::ledger::Provenance;
use crate::plane::Plane;
use crate::schema::SchemaSet;

/// Plane-relative path of the installed vocabulary.
pub const VOCABULARY_PATH: &str = "HOT/config/vocabulary.yaml";
/// Name of its schema.
pub const VOCABULARY_SCHEMA: &str = "vocabulary";
/// The vocabulary shipped by PKG-VOCABULARY-001, compiled in for planes where it is not
/// installed yet.
pub const DEFAULT_VOCABULARY_YAML: &str =
    include_str!("../../../packages/PKG-VOCABULARY-001/HOT/config/vocabulary.yaml");

/// Which vocabulary a term belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Term {
    /// Agent classes (`KERNEL.syntactic`, …).
    AgentClass,
    /// Tiers (`hot`, `ho2`, `ho1`).
    Tier,
    /// Framework rings.
    Ring,
    /// Framework / spec statuses.
    Status,
    /// Invariant levels.
    InvariantLevel,
    /// Ledger `decision` values.
    Decision,
    /// Ledger event types.
    EventType,
}

impl Term {
    /// The term kind's name, as in messages (`agent class`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgentClass => "agent class",
            Self::Tier => "tier",
            Self::Ring => "ring",
            Self::Status => "status",
            Self::InvariantLevel => "invariant level",
            Self::Decision => "decision",
            Self::EventType => "event type",
        }
    }
}

/// The plane's vocabularies. Every list is the complete set of allowed values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vocabulary {
    /// Document format version (`1.0`).
    pub schema_version: String,
    /// Agent classes requests may carry.
    pub agent_classes: Vec<String>,
    /// Tier names used in requests, templates and provenance.
    pub tiers: Vec<String>,
    /// Framework rings.
    pub rings: Vec<String>,
    /// Framework and spec statuses.
    pub statuses: Vec<String>,
    /// Invariant levels.
    pub invariant_levels: Vec<String>,
    /// Ledger `decision` values.
    pub decisions: Vec<String>,
    /// Ledger event types.
    pub event_types: Vec<String>,
    /// Bounds of identifiers (absent: the compiled-in vocabulary's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifiers: Option<IdentifierRule>,
}

/// Bounds of an identifier (`identifiers` of the vocabulary).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifierRule {
    /// Longest identifier, in bytes.
    pub max_length: usize,
    /// ECMA 262 pattern every identifier matches.
    pub pattern: String,
}

/// Provenance fields that are terms of the vocabulary, not identifiers (every other one is).
const TERM_FIELDS: [&str; 2] = ["agent_class", "tier"];

/// Compiled identifier patterns, by pattern text (a vocabulary is loaded per request).
fn pattern_matches(pattern: &str, value: &str) -> Result<bool, String> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut g = cache.lock().unwrap_or_else(|p| p.into_inner());
    let v = match g.get(pattern) {
        Some(v) => v.clone(),
        None => {
            let schema = serde_json::json!({"type": "string", "pattern": pattern});
            let v = Arc::new(jsonschema::validator_for(&schema).map_err(|e| e.to_string())?);
            g.insert(pattern.to_string(), v.clone());
            v
        }
    };
    drop(g);
    Ok(v.is_valid(&serde_json::Value::String(value.to_string())))
}

impl Vocabulary {
    /// Reads and validates a vocabulary file.
    pub fn load(schemas: &SchemaSet, path: &Path) -> Result<Self, FrameworkError> {
        Ok(schemas.load_document(VOCABULARY_SCHEMA, path)?)
    }

    /// The plane's installed vocabulary, else the compiled-in default.
    pub fn for_plane(plane: &Plane, schemas: &SchemaSet) -> Result<Self, FrameworkError> {
        load_or_builtin(plane, schemas, VOCABULARY_PATH, VOCABULARY_SCHEMA, DEFAULT_VOCABULARY_YAML)
    }

    /// The allowed values of one vocabulary.
    pub fn terms(&self, kind: Term) -> &[String] {
        match kind {
            Term::AgentClass => &self.agent_classes,
            Term::Tier => &self.tiers,
            Term::Ring => &self.rings,
            Term::Status => &self.statuses,
            Term::InvariantLevel => &self.invariant_levels,
            Term::Decision => &self.decisions,
            Term::EventType => &self.event_types,
        }
    }

    /// Whether `value` is an allowed term of `kind` (exact, case-sensitive).
    pub fn contains(&self, kind: Term, value: &str) -> bool {
        self.terms(kind).iter().any(|t| t == value)
    }

    /// `Ok` when `value` is an allowed term of `kind`, else [`FrameworkError::UnknownTerm`]
    /// listing the allowed ones.
    pub fn check(&self, kind: Term, value: &str) -> Result<(), FrameworkError> {
        if self.contains(kind, value) {
            Ok(())
        } else {
            Err(FrameworkError::UnknownTerm { kind, value: value.to_string(), known: self.terms(kind).to_vec() })
        }
    }

    /// The identifier bounds: this vocabulary's, else the compiled-in one's.
    pub fn identifier_rule(&self) -> IdentifierRule {
        if let Some(r) = &self.identifiers {
            return r.clone();
        }
        serde_saphyr::from_str::<Vocabulary>(DEFAULT_VOCABULARY_YAML)
            .ok()
            .and_then(|v| v.identifiers)
            .unwrap_or(IdentifierRule { max_length: 0, pattern: "^$".into() })
    }

    /// `Ok` when `value` (the `field` of a token, request or entry) is within the identifier
    /// bounds: not empty, at most `max_length` bytes, matching `pattern`.
    pub fn check_identifier(&self, field: &str, value: &str) -> Result<(), FrameworkError> {
        let rule = self.identifier_rule();
        let bad = |why: String| FrameworkError::BadIdentifier { field: field.to_string(), why };
        if value.len() > rule.max_length {
            return Err(bad(format!("is {} bytes, more than the {} allowed", value.len(), rule.max_length)));
        }
        let shown: String = value.chars().take(64).collect();
        match pattern_matches(&rule.pattern, value) {
            Ok(true) => Ok(()),
            Ok(false) => Err(bad(format!("{shown:?} does not match {}", rule.pattern))),
            Err(e) => Err(bad(format!("the vocabulary's identifiers.pattern is invalid: {e}"))),
        }
    }

    /// Checks the vocabulary-bound fields of a request's provenance (`agent_class`, `tier`)
    /// and the bounds of every identifier field ([`Vocabulary::check_identifier`]); absent
    /// fields pass.
    pub fn check_provenance(&self, p: &Provenance) -> Result<(), FrameworkError> {
        for f in Provenance::FIELDS.into_iter().filter(|f| !TERM_FIELDS.contains(f)) {
            if let Some(v) = p.get(f) {
                self.check_identifier(f, v)?;
            }
        }
        if let Some(c) = &p.agent_class {
            self.check(Term::AgentClass, c)?;
        }
        if let Some(t) = &p.tier {
            self.check(Term::Tier, t)?;
        }
        Ok(())
    }
}
