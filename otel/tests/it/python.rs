//! The Python interpreter of the test venv (`target/otel-venv/bin/python`, or `$CP_OTEL_PYTHON`)
//! when it has the modules a test needs; else the test is skipped (printing `skipped: no …`),
//! or fails when `CP_REQUIRE_SERVICES=1`.

use std::path::PathBuf;
use std::process::Command;

/// The interpreter if it can import `module`; `None` (after printing the skip) otherwise.
pub(crate) fn python_with(module: &str, what: &str) -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/otel-venv/bin/python");
    let py = std::env::var_os("CP_OTEL_PYTHON").map(PathBuf::from).unwrap_or(venv);
    let ok = Command::new(&py).args(["-c", &format!("import {module}")]).output().is_ok_and(|o| o.status.success());
    if ok {
        return Some(py);
    }
    assert!(
        std::env::var("CP_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "CP_REQUIRE_SERVICES=1 but {} cannot import {module} (create target/otel-venv as .ci/run does)",
        py.display()
    );
    println!("skipped: no {what}");
    None
}
