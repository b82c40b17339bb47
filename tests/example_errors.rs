//! The orchestrator example reports errors as `error:` / `caused by:` lines (Display), never as
//! Rust debug text (`Io(FsError { .. })`). `cargo test` builds the example beside this binary.
#![allow(clippy::disallowed_methods)]

#[test]
fn orchestrator_example_errors_are_plain_text() {
    let exe = std::env::current_exe().unwrap();
    let example = exe.parent().and_then(|d| d.parent()).unwrap().join("examples/orchestrator");
    assert!(example.is_file(), "cargo test builds {}", example.display());
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(&example).arg(dir.path().join("missing")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("error: ") && err.contains("is not a plane"), "{err}");
    for debug in ["Io(", "FsError", "Some(", "{ ", "NotAPlane"] {
        assert!(!err.contains(debug), "{debug:?} in {err}");
    }
}
