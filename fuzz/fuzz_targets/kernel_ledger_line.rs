//! One JSONL ledger line: the entry decoder, then the hash. Must never panic; for every entry it
//! accepts, the fast canonical body equals the generic RFC 8785 path (what the hash covers).
#![no_main]

use cp_kernel::LedgerEntry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = serde_json::from_slice::<LedgerEntry>(data) {
        assert_eq!(e.canonical_body(), e.canonical_body_generic(), "canonical bodies differ for {e:?}");
    }
});
