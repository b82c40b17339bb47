//! Packages: the manifest (schema_version 1.2), deterministic archives, the strict archive
//! reader, and the install transaction (stage → gates → move → ownership → receipt →
//! `INSTALLED`), with recovery of interrupted installs. Filled in by the packages work.
