//! What the adapter fuzz targets share: feed arbitrary bytes to one adapter line by line and check
//! every entry it writes.

use std::sync::{Arc, OnceLock};

use aef::{AdapterKind, AdapterOptions, EntrySink, FixedClock, Limits, Validator};

/// The strict AEF validator, compiled once per process.
pub fn validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| Validator::new(true).expect("core schema compiles"))
}

/// Runs adapter `kind` over `data` split at newlines (small limits, so eviction paths run too):
/// it must never panic, and every entry it writes must be a valid AEF entry (strict mode) with a
/// dense `seq`. Format detection must not panic either.
pub fn check_adapter(kind: AdapterKind, data: &[u8]) {
    let limits = Limits { gemini_window: 4, max_pending_calls: 8, max_aliases: 8, ..Limits::default() };
    let options = AdapterOptions { limits, clock: Arc::new(FixedClock::new(0, 1)) };
    let mut adapter = kind.build(options);
    let mut out = EntrySink::default();
    for (i, line) in data.split(|b| *b == b'\n').enumerate() {
        adapter.push_line(i as u64 + 1, line, &mut out);
    }
    adapter.finish(&mut out);
    let _ = aef::detect(data);
    for (i, e) in out.entries.iter().enumerate() {
        let verdict = validator().check_value(&e.to_value());
        assert!(verdict.is_valid(), "entry {i} invalid: {:?} in {}", verdict.problems, e.to_value());
        assert_eq!(e.seq, Some(i as u64));
    }
}
