//! Integration tests of cp-installer: the install transaction (library), the gates it runs and
//! the plane-level gates over installed packages, and `cp-install` as a process.
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]

mod cli;
mod cp2;
mod crash;
mod documents;
mod fixture_repo;
mod gates;
mod install;
mod pending;
mod repair;
mod wiring;
