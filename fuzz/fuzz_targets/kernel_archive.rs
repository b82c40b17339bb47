//! The strict package archive reader (tar, optionally gzip) on arbitrary bytes, with small caps so
//! that every cap is reachable: must never panic, and never accept more members or bytes than the
//! caps allow.
#![no_main]

use cp_kernel::{InstallConfig, read_archive};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut caps = InstallConfig::builtin().expect("the built-in install config is valid").archive;
    (caps.max_members, caps.max_member_bytes, caps.max_total_bytes) = (16, 4096, 16384);
    let path = cp_fuzz::scratch_file("package.tar.gz", data);
    if let Ok(a) = read_archive(&path, &caps, None) {
        assert!(a.files.len() as u64 <= caps.max_members);
        assert!(a.files.values().all(|f| f.size <= caps.max_member_bytes));
        let total: u64 = a.files.values().map(|f| f.size).sum();
        assert!(total <= caps.max_total_bytes);
    }
});
