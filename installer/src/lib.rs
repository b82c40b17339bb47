//! # cp-installer — `cp-install`
//!
//! Packs, signs, verifies and installs Control Plane packages through the gates. The install
//! transaction and the gates live in `cp-kernel` (so that `cpctl plane recover` and
//! `cpctl gates` share them); this crate holds the package store, the built-in bootstrap set
//! and the `cp-install` command line. Filled in by the packages work.
