//! Integration tests of cp-otel.

mod fixture;
mod golden;
mod scope;
