//! Behaviour tests of the `aef` crate: adapters on hand-written fixtures (token totals per
//! accounting trap), the validator on valid and invalid files, streaming conversion of a growing
//! file, properties over arbitrary well-formed input, OTLP export, and the real `aef` binary.

mod adapters;
mod cli;
mod otlp;
mod props;
mod streaming;
mod support;
mod validator;
