//! The AEF validator on arbitrary bytes: one line through `check_line`, the whole input through
//! `validate_stream` (plain and as if gzip). Must never panic; counts must add up.
#![no_main]

use aef::{Input, Limits, validate_stream};
use cp_fuzz::validator;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let v = validator();
    let verdict = v.check_line(data);
    assert!(verdict.is_valid() == verdict.problems.is_empty());
    let limits = Limits { max_line_bytes: 4096, ..Limits::default() };
    let input = Input::from_reader("fuzz", std::io::Cursor::new(data.to_vec()));
    if let Ok(s) = validate_stream(v, input, &limits, &mut |_| {}) {
        // strict mode: every non-blank line is valid or invalid, and so is every blank line
        assert_eq!(s.valid + s.invalid, s.entries + s.blank);
        assert!(s.core + s.extension <= s.entries);
    }
});
