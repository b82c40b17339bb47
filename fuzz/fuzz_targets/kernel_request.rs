//! The request loaders (`attention assemble --request`, `route --request`): the located
//! YAML/JSON parser, then the typed request. Must never panic.
#![no_main]

use std::path::Path;

use cp_kernel::{AttentionRequest, ParseLimits, RequestFile, parse_located};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let limits = ParseLimits::default();
    for name in ["request.yaml", "request.json"] {
        if let Ok(doc) = parse_located(Path::new(name), text, &limits) {
            let _ = serde_json::from_value::<AttentionRequest>(doc.value.clone());
            let _ = serde_json::from_value::<RequestFile>(doc.value);
        }
    }
});
