//! End-to-end tests of the Control Plane kernel live in `tests/`; this crate has no code.
