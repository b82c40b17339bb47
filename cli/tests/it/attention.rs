//! `cpctl attention` as a process: `validate` refuses a bad template with located errors (exit
//! 2), `explain` lists the candidates, `assemble --json` returns the context.

use cp_kernel::testkit::{TempPlane, router_test_configs, test_secret, write_router_configs};
use cp_kernel::{PromptRouter, RouterOptions};

/// A template applying to every KERNEL.syntactic agent, with one structuring stage.
const TEMPLATE: &str = "template_id: ATT-K\nversion: \"1.0.0\"\napplies_to: {agent_class: [KERNEL.syntactic]}\n\
pipeline:\n  - stage: organise\n    type: structuring\n    config: {strategy: hierarchical, max_tokens: 100000}\n\n\
budget:\n  max_context_tokens: 100000\n  max_queries: 100\n  timeout_ms: 100000\n\
fallback:\n  on_timeout: return_partial\n  on_empty: proceed_empty\n";

#[test]
fn cli_validate_refuses_with_located_errors_and_explain_lists_candidates() {
    let bin = env!("CARGO_BIN_EXE_cpctl");
    let tp = TempPlane::new();
    let t = tp.plane.root().join("HOT/attention_templates/ATT-K.yaml");
    std::fs::create_dir_all(t.parent().unwrap()).unwrap();
    std::fs::write(&t, TEMPLATE).unwrap();
    let bad = tp.dir.path().join("bad.yaml");
    std::fs::write(&bad, "template_id: ATT-X\nversion: \"1\"\npipeline: []\nbudget: {max_context_tokens: -1, max_queries: 1, timeout_ms: 1}\nfallback: {on_timeout: fail, on_empty: fail}\n").unwrap();
    let out = std::process::Command::new(bin)
        .args(["--root"])
        .arg(tp.plane.root())
        .args(["attention", "validate"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("/budget/max_context_tokens"));
    let req = tp.dir.path().join("req.yaml");
    std::fs::write(&req, "agent_id: a\nagent_class: KERNEL.syntactic\ntier: ho1\ntenant_id: t\n").unwrap();
    let out = std::process::Command::new(bin)
        .args(["--root"])
        .arg(tp.plane.root())
        .args(["attention", "explain", "--request"])
        .arg(&req)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ATT-K") && text.contains("MATCH") && text.contains("chosen: ATT-K"), "{text}");
    // Assembling needs a token: the tenant is the token's (`t`, as the request says).
    let (r, b, p) = router_test_configs();
    write_router_configs(&tp, &r, &b, &p);
    let router = PromptRouter::open(&tp.plane, RouterOptions::new().auth_secret(test_secret())).unwrap();
    let (tok, _) = router.issue_token("alice", &["agent".into()], "t", Some(3600)).unwrap();
    let out = std::process::Command::new(bin)
        .args(["--json", "--root"])
        .arg(tp.plane.root())
        .args(["attention", "assemble", "--request"])
        .arg(&req)
        .env("CP_AUTH_SECRET", "0123456789abcdef0123456789abcdef")
        .env_remove("CP_AUTH_SECRET_FILE")
        .env("CP_AUTH_TOKEN", &tok)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["template_id"], "ATT-K");
}
