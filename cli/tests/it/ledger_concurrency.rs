//! Multi-process appends: 4 `cpctl` processes × 2,000 appends to one ledger form one dense,
//! intact chain of 8,000 entries (each backend).

use std::process::{Command, Stdio};

use cp_kernel::{Durability, LedgerBackend, LedgerQuery, testkit::check_chain};

use crate::ledger_crash::{CPCTL, ledger_path, open, plane_with};

const PROCS: usize = 4;
const PER_PROC: u64 = 2_000;

fn four_processes(backend: LedgerBackend) {
    let tp = plane_with(backend, Durability::Normal);
    // A generous busy timeout: four writers on a small shared machine.
    let mut layout: serde_json::Value = serde_json::from_str(cp_kernel::DEFAULT_LAYOUT_JSON).unwrap();
    layout["ledger"]["busy_timeout_ms"] = serde_json::json!(120_000);
    let lp = tp.plane.root().join(cp_kernel::LAYOUT_PATH);
    std::fs::create_dir_all(lp.parent().unwrap()).unwrap();
    std::fs::write(&lp, serde_json::to_vec(&layout).unwrap()).unwrap();
    let children: Vec<_> = (0..PROCS)
        .map(|p| {
            Command::new(CPCTL)
                .arg("--root")
                .arg(tp.plane.root())
                .args(["ledger", "append", "--ledger", "HOT/crash", "--event-type", "CONC"])
                .args(["--agent", &format!("proc-{p}"), "--repeat", &PER_PROC.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let s = open(&ledger_path(&tp, backend), backend);
    assert_eq!(check_chain(&*s), PROCS as u64 * PER_PROC);
    for p in 0..PROCS {
        let mut q = LedgerQuery::default();
        q.provenance.agent_id = Some(format!("proc-{p}"));
        assert_eq!(s.query(&q).unwrap().len() as u64, PER_PROC, "proc-{p}");
    }
}

#[test]
fn sqlite_four_processes_one_chain() {
    four_processes(LedgerBackend::Sqlite);
}

#[test]
fn jsonl_four_processes_one_chain() {
    four_processes(LedgerBackend::Jsonl);
}
