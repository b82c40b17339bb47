//! JSON Schema (draft 2020-12) validation of every document the kernel reads.
//!
//! Owns: loading schemas (from the plane's `HOT/schemas/`, a directory, or the copies compiled
//! in from the repository's `schemas/`), parsing YAML (serde-saphyr, budgets on, duplicate keys
//! refused) and JSON documents under [`ParseLimits`], validating them, and decoding them into
//! typed structs — in that order. Every violation is reported, each with file, line and column
//! of the offending value, its instance path (JSON pointer) and what was expected; a typed
//! decode error after validation carries the line, column and field path too.
//! Never does: fetch anything. A `$ref` resolves only to a schema of the loaded set (by `$id`,
//! absolute or relative to the referring schema's `$id`); any other reference is refused when
//! the set is loaded ([`SchemaError::RemoteRef`]).
//!
//! On disk: `<name>.schema.json` files, one schema each, named by the file (`layout`,
//! `plane_config`, …); the repository's schemas use `$id`
//! `https://control-plane.invalid/schemas/<file name>`. Documents are YAML, or JSON when the file
//! name ends `.json`.
//!
//! [`SchemaSet::load_document`] is the one entry point every config loader uses.

mod document;
mod set;

pub(crate) use set::read_limited;

pub use document::{
    DocumentError, LocatedDocument, Locations, ParseLimits, Violation, is_json_path, parse_document, parse_located,
};
pub use set::{
    CheckedAs, EMBEDDED_SCHEMAS, FILE_NAME_SCHEMAS, SCHEMA_SUFFIX, SchemaError, SchemaInfo, SchemaSet,
    infer_schema_name, schema_name,
};
