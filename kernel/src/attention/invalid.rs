//! Invalid templates (stub).

use std::path::PathBuf;

use serde::Serialize;

use super::error::{AttentionError, TemplateIssue};
use crate::plane::Plane;
use crate::schema::SchemaSet;

/// An invalid template file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvalidTemplate {
    /// The file.
    pub path: PathBuf,
    /// Its id, when readable.
    pub template_id: Option<String>,
    /// Every issue.
    pub issues: Vec<TemplateIssue>,
}

/// Lists the invalid templates of `plane`.
pub fn invalid_templates(_plane: &Plane, _schemas: &SchemaSet) -> Result<Vec<InvalidTemplate>, AttentionError> {
    Ok(Vec::new())
}
