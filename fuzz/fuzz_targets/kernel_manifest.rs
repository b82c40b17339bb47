//! The package manifest reader on arbitrary bytes (with and without the schema, hashes required
//! and optional): must never panic; a manifest it accepts re-serializes to one it accepts again.
#![no_main]

use cp_kernel::{HashRequirement, parse_manifest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_manifest(data, None, HashRequirement::Optional, None);
    if let Ok(m) = parse_manifest(data, None, HashRequirement::Required, Some(cp_fuzz::schemas())) {
        let again = serde_json::to_vec(&m).expect("a parsed manifest serializes");
        assert!(
            parse_manifest(&again, Some(&m.package_id), HashRequirement::Required, Some(cp_fuzz::schemas())).is_ok(),
            "an accepted manifest must be accepted again after a round trip"
        );
    }
});
