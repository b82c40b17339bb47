//! # cp-installer — `cp-install`
//!
//! Packs, signs, verifies and installs Control Plane packages through the gates. The install
//! transaction, the gates and the bootstrap-set location and pins live in `cp-kernel` (so that
//! `cpctl plane recover`, `cpctl gates` and `cpctl quickstart` share them); this crate is the
//! `cp-install` command line and re-exports what it uses.
//! Never does: print (the binary does).

pub use cp_kernel::package::bootstrap::{
    BOOTSTRAP_PINS_JSON, BUILT_FROM, BootstrapError as InstallerError, PINS_PATH, builtin_pins, builtin_sources,
    compute_pins, pins_text,
};
