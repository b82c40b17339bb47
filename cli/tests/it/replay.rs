//! `cpctl replay` as a process: a session of several prompts whose context is assembled from a
//! package's file and the prompt ledger itself replays identical; appending unrelated ledger
//! entries changes nothing (reads are bounded at the recorded heads); upgrading the package
//! that ships the file reports exactly that file, with both package versions (exit 2).

use std::path::Path;
use std::process::{Command, Output};

use cp_installer::testkit::plane_with_fixture_framework;
use cp_installer::{InstallOptions, Installer};
use cp_kernel::testkit::{
    FixturePackage, TempPlane, router_test_configs, test_contract, test_secret, write_router_configs,
};
use cp_kernel::{LedgerSet, NewEntry, PromptRouter, Provenance, RouterOptions};
use serde_json::{Value, json};

use crate::support::SECRET;

const NOTES: &str = "HOT/kernel/notes.md";

/// Reads the package's notes file and the tenant's last received prompts (shipped by the same
/// package, unchanged between its versions).
const TEMPLATE: &str = r#"template_id: ATT-R
version: "1.0.0"
applies_to: {agent_class: [KERNEL.semantic]}
pipeline:
  - stage: notes
    type: file_read
    config: {paths: [HOT/kernel/notes.md], max_size_bytes: 10000}
  - stage: history
    type: ledger_query
    config: {event_type: PROMPT_RECEIVED, tier: ho1, ledger: prompts, max_entries: 10}
budget: {max_context_tokens: 100000, max_queries: 100, timeout_ms: 100000}
fallback: {on_timeout: return_partial, on_empty: proceed_empty}
"#;

fn notes_package(version: &str, text: &str) -> FixturePackage {
    FixturePackage::new("PKG-NOTES-001")
        .version(version)
        .file(NOTES, text)
        .file("HOT/attention_templates/ATT-R.yaml", TEMPLATE)
}

fn install(tp: &TempPlane, p: &FixturePackage) {
    let a = p.write(&tp.dir.path().join(format!("store-{}", p.manifest_value()["version"].as_str().unwrap())));
    Installer::new(&tp.plane).install_archive(&a, None, &InstallOptions::default()).unwrap();
}

fn cpctl(tp: &TempPlane, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cpctl"))
        .arg("--root")
        .arg(tp.plane.root())
        .args(args)
        .env("CP_AUTH_SECRET", SECRET)
        .env_remove("CP_AUTH_SECRET_FILE")
        .env_remove("CP_AUTH_TOKEN")
        .env_remove("CONTROL_PLANE_ROOT")
        .output()
        .unwrap()
}

fn report(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{e}: {} / {}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    })
}

fn write_request(dir: &Path) -> std::path::PathBuf {
    std::fs::write(dir.join("contract.json"), serde_json::to_vec(&test_contract()).unwrap()).unwrap();
    let req = json!({"contract": "contract.json", "input": {"question": "what changed?"},
                     "provenance": {"session_id": "s1", "agent_id": "a1"},
                     "attention": {"agent_id": "a1", "agent_class": "KERNEL.semantic", "tier": "ho1", "session_id": "s1"}});
    let path = dir.join("req.json");
    std::fs::write(&path, serde_json::to_vec(&req).unwrap()).unwrap();
    path
}

