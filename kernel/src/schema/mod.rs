//! JSON Schema (draft 2020-12) validation of every document the kernel reads.
//!
//! Owns: loading schemas (from the plane's `HOT/schemas/`, a directory, or the copies compiled
//! in from the repository's `schemas/`), parsing YAML (serde-saphyr, budgets on) and JSON
//! documents, validating them, and decoding them into typed structs — in that order, with
//! errors that give file:line:column, the instance path and what was expected.
//! Never does: fetch remote `$ref`s (they fail closed).
//!
//! [`SchemaSet::load_document`] is the one entry point every config loader uses.

mod document;
mod set;

pub use document::{
    DocumentError, LocatedDocument, Locations, ParseLimits, Violation, is_json_path, parse_document, parse_located,
};
pub use set::{
    CheckedAs, EMBEDDED_SCHEMAS, FILE_NAME_SCHEMAS, SCHEMA_SUFFIX, SchemaError, SchemaInfo, SchemaSet,
    infer_schema_name, schema_name,
};
