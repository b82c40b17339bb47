//! Integration tests of cp-kernel (one binary, modules per concern).
#![allow(clippy::disallowed_methods, clippy::print_stdout, clippy::print_stderr)]
mod router_support;
mod router_matrix;
