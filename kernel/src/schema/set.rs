//! The set of loaded schemas.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::document::{DocumentError, Violation, parse_document};
use crate::fsx::{self, FsError};

/// The schemas of the repository's `schemas/`, compiled in: `(file name, text)`.
pub const EMBEDDED_SCHEMAS: &[(&str, &str)] = &[];

/// Errors loading schemas.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// Filesystem error.
    #[error(transparent)]
    Io(#[from] FsError),
    /// A schema file is not valid JSON or not a valid schema.
    #[error("invalid schema {}: {message}", path.display())]
    InvalidSchema {
        /// The schema file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Loaded, compiled schemas by name (file name without `.schema.json`).
pub struct SchemaSet {
    validators: BTreeMap<String, jsonschema::Validator>,
}

impl std::fmt::Debug for SchemaSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaSet").field("schemas", &self.validators.keys().collect::<Vec<_>>()).finish()
    }
}

fn schema_name(file: &str) -> Option<&str> {
    file.strip_suffix(".schema.json")
}

impl SchemaSet {
    /// The schemas compiled into the kernel.
    pub fn embedded() -> Result<Self, SchemaError> {
        let mut s = Self { validators: BTreeMap::new() };
        for (file, text) in EMBEDDED_SCHEMAS {
            s.add(Path::new(file), text)?;
        }
        Ok(s)
    }

    /// Every `*.schema.json` in `dir`.
    pub fn load_dir(dir: &Path) -> Result<Self, SchemaError> {
        let mut s = Self { validators: BTreeMap::new() };
        for e in fsx::read_dir(dir)? {
            let p = e.path();
            if p.file_name().and_then(|n| n.to_str()).and_then(schema_name).is_some() {
                let text = fsx::read_to_string(&p)?;
                s.add(&p, &text)?;
            }
        }
        Ok(s)
    }

    /// The plane's installed schemas (`HOT/schemas/`), over the embedded ones for any schema
    /// not installed yet.
    pub fn for_plane(plane: &crate::Plane) -> Result<Self, SchemaError> {
        let mut s = Self::embedded()?;
        let dir = plane.dir(crate::Tier::Hot, "schemas");
        if dir.is_dir() {
            let installed = Self::load_dir(&dir)?;
            s.validators.extend(installed.validators);
        }
        Ok(s)
    }

    fn add(&mut self, path: &Path, text: &str) -> Result<(), SchemaError> {
        let bad = |message: String| SchemaError::InvalidSchema { path: path.to_path_buf(), message };
        let v: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let validator = jsonschema::draft202012::new(&v).map_err(|e| bad(e.to_string()))?;
        let name = path.file_name().and_then(|n| n.to_str()).and_then(schema_name).unwrap_or_default();
        self.validators.insert(name.to_string(), validator);
        Ok(())
    }

    /// Names of the loaded schemas.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.validators.keys().map(String::as_str)
    }

    /// Validates a value; every violation is returned.
    pub fn validate(&self, schema: &str, value: &Value) -> Result<(), DocumentError> {
        let v = self.validators.get(schema).ok_or_else(|| DocumentError::UnknownSchema(schema.to_string()))?;
        let violations: Vec<Violation> = v
            .iter_errors(value)
            .map(|e| Violation {
                instance_path: e.instance_path().to_string(),
                line: None,
                column: None,
                message: e.to_string(),
            })
            .collect();
        if violations.is_empty() {
            Ok(())
        } else {
            Err(DocumentError::Invalid { path: PathBuf::new(), schema: schema.to_string(), violations })
        }
    }

    /// Parses `text` (from `path`), validates it against `schema`, and decodes it into `T`.
    pub fn load_str<T: DeserializeOwned>(&self, schema: &str, path: &Path, text: &str) -> Result<T, DocumentError> {
        let value = parse_document(path, text)?;
        self.validate(schema, &value).map_err(|e| match e {
            DocumentError::Invalid { schema, violations, .. } => {
                DocumentError::Invalid { path: path.to_path_buf(), schema, violations }
            }
            other => other,
        })?;
        serde_json::from_value(value)
            .map_err(|e| DocumentError::Decode { path: path.to_path_buf(), message: e.to_string() })
    }

    /// Reads `path`, validates it against `schema`, and decodes it into `T`.
    pub fn load_document<T: DeserializeOwned>(&self, schema: &str, path: &Path) -> Result<T, DocumentError> {
        let text = fsx::read_to_string(path)?;
        self.load_str(schema, path, &text)
    }
}
