//! The auth token parser: decoding without the key and verifying with it, on arbitrary text. Must
//! never panic; a token that verifies also decodes to the same claims.
#![no_main]

use std::sync::OnceLock;

use cp_kernel::{AuthSecret, decode_token_unverified, verify_token};
use libfuzzer_sys::fuzz_target;

fn secret() -> &'static AuthSecret {
    static S: OnceLock<AuthSecret> = OnceLock::new();
    S.get_or_init(|| AuthSecret::from_bytes(vec![7u8; 32], 32, "fuzz").expect("32 bytes are enough"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let decoded = decode_token_unverified(token);
    if let Ok(claims) = verify_token(secret(), token, 0) {
        assert_eq!(decoded.ok(), Some(claims), "a verified token decodes to its claims");
    }
});
