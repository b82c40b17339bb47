//! The Control Plane v2 (Python) ledger reader and verifier on an arbitrary file: must never
//! panic, whatever the lines hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = cp_fuzz::scratch_file("ledger.jsonl", data);
    let _ = cp_kernel::cp2::verify_file(&path);
});
