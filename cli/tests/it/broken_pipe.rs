//! Issue 8 §3: a closed stdout pipe (`cpctl ledger query | head -1`) ends quietly. Each command
//! is spawned with stdout piped; the test reads one line and drops the reader while the child
//! still has far more than a pipe buffer to write, so its next write fails with EPIPE.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use cp_kernel::testkit::{TempPlane, router_test_configs, test_secret, write_router_configs};
use cp_kernel::{LedgerSet, NewEntry, PromptRouter, Provenance, RouterOptions};

const SECRET: &str = "0123456789abcdef0123456789abcdef";
/// Entries × reason bytes: several times the 64 KiB of a Linux pipe.
const ENTRIES: usize = 300;
const REASON_BYTES: usize = 1024;

const TEMPLATE: &str = "template_id: ATT-ALL\nversion: \"1.0.0\"\napplies_to: {agent_class: [KERNEL.semantic]}\n\
pipeline:\n  - stage: notes\n    type: ledger_query\n    config: {event_type: NOTE, tier: ho1, ledger: notes, max_entries: 1000}\n\
budget:\n  max_context_tokens: 10000000\n  max_queries: 100\n  timeout_ms: 100000\n\
fallback:\n  on_timeout: return_partial\n  on_empty: proceed_empty\n";

/// Runs `args`, reads one line of stdout, closes it, and returns (exit code, stderr).
fn first_line_then_close(tp: &TempPlane, token: &str, args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cpctl"))
        .arg("--root")
        .arg(tp.plane.root())
        .args(args)
        .env("CP_AUTH_SECRET", SECRET)
        .env("CP_AUTH_TOKEN", token)
        .env_remove("CP_AUTH_SECRET_FILE")
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(!line.is_empty(), "{args:?} printed nothing");
    drop(reader);
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_closed_stdout_ends_every_big_printer_quietly() {
    let tp = TempPlane::new();
    let (r, b, p) = router_test_configs();
    write_router_configs(&tp, &r, &b, &p);
    let t = tp.plane.root().join("HOT/attention_templates/ATT-ALL.yaml");
    std::fs::create_dir_all(t.parent().unwrap()).unwrap();
    std::fs::write(&t, TEMPLATE).unwrap();
    let notes = LedgerSet::new(&tp.plane).open("HO1/notes").unwrap();
    let prov = Provenance { tenant_id: Some("acme".into()), ..Provenance::default() };
    let batch: Vec<NewEntry> = (0..ENTRIES)
        .map(|i| NewEntry::new("NOTE").reason(format!("{i} {}", "x".repeat(REASON_BYTES))).provenance(prov.clone()))
        .collect();
    notes.append_batch(batch).unwrap();
    let router = PromptRouter::open(&tp.plane, RouterOptions::new().auth_secret(test_secret())).unwrap();
    let (token, _) = router.issue_token("alice", &["agent".into()], "acme", Some(3600)).unwrap();
    drop(router);
    let req = tp.dir.path().join("req.yaml");
    std::fs::write(&req, "agent_id: a1\nagent_class: KERNEL.semantic\ntier: ho1\n").unwrap();
    let req = req.to_str().unwrap();
    let cases: [&[&str]; 5] = [
        &["ledger", "query", "--ledger", "HO1/notes"],
        &["--json", "ledger", "query", "--ledger", "HO1/notes"],
        &["ledger", "export", "--ledger", "HO1/notes"],
        &["attention", "assemble", "--request", req],
        &["--json", "attention", "assemble", "--request", req],
    ];
    for args in cases {
        let (code, stderr) = first_line_then_close(&tp, &token, args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        for bad in ["panicked", "Broken pipe", "failed printing", "backtrace", "Os {"] {
            assert!(!stderr.contains(bad), "{args:?} printed {bad:?}: {stderr}");
        }
    }
}
