//! Packages: the manifest (schema_version 1.2), deterministic archives, the strict archive
//! reader, packing from the repository's sources, detached signatures, the package store,
//! receipts and derived registries, and the install transaction (stage → gates → journal →
//! move → ownership → receipt → registries → `INSTALLED`) with recovery of interrupted
//! installs.
//!
//! Never does: extract with `tar::Archive::unpack`, replace a file another package owns, or
//! wipe the ownership registry.
//!
//! On disk: `HOT/installed/<PKG>/{receipt.json,manifest.json}`, `HOT/registries/*.csv`,
//! `HOT/<staging_dir>/<txn>/{journal.json,files/,backup/,receipt_backup/}` while a transaction
//! runs, and the `HOT/packages` ledger.

pub mod archive;
pub mod bench;
pub mod bootstrap;
pub mod config;
pub mod fwview;
pub mod install;
pub mod journal;
pub mod manifest;
pub mod pack;
pub mod receipt;
pub mod sign;
pub mod store;

pub use archive::{ArchiveError, ReadArchive, read_archive, write_archive};
pub use config::{ArchiveCaps, InstallConfig};
pub use install::{
    InstallAction, InstallError, InstallEvent, InstallOptions, InstallOutcome, Installer, RecoveryAction,
};
pub use manifest::{Manifest, parse_manifest};
pub use pack::{PackedArchive, pack_all, pack_package};
