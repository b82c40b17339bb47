//! Integration tests of cp-ops.
