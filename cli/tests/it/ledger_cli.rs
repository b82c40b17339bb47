//! Issue 8 §3, `cpctl ledger`: `--last N` is the N most recent across the ledgers queried; an
//! unknown ledger name lists the ledgers that exist; `import` needs `--ledger` (with an
//! example) and a refused import leaves no ledger behind; `verify --format cp2-jsonl` names the
//! 1-based line and the entry's id; `--json` errors are one JSON object.

use std::path::Path;
use std::process::{Command, Output};

use cp_kernel::testkit::TempPlane;
use cp_kernel::{LedgerSet, NewEntry};
use serde_json::Value;

fn cpctl(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cpctl")).arg("--root").arg(root).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn last_n_is_across_ledgers_and_unknown_names_list_the_existing_ones() {
    let tp = TempPlane::new();
    let set = LedgerSet::new(&tp.plane);
    let (a, b) = (set.open("HO1/alpha").unwrap(), set.open("HOT/beta").unwrap());
    // Interleaved in time: a0 b0 a1 b1 a2.
    for i in 0..3 {
        a.append(NewEntry::new("NOTE").reason(format!("a{i}"))).unwrap();
        if i < 2 {
            b.append(NewEntry::new("NOTE").reason(format!("b{i}"))).unwrap();
        }
    }
    let root = tp.plane.root();
    let o = cpctl(root, &["--json", "ledger", "query", "--last", "3"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut got: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| l["entries"].as_array().unwrap().iter().map(|e| e["reason"].as_str().unwrap().to_string()))
        .collect();
    got.sort();
    assert_eq!(got, ["a1", "a2", "b1"], "the 3 most recent overall, not 3 per ledger");
    // An unknown ledger: the ones that exist are listed.
    let o = cpctl(root, &["ledger", "query", "--ledger", "HOT/governance"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no ledger HOT/governance") && stderr(&o).contains("HOT/beta, HO1/alpha"),
        "{}",
        stderr(&o)
    );
    // --json: the error is one JSON object on stdout.
    let o = cpctl(root, &["--json", "ledger", "query", "--ledger", "HOT/governance"]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["code"], "ERROR");
    assert_eq!(v["error"]["exit_code"], 1);
    assert!(v["error"]["message"].as_str().unwrap().contains("HOT/beta"), "{v}");
    assert!(o.stderr.is_empty(), "{}", stderr(&o));
}

#[test]
fn import_needs_a_ledger_leaves_nothing_on_refusal_and_cp2_verify_names_line_and_id() {
    let tp = TempPlane::new();
    let root = tp.plane.root();
    let fixture = cp_kernel::testkit::fixture_path("cp2/ledger_raw.jsonl");
    let o = cpctl(root, &["ledger", "import", "--format", "cp2-jsonl", fixture.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--ledger HOT/imported"), "{}", stderr(&o));
    // A broken Python ledger: line 2 does not link to line 1.
    let data = std::fs::read(&fixture).unwrap();
    let lines: Vec<&[u8]> = data.split_inclusive(|b| *b == b'\n').collect();
    let broken = tp.dir.path().join("broken.jsonl");
    std::fs::write(&broken, [lines[0], lines[2]].concat()).unwrap();
    let id: Value = serde_json::from_slice(lines[2]).unwrap();
    let id = id["id"].as_str().unwrap();
    let o = cpctl(root, &["ledger", "verify", "--format", "cp2-jsonl", broken.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("line 2 (id {id})")), "{out}");
    let before: Vec<String> = LedgerSet::new(&tp.plane).list().unwrap().iter().map(ToString::to_string).collect();
    let o = cpctl(root, &["ledger", "import", "--format", "cp2-jsonl", broken.to_str().unwrap(), "--ledger", "HOT/x"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let after: Vec<String> = LedgerSet::new(&tp.plane).list().unwrap().iter().map(ToString::to_string).collect();
    assert_eq!(before, after, "a refused import leaves no ledger behind");
    assert!(
        !root
            .join("HOT/ledger")
            .read_dir()
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with('x'))
    );
}
