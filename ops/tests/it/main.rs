//! Integration tests of cp-ops (the library, with an injected clock).
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]

mod alerts;
mod budget_adjust;
mod ingest;
mod legacy;
