//! Criterion benchmarks of the attention service: a targeted template and a
//! `horizontal_search` template with a warm index, on a generated plane. Sizes come from
//! `CP_BENCH_LEDGER_ENTRIES`, `CP_BENCH_FILES`, `CP_BENCH_SEARCH_DOCS` (defaults are small so
//! that a short run fits a shared machine; the full sizes are 1000000 / 10000 / 100000).
#![allow(missing_docs, clippy::print_stdout, clippy::print_stderr)]

use criterion::{Criterion, criterion_group, criterion_main};

use cp_kernel::{bench::attention::BenchFixture, bench::attention::BenchSizes};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn attention(c: &mut Criterion) {
    let sizes = BenchSizes {
        ledger_entries: env_u64("CP_BENCH_LEDGER_ENTRIES", 100_000),
        files: env_u64("CP_BENCH_FILES", 2_000),
        search_docs: env_u64("CP_BENCH_SEARCH_DOCS", 20_000),
        sessions: env_u64("CP_BENCH_SESSIONS", 100),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let fx = BenchFixture::create(&dir.path().join("plane"), sizes).expect("fixture");
    let svc = fx.service().expect("service");
    let mut i = 0u64;
    c.bench_function("attention/assemble_targeted", |b| {
        b.iter(|| {
            i += 1;
            svc.assemble(&fx.request(i, false)).expect("assemble")
        })
    });
    let t = std::time::Instant::now();
    svc.assemble(&fx.request(0, true)).expect("warm search");
    eprintln!("search index build ({} docs): {:?}", sizes.search_docs, t.elapsed());
    c.bench_function("attention/assemble_search_warm", |b| {
        b.iter(|| {
            i += 1;
            svc.assemble(&fx.request(i, true)).expect("assemble")
        })
    });
}

criterion_group!(benches, attention);
criterion_main!(benches);
