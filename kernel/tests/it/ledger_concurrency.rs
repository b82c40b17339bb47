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
