//! The attention template loader (YAML or JSON, schema and model checks) on arbitrary text: must
//! never panic; every refusal carries at least one issue.
#![no_main]

use std::path::Path;

use cp_kernel::load_template_str;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for name in ["ATT-FUZZ.yaml", "ATT-FUZZ.json"] {
        if let Err(issues) = load_template_str(cp_fuzz::schemas(), Path::new(name), text) {
            assert!(!issues.is_empty(), "a refused template names what is wrong");
        }
    }
});
