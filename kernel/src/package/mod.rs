//! Packages as the kernel reads them: the manifest (schema_version 1.2), deterministic archives
//! and the strict archive reader, the install config (archive caps, staging directory), the
//! detached-signature document, install receipts and the current ownership they imply.
//!
//! Never does: install, uninstall, pack or sign (the installer crate does, over these types),
//! extract with `tar::Archive::unpack`.
//!
//! On disk: `HOT/installed/<PKG>/{receipt.json,manifest.json}`, `HOT/registries/*.csv`,
//! `HOT/config/install_config.json`, `<archive>.sig`.

pub(crate) mod archive;
pub(crate) mod config;
pub(crate) mod manifest;
pub(crate) mod receipt;
pub(crate) mod signature;
mod tar_ext;
