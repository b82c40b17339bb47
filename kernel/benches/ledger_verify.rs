//! Ledger verify throughput against raw SHA-256 over the same stored bytes (same run), and
//! canonical JSON + hash per entry.
//!
//! Run: `cargo bench -p cp-kernel --features bench --bench ledger_verify -- --warm-up-time 1 --measurement-time 3`
#![allow(missing_docs, clippy::print_stderr)]

use std::hint::black_box;

use cp_kernel::{
    LedgerStore, bench::ledger::measure, bench::ledger::raw_sha256, bench::ledger::sample_store, canonical,
    compute_entry_hash, stored_records, verify_records, verify_store,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const ENTRIES: usize = 20_000;

fn verify(c: &mut Criterion) {
    let store = sample_store(ENTRIES).expect("sample ledger");
    let records = stored_records(&store).expect("records");
    let bytes: u64 = records.iter().map(|r| r.body.len() as u64).sum();
    // Interleaved same-run comparison (the figure `cpctl bench ledger` reports).
    let m = measure(&store, 7).expect("measure");
    eprintln!(
        "interleaved: verify {:.0} MB/s ({:.0} entries/s) vs raw SHA-256 {:.0} MB/s: ratio {:.2}",
        m.verify_mb_s, m.verify_entries_s, m.sha256_mb_s, m.ratio
    );
    let mut g = c.benchmark_group("ledger_verify");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(20);
    g.bench_function("raw_sha256_baseline", |b| b.iter(|| black_box(raw_sha256(black_box(&records)))));
    g.bench_function("verify_store_memory", |b| {
        b.iter(|| {
            let r = verify_store(black_box(&store)).expect("verify");
            assert!(r.ok);
        })
    });
    g.bench_function("verify_records_owned", |b| {
        b.iter_batched(
            || records.clone(),
            |recs| assert!(verify_records("BENCH/verify", recs).ok),
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("breakdown_leaf_hash", |b| {
        b.iter(|| {
            for r in &records {
                black_box(cp_kernel::merkle::leaf_hash(&r.body));
            }
        })
    });
    g.bench_function("breakdown_copy_records", |b| b.iter(|| black_box(stored_records(&store).expect("scan"))));
    g.bench_function("breakdown_serde_ignored_any", |b| {
        b.iter(|| {
            for r in &records {
                black_box(serde_json::from_slice::<serde::de::IgnoredAny>(&r.body).expect("json"));
            }
        })
    });
    g.finish();
}

fn canonical_hash(c: &mut Criterion) {
    let store = sample_store(1).expect("sample ledger");
    let entry = store.get(0).expect("get").expect("entry 0");
    let mut value = serde_json::to_value(&entry).expect("value");
    if let Some(m) = value.as_object_mut() {
        m.remove("entry_hash");
    }
    let mut g = c.benchmark_group("ledger_canonical");
    g.throughput(Throughput::Elements(1));
    g.bench_function("jcs_plus_entry_hash_per_entry", |b| {
        b.iter(|| black_box(compute_entry_hash(&canonical::to_vec(black_box(&value)))))
    });
    g.bench_function("seal_body_per_entry", |b| b.iter(|| black_box(entry.canonical_body())));
    g.finish();
}

criterion_group!(benches, verify, canonical_hash);
criterion_main!(benches);
