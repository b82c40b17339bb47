//! Integration tests of cp-otel.
#![allow(clippy::disallowed_methods, clippy::print_stdout)]

mod fixture;
mod follow;
mod golden;
mod interop;
mod push;
mod python;
mod receiver;
mod report;
mod scope;
