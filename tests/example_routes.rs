//! The orchestrator example runs as its header says against a quickstart plane, and chooses the
//! provider as `cpctl route` does (`--provider`, else `openai` when `CP_OPENAI_BASE_URL` is set,
//! else the config's default).
#![allow(clippy::disallowed_methods)]

use cp_installer::{QuickstartOptions, quickstart};

fn example() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let example = exe.parent().and_then(|d| d.parent()).unwrap().join("examples/orchestrator");
    assert!(example.is_file(), "cargo test builds {}", example.display());
    example
}

/// Runs the example on `root` with `args`, `CP_OPENAI_BASE_URL` set to `base_url` (or unset).
fn run(root: &std::path::Path, args: &[&str], base_url: Option<&str>) -> (Option<i32>, String, String) {
    let mut cmd = std::process::Command::new(example());
    cmd.arg(root).args(args).env_remove("CP_OPENAI_BASE_URL");
    cmd.env_remove("CP_AUTH_SECRET").env_remove("CP_AUTH_SECRET_FILE");
    if let Some(u) = base_url {
        cmd.env("CP_OPENAI_BASE_URL", u);
    }
    let out = cmd.output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn orchestrator_example_routes_on_a_quickstart_plane_with_cpctl_provider_settings() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cp-root");
    quickstart(&QuickstartOptions::new(root.clone()), &mut |_| {}).expect("quickstart");

    let (code, out, err) = run(&root, &[], None);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("PROMPT_SENT seq") && out.contains("PROMPT_RECEIVED seq"), "{out}");

    let (code, _, err) = run(&root, &["--provider", "nosuch"], None);
    assert_eq!(code, Some(1));
    assert!(err.starts_with("error: ") && err.contains("\"nosuch\" is requested but not defined"), "{err}");

    // CP_OPENAI_BASE_URL switches to the openai provider, as for `cpctl route`: nothing listens
    // on the discard port, so the route fails there (logged), not on the mock.
    let (code, _, err) = run(&root, &[], Some("http://127.0.0.1:9"));
    assert_eq!(code, Some(1));
    assert!(err.starts_with("error: PROVIDER_UNAVAILABLE"), "{err}");
    // An explicit --provider wins over the environment.
    let (code, out, err) = run(&root, &["--provider", "mock"], Some("http://127.0.0.1:9"));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("PROMPT_RECEIVED seq"), "{out}");

    let (code, _, err) = run(&root, &["--bogus"], None);
    assert_eq!(code, Some(1));
    assert!(err.starts_with("error: unknown option --bogus"), "{err}");
}
