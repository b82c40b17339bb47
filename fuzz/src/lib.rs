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

/// A file in this process's scratch directory holding `data`, for readers that take a path
/// (archives, Control Plane v2 ledgers). One file per process, overwritten on every input.
pub fn scratch_file(name: &str, data: &[u8]) -> std::path::PathBuf {
    static DIR: OnceLock<tempfile_dir::Dir> = OnceLock::new();
    let dir = DIR.get_or_init(tempfile_dir::Dir::new);
    let path = dir.0.join(name);
    std::fs::write(&path, data).expect("scratch file is writable");
    path
}

mod tempfile_dir {
    /// `$TMPDIR/cp-fuzz-<pid>`, created on first use.
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new() -> Self {
            let p = std::env::temp_dir().join(format!("cp-fuzz-{}", std::process::id()));
            std::fs::create_dir_all(&p).expect("scratch dir is creatable");
            Dir(p)
        }
    }
}

/// The schemas compiled into the kernel (what a plane without its own uses).
pub fn schemas() -> &'static cp_kernel::SchemaSet {
    static S: OnceLock<std::sync::Arc<cp_kernel::SchemaSet>> = OnceLock::new();
    S.get_or_init(|| cp_kernel::embedded_schemas().expect("embedded schemas compile"))
}
