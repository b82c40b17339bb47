//! Shared loading of the governed config documents: the installed file, else the copy
//! compiled in from the package source.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::FrameworkError;
use crate::plane::Plane;
use crate::schema::SchemaSet;

/// Loads `rel_path` from the plane when installed, else decodes `builtin` (the package source
/// compiled in, reported as `<builtin>/rel_path` in errors). Both go through
/// [`SchemaSet::load_str`] with `schema`.
pub(crate) fn load_or_builtin<T: DeserializeOwned>(
    plane: &Plane,
    schemas: &SchemaSet,
    rel_path: &str,
    schema: &str,
    builtin: &str,
) -> Result<T, FrameworkError> {
    let path = plane.resolve(rel_path)?;
    if path.is_file() {
        return Ok(schemas.load_document(schema, &path)?);
    }
    let shown = Path::new("<builtin>").join(rel_path);
    Ok(schemas.load_str(schema, &shown, builtin)?)
}
