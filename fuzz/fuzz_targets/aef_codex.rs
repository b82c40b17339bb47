//! The codex adapter on arbitrary bytes, line by line: must never panic, and every entry it
//! writes must be a valid AEF entry (strict mode) with a dense `seq` (see `cp_fuzz::check_adapter`).
#![no_main]

use aef::AdapterKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| cp_fuzz::check_adapter(AdapterKind::Codex, data));
