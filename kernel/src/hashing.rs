//! SHA-256 helpers shared by every module (one implementation, one format).

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    const_hex::encode(Sha256::digest(data))
}

/// `sha256:` + lowercase hex SHA-256 of `data` (the package manifest format).
pub fn sha256_prefixed(data: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(data))
}

/// Whether `s` is `sha256:` followed by exactly 64 lowercase hex digits.
pub fn is_sha256_prefixed(s: &str) -> bool {
    s.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(is_sha256_prefixed(&sha256_prefixed(b"abc")));
        assert!(!is_sha256_prefixed("sha256:ABC"));
        assert!(!is_sha256_prefixed(&format!("sha256:{}", "A".repeat(64))));
    }
}
