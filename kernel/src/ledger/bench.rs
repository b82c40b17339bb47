//! Benchmark drivers of the ledger (feature `bench`), shared by `cpctl bench ledger` and the
//! criterion benches: the rows of the storage benchmarks, a sample ledger, and a same-run
//! comparison of verify throughput against raw SHA-256 over the same stored bytes.
//! Never used by the kernel itself.

use std::time::Instant;

use serde::Serialize;

use super::verify::{OwnedRecord, stored_records, verify_store};
use super::{LedgerError, LedgerStore, MemoryStore, NewEntry, Provenance};

/// The `i`-th entry of the storage benchmarks (`cargo bench --bench ledger_store` and
/// `cpctl bench ledger` use the same rows): a small prompt-path entry whose `session_id`
/// cycles over `sessions` values, so a session query returns `n / sessions` rows.
pub fn ledger_entry(i: u64, sessions: u64) -> NewEntry {
    NewEntry::new("PROMPT_SENT")
        .decision("ALLOW")
        .reason("bench")
        .meta("tokens", i % 977)
        .meta("model", "m-1")
        .provenance(Provenance {
            tenant_id: Some("t-1".into()),
            agent_id: Some(format!("a-{}", i % 7)),
            session_id: Some(format!("s-{}", i % sessions.max(1))),
            work_order_id: Some(format!("wo-{}", i % 101)),
            ..Provenance::default()
        })
}

/// An in-memory ledger of `entries` entries shaped like prompt-path entries (provenance,
/// a few metadata fields, roughly 600 bytes of canonical JSON each).
pub fn sample_store(entries: usize) -> Result<MemoryStore, LedgerError> {
    let store = MemoryStore::new("BENCH/verify");
    let batch: Vec<NewEntry> = (0..entries)
        .map(|i| {
            NewEntry::new("PROMPT_SENT")
                .decision("ALLOW")
                .reason(format!("prompt {i} dispatched to the mock provider"))
                .meta("prompt_tokens", 1200 + (i % 97) as u64)
                .meta("max_tokens", 512)
                .meta("cost_usd", 0.00125 * (i % 13) as f64)
                .meta("model", "mock-large")
                .meta("context_hash", crate::hashing::sha256_hex(&i.to_le_bytes()))
                .provenance(Provenance {
                    tenant_id: Some("tenant-a".into()),
                    agent_id: Some(format!("agent-{}", i % 7)),
                    session_id: Some(format!("session-{}", i % 101)),
                    work_order_id: Some(format!("WO-{}", i % 31)),
                    tier: Some("ho1".into()),
                    ..Provenance::default()
                })
        })
        .collect();
    store.append_batch(batch)?;
    Ok(store)
}

/// One same-run measurement.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyThroughput {
    /// Entries verified per round.
    pub entries: u64,
    /// Stored bytes (bodies) per round.
    pub bytes: u64,
    /// Rounds measured (best round kept for each side).
    pub rounds: u32,
    /// Verify throughput, MB/s (10^6 bytes) of stored bytes.
    pub verify_mb_s: f64,
    /// Raw SHA-256 over the same bytes, one thread, MB/s.
    pub sha256_mb_s: f64,
    /// Entries verified per second.
    pub verify_entries_s: f64,
    /// `verify_mb_s / sha256_mb_s` (target ≥ 0.5).
    pub ratio: f64,
}

/// Raw SHA-256 of every body, one thread: the baseline.
pub fn raw_sha256(records: &[OwnedRecord]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut acc = [0u8; 32];
    for r in records {
        let d: [u8; 32] = Sha256::digest(&r.body).into();
        acc[0] ^= d[0];
    }
    acc
}

/// Measures `verify_store(store)` against [`raw_sha256`] over its stored bytes, `rounds`
/// times each (interleaved), keeping each side's best round.
pub fn measure(store: &dyn LedgerStore, rounds: u32) -> Result<VerifyThroughput, LedgerError> {
    let records = stored_records(store)?;
    let bytes: u64 = records.iter().map(|r| r.body.len() as u64).sum();
    let (mut best_v, mut best_h) = (f64::MAX, f64::MAX);
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        let r = verify_store(store)?;
        best_v = best_v.min(t.elapsed().as_secs_f64());
        std::hint::black_box(r);
        let t = Instant::now();
        std::hint::black_box(raw_sha256(&records));
        best_h = best_h.min(t.elapsed().as_secs_f64());
    }
    let mb = bytes as f64 / 1e6;
    let verify_mb_s = mb / best_v.max(1e-9);
    let sha256_mb_s = mb / best_h.max(1e-9);
    Ok(VerifyThroughput {
        entries: records.len() as u64,
        bytes,
        rounds: rounds.max(1),
        verify_mb_s,
        sha256_mb_s,
        verify_entries_s: records.len() as f64 / best_v.max(1e-9),
        ratio: verify_mb_s / sha256_mb_s,
    })
}
