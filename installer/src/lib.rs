//! # cp-installer — the install transaction
//!
//! Everything that changes what is installed on a plane, over the kernel's package format,
//! receipts and gates:
//!
//! * [`Installer`] — install (stage → gates → journal → move → ownership → receipt → derived
//!   registries → `INSTALLED`), uninstall and recovery of interrupted transactions; several
//!   packages in dependency order from a store or a repository's sources.
//! * [`pack_all`] / [`pack_package`] — deterministic archives from the repository's sources;
//!   [`write_signature`] — detached signatures; [`index_store`] — a directory of archives.
//! * [`builtin_sources`] / [`builtin_pins`] — the bootstrap set and the pinned manifest digests
//!   that make it the genesis trust anchor.
//! * [`rebuild_registries`] / [`verify_registries`] — the registries derived from receipts.
//! * [`quickstart`] — a plane, the bootstrap set installed, one prompt routed end to end.
//!
//! Features: `cli` (default; the `cp-install` binary and [`cli_support`], shared with `cpctl`),
//! `testkit` (test support that installs), `bench` (benchmark drivers).
//!
//! Never does: print (the binaries do), or anything the kernel does not expose.

mod bootstrap;
pub mod cp2;
mod install;
mod pack;
mod quickstart;
mod registries;
mod repair;
mod sign;
mod store;
pub mod template;

#[cfg(feature = "bench")]
pub mod bench;
#[cfg(feature = "cli")]
pub mod cli_support;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use bootstrap::{
    BOOTSTRAP_PINS_JSON, BUILT_FROM, BootstrapError, PINS_PATH, builtin_pins, builtin_sources, compute_pins, pins_text,
};
pub use install::{
    InstallAction, InstallError, InstallEvent, InstallOptions, InstallOutcome, Installer, RecoveryAction, Transfer,
};
pub use pack::{PackError, PackedArchive, SOURCES_PATH, pack_all, pack_package, source_package_ids};
pub use quickstart::{
    FragmentSummary, InstalledPackage, QuickstartError, QuickstartEvent, QuickstartOptions, QuickstartReport,
    WrittenEntry, quickstart, quickstart_secret_path,
};
pub use registries::{
    DerivedRegistries, RegistryDiff, check_catalogue, derive_registries, rebuild_registries, registry_catalogue,
    verify_registries,
};
pub use repair::{RepairNotice, open_for_repair, repair_notices};
pub use sign::{SignError, read_signature, signature_path, write_signature};
pub use store::{StoreEntry, StoreError, index_store};
