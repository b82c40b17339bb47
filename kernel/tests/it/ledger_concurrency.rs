//! Concurrent appends: threads sharing one store form one dense, intact chain (each backend).
//! The multi-process test (4 `cpctl` processes) is in the CLI crate.

use std::sync::Arc;

use cp_kernel::{LedgerStore, NewEntry};

use crate::ledger_conformance::{check_chain, open_jsonl, open_sqlite};

fn threads(store: Arc<dyn LedgerStore>) {
    let hs: Vec<_> = (0..4)
        .map(|t| {
            let s = store.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    s.append(NewEntry::new("T").meta("t", t).meta("i", i)).unwrap();
                }
            })
        })
        .collect();
    hs.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(check_chain(&*store), 400);
}

#[test]
fn threads_share_one_store() {
    let d = tempfile::tempdir().unwrap();
    threads(open_sqlite(d.path()));
    let d = tempfile::tempdir().unwrap();
    threads(open_jsonl(d.path()));
}

/// A write lock held by another connection beyond every retry: `LEDGER_UNAVAILABLE` after
/// `1 + retries` attempts, nothing written; once released, the append goes through.
#[test]
fn a_database_locked_through_every_retry_is_unavailable_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("l.db");
    let s = cp_kernel::SqliteStore::open_retrying(
        &path,
        "HOT/test",
        cp_kernel::Durability::Full,
        std::time::Duration::from_millis(0),
        2,
    )
    .unwrap();
    s.append(cp_kernel::NewEntry::new("A")).unwrap();
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let e = s.append(cp_kernel::NewEntry::new("B")).unwrap_err();
    assert!(
        matches!(e, cp_kernel::LedgerError::Unavailable { attempts: 3, .. }),
        "expected LEDGER_UNAVAILABLE after 3 attempts, got {e}"
    );
    assert!(e.to_string().starts_with("LEDGER_UNAVAILABLE"), "{e}");
    holder.execute_batch("COMMIT").unwrap();
    assert_eq!(s.len().unwrap(), 1, "nothing was written");
    s.append(cp_kernel::NewEntry::new("C")).unwrap();
    assert_eq!(s.len().unwrap(), 2);
}

/// A lock held longer than one busy timeout is waited out by the retries (with no retries the
/// same append fails: the store below with `retries = 0` shows that the lock was there).
#[test]
fn a_lock_held_longer_than_one_busy_timeout_is_waited_out() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("l.db");
    let wait = std::time::Duration::from_millis(10);
    let open = |retries| {
        cp_kernel::SqliteStore::open_retrying(&path, "HOT/test", cp_kernel::Durability::Full, wait, retries).unwrap()
    };
    let (patient, impatient) = (open(1000), open(0));
    patient.append(cp_kernel::NewEntry::new("A")).unwrap();
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    assert!(matches!(
        impatient.append(cp_kernel::NewEntry::new("X")),
        Err(cp_kernel::LedgerError::Unavailable { attempts: 1, .. })
    ));
    let (tx, rx) = std::sync::mpsc::channel();
    let releaser = std::thread::spawn(move || {
        // Release only after the patient writer has started waiting.
        rx.recv().unwrap();
        std::thread::sleep(wait * 5);
        holder.execute_batch("COMMIT").unwrap();
    });
    tx.send(()).unwrap();
    patient.append(cp_kernel::NewEntry::new("B")).unwrap();
    releaser.join().unwrap();
    assert_eq!(patient.len().unwrap(), 2);
}