#[test]
fn a_session_replays_identical_until_the_package_shipping_a_read_file_is_upgraded() {
    let tp = plane_with_fixture_framework();
    install(&tp, &notes_package("1.0.0", "the plane runs twelve packages\n"));
    let (mut r, b, p) = router_test_configs();
    // `full` records the input, so replay also re-runs each call with the mock provider.
    r["log_content"] = json!("full");
    write_router_configs(&tp, &r, &b, &p);
    let router = PromptRouter::open(&tp.plane, RouterOptions::new().auth_secret(test_secret())).unwrap();
    let (tok, _) = router.issue_token("ops", &["operator".into()], "acme", Some(86_400)).unwrap();
    drop(router);
    let req = write_request(tp.dir.path());
    let req = req.to_str().unwrap();
    for _ in 0..3 {
        let o = cpctl(&tp, &["route", "--json", "--request", req, "--token", &tok]);
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let replay = |args: &[&str]| {
        let mut a = vec!["replay", "--json", "--tenant", "acme", "--token", &tok];
        a.extend_from_slice(args);
        cpctl(&tp, &a)
    };
    // The session replays 100 % identical; each later prompt read the earlier ones' entries.
    let o = replay(&["--session", "s1"]);
    let v = report(&o);
    assert_eq!(o.status.code(), Some(0), "{v}");
    assert_eq!((v["identical"].as_u64(), v["drifted"].as_u64()), (Some(3), Some(0)), "{v}");
    let hashes: Vec<&str> =
        v["prompts"].as_array().unwrap().iter().map(|p| p["recorded_context_hash"].as_str().unwrap()).collect();
    assert!(hashes[0] != hashes[1] && hashes[1] != hashes[2], "the history grows: {hashes:?}");
    for p in v["prompts"].as_array().unwrap() {
        let c = &p["response"];
        assert_eq!(c["provider"], "mock", "{p}");
        assert_eq!(c["replayed_response_hash"], c["recorded_response_hash"], "{p}");
        assert_eq!(c["replayed_prompt_hash"], c["recorded_prompt_hash"], "{p}");
    }
    // Unrelated appends (and a fourth prompt) after the recorded heads: still identical.
    let store = LedgerSet::new(&tp.plane).open("HO1/prompts").unwrap();
    let p = Provenance { tenant_id: Some("acme".into()), ..Provenance::default() };
    store.append(NewEntry::new("PROMPT_RECEIVED").provenance(p).meta("note", "appended later")).unwrap();
    drop(store);
    let o = cpctl(&tp, &["route", "--json", "--request", req, "--token", &tok]);
    assert_eq!(o.status.code(), Some(0));
    let o = replay(&["--session", "s1"]);
    let v = report(&o);
    assert_eq!((o.status.code(), v["identical"].as_u64()), (Some(0), Some(4)), "{v}");
    // Upgrade the package that ships the notes: exactly that file is the cause, per prompt.
    // The test's router configs are written directly, not by a package: moved aside while the
    // upgrade runs, since G0b refuses to install over files no package owns.
    let cfg = tp.plane.root().join("HOT/config");
    let names = ["router_config.yaml", "budget_config.yaml", "price_book.yaml"];
    for n in names {
        std::fs::rename(cfg.join(n), tp.dir.path().join(n)).unwrap();
    }
    install(&tp, &notes_package("1.1.0", "the plane runs thirteen packages\n"));
    for n in names {
        std::fs::rename(tp.dir.path().join(n), cfg.join(n)).unwrap();
    }
    let o = replay(&["--session", "s1"]);
    let v = report(&o);
    assert_eq!(o.status.code(), Some(2), "{v}");
    assert_eq!(v["drifted"], 4, "{v}");
    for p in v["prompts"].as_array().unwrap() {
        let causes = p["causes"].as_array().unwrap();
        assert_eq!(causes.len(), 1, "{p}");
        assert!(p["response"].is_null(), "a drifted context is not re-run: {p}");
        let c = &causes[0];
        assert_eq!((c["kind"].as_str(), c["path"].as_str()), (Some("file_changed"), Some(NOTES)), "{c}");
        assert_eq!(c["old_package"], "PKG-NOTES-001@1.0.0");
        assert_eq!(c["new_package"], "PKG-NOTES-001@1.1.0");
        assert_ne!(c["old_sha256"], c["new_sha256"]);
    }
    // One request, in words.
    let id = v["prompts"][0]["request_id"].as_str().unwrap().to_string();
    let o = cpctl(&tp, &["replay", "--tenant", "acme", "--token", &tok, "--request", &id]);
    assert_eq!(o.status.code(), Some(2));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(&format!("file {NOTES} changed")) && text.contains("(PKG-NOTES-001@1.1.0)"), "{text}");
    // Another tenant's token cannot replay this tenant's session.
    let o = cpctl(&tp, &["replay", "--tenant", "other", "--token", &tok, "--session", "s1"]);
    assert_eq!(o.status.code(), Some(2));
}
