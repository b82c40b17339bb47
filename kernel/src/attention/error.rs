//! Errors of the attention service.

use std::path::PathBuf;

use super::context::BudgetLimit;

/// One problem found while loading a template (schema, decode or stage validation).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TemplateIssue {
    /// The template file.
    pub path: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// Field path (JSON pointer, e.g. `/pipeline/2/config/max_entries`).
    pub field: String,
    /// The stage concerned, when any.
    pub stage: Option<String>,
    /// What is wrong / what was expected.
    pub message: String,
}

impl std::fmt::Display for TemplateIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, ":{l}:{c}")?;
        }
        let field = if self.field.is_empty() { "(root)" } else { &self.field };
        write!(f, ": {field}")?;
        if let Some(s) = &self.stage {
            write!(f, " (stage {s:?})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why an assembly (or loading the service) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttentionError {
    /// A plane path was refused (escape) or invalid.
    #[error(transparent)]
    Plane(#[from] crate::plane::PlaneError),
    /// Filesystem error.
    #[error(transparent)]
    Io(#[from] crate::fsx::FsError),
    /// Loading schemas failed.
    #[error(transparent)]
    Schema(#[from] crate::schema::SchemaError),
    /// A config or contract document was refused.
    #[error(transparent)]
    Document(#[from] crate::schema::DocumentError),
    /// `template_override` names no loaded template.
    #[error("unknown attention template {id:?} (known: {})", known.join(", "))]
    UnknownTemplate {
        /// The id asked for.
        id: String,
        /// The ids loaded.
        known: Vec<String>,
    },
    /// Several templates match at the same specificity (fail closed).
    #[error("ambiguous attention templates at specificity {specificity}: {}", ids.join(", "))]
    AmbiguousTemplate {
        /// The specificity both have (`framework_id+agent_class+tier` form).
        specificity: String,
        /// The tied template ids.
        ids: Vec<String>,
    },
    /// The request is unusable (no contract, bad contract path, invalid merged stage).
    #[error("invalid attention request: {message}")]
    InvalidRequest {
        /// What is wrong.
        message: String,
    },
    /// A custom stage names a handler nobody registered.
    #[error("custom stage {stage:?} names unknown handler {handler:?} (registered: {})", known.join(", "))]
    UnknownCustomHandler {
        /// The stage.
        stage: String,
        /// The handler name.
        handler: String,
        /// Registered names.
        known: Vec<String>,
    },
    /// A budget limit was hit and the template's `on_timeout` is `fail`.
    #[error("attention budget exceeded ({limit}) in template {template_id}")]
    BudgetExceeded {
        /// The template.
        template_id: String,
        /// Which limit.
        limit: BudgetLimit,
    },
    /// `on_timeout: use_cached` found no cached context for this key.
    #[error("attention budget exceeded ({limit}) in template {template_id} and no cached context exists")]
    NoCachedContext {
        /// The template.
        template_id: String,
        /// Which limit.
        limit: BudgetLimit,
    },
    /// The plane's vocabulary (`HOT/config/vocabulary.yaml`) could not be loaded.
    #[error("vocabulary: {0}")]
    Vocabulary(#[from] crate::framework::FrameworkError),
    /// A request field carries a value outside the plane's vocabulary.
    #[error("invalid attention request: {field} {value:?} is not in the plane vocabulary (allowed: {})", allowed.join(", "))]
    NotInVocabulary {
        /// The request field (`agent_class`, `tier`).
        field: &'static str,
        /// The value given.
        value: String,
        /// The values the vocabulary allows.
        allowed: Vec<String>,
    },
    /// An invalid template applies to the request (fail closed): it would have been the match
    /// or tied with it, its selector cannot be read and no valid template matches, or
    /// `template_override` names it. Every issue of each is listed with its location.
    #[error("{reason}: {}", templates.iter().map(super::catalog::InvalidTemplate::describe).collect::<Vec<_>>().join(" | "))]
    InvalidTemplateMatch {
        /// Why the request cannot proceed.
        reason: String,
        /// The invalid templates concerned.
        templates: Vec<super::catalog::InvalidTemplate>,
    },
    /// The last halting stage stayed unsatisfied after its reruns and the template's `on_empty`
    /// is `fail`.
    #[error("attention template {template_id} did not satisfy its halting stage (on_empty: fail): {detail}")]
    HaltingUnsatisfied {
        /// The template.
        template_id: String,
        /// The halting decision (counts, thresholds, missing items).
        detail: String,
    },
    /// The pipeline produced nothing and the template's `on_empty` is `fail`.
    #[error("attention template {template_id} produced no context")]
    EmptyContext {
        /// The template.
        template_id: String,
    },
}
