//! Real processes (issue 9 §2): a request, contract or template that is a FIFO or `/dev/zero`
//! is refused before it is read — the command ends promptly with a clear error instead of
//! blocking for ever or reading without bound.

use std::process::{Command, Output, Stdio};

use cp_kernel::testkit::TempPlane;

use crate::support::{SECRET, routable_plane};

/// Runs `c`, killing it (and failing the test) if it has not ended after `secs` seconds: the
/// guard against the hang this file tests for, not a measurement.
fn run_guarded(mut c: Command, secs: u64) -> Output {
    let mut child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    for _ in 0..secs * 10 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    panic!("still running after {secs} s (killed): {}", String::from_utf8_lossy(&out.stderr));
}

fn cpctl(tp: &TempPlane, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cpctl"));
    c.arg("--root")
        .arg(tp.plane.root())
        .args(args)
        .env("CP_AUTH_SECRET", SECRET)
        .env_remove("CP_AUTH_SECRET_FILE")
        .env_remove("CP_AUTH_TOKEN");
    c
}

fn mkfifo(path: &std::path::Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

#[test]
fn fifo_and_device_requests_and_contracts_are_refused_unread() {
    // A plane that can route, so that each refusal is the bounded reader's, not a missing
    // config or a bad token.
    let (tp, tok) = routable_plane("ops", "operator");
    let tok = tok.as_str();
    let dir = tp.dir.path();
    let fifo = dir.join("req.json");
    mkfifo(&fifo);
    let fifo = fifo.to_str().unwrap();
    for args in [
        vec!["route", "--request", fifo, "--token", tok],
        vec!["route", "--request", "/dev/zero", "--token", tok],
        vec!["attention", "assemble", "--request", fifo, "--token", tok],
        vec!["attention", "explain", "--request", "/dev/zero"],
    ] {
        let out = run_guarded(cpctl(&tp, &args), 60);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains("not a regular file"), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    for contract in ["/dev/zero", "/dev/urandom"] {
        let req = serde_json::json!({"contract": contract, "input": {"question": "q"},
                                      "provenance": {"tenant_id": "acme", "session_id": "s1"}});
        let path = dir.join("dev-req.json");
        std::fs::write(&path, serde_json::to_vec(&req).unwrap()).unwrap();
        let out = run_guarded(cpctl(&tp, &["route", "--request", path.to_str().unwrap(), "--token", tok]), 60);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{contract}");
        assert!(err.contains("character device, not a regular file"), "{contract}: {err}");
    }
}
