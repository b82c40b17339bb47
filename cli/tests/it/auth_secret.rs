//! Issue 8 §3: the auth secret lives in the plane's operator area (`HOT/plane/auth-secret`,
//! mode 0600), never beside the plane; `cpctl auth issue` creates it when no secret exists and
//! every command finds it; the attention service never reads it.

use std::process::{Command, Output};

use cp_kernel::testkit::{TempPlane, router_test_configs, write_router_configs};

fn cpctl(tp: &TempPlane, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cpctl"))
        .arg("--root")
        .arg(tp.plane.root())
        .args(args)
        .env_remove("CP_AUTH_SECRET")
        .env_remove("CP_AUTH_SECRET_FILE")
        .env_remove("CP_AUTH_TOKEN")
        .output()
        .unwrap()
}

fn issue(tp: &TempPlane) -> String {
    let out = cpctl(tp, &["auth", "issue", "--principal", "alice", "--role", "agent", "--tenant", "acme"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn auth_issue_creates_the_operator_secret_0600_and_every_command_finds_it() {
    let tp = TempPlane::new();
    let (r, b, p) = router_test_configs();
    write_router_configs(&tp, &r, &b, &p);
    let secret = tp.plane.root().join("HOT/plane/auth-secret");
    assert!(!secret.exists());
    let token = issue(&tp);
    assert!(secret.is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let beside: Vec<String> = std::fs::read_dir(tp.plane.root().parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(beside.iter().all(|n| !n.contains("secret")), "{beside:?}");
    // A second issue reuses it; another command verifies with it.
    let before = std::fs::read(&secret).unwrap();
    let second = issue(&tp);
    assert_eq!(std::fs::read(&secret).unwrap(), before);
    for t in [&token, &second] {
        let out = cpctl(&tp, &["--json", "auth", "inspect", t]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["verified"], true);
    }
    // A template cannot read it: file_read refuses the operator area.
    let t = tp.plane.root().join("HOT/attention_templates/ATT-PEEK.yaml");
    std::fs::create_dir_all(t.parent().unwrap()).unwrap();
    std::fs::write(
        &t,
        "template_id: ATT-PEEK\nversion: \"1.0.0\"\napplies_to: {agent_class: [ADMIN]}\npipeline:\n  - stage: peek\n    type: file_read\n    config: {paths: [HOT/plane/auth-secret, HOT/plane/plane.json], max_size_bytes: 100000}\n\
budget: {max_context_tokens: 100000, max_queries: 10, timeout_ms: 100000}\nfallback: {on_timeout: return_partial, on_empty: proceed_empty}\n",
    )
    .unwrap();
    let req = tp.dir.path().join("req.yaml");
    std::fs::write(&req, "agent_id: a\nagent_class: ADMIN\ntier: hot\n").unwrap();
    let out = cpctl(&tp, &["--json", "attention", "assemble", "--token", &token, "--request", req.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = String::from_utf8(before).unwrap();
    assert!(!text.contains(hex.trim()), "the secret reached a context");
    assert!(text.contains("HOT/plane/auth-secret refused"), "{text}");
    // Readable by others: refused, saying how to fix it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = cpctl(&tp, &["auth", "inspect", &token]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0));
        assert!(err.contains("must be 600") && err.contains("chmod 600"), "{err}");
    }
}
