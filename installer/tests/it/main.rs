//! Integration tests of cp-installer.
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]

mod cli;
mod crash;
mod fixture_repo;
