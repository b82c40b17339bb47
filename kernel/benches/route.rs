//! Per-prompt kernel overhead: `PromptRouter::route` on a zero-latency mock (two ledger
//! transactions per prompt) at durability `full` and `normal`, next to one raw SQLite commit at
//! the matching `synchronous` level, measured in the same run. Compare ratios, not times.
#![allow(missing_docs, clippy::disallowed_methods)]

use std::hint::black_box;

use cp_kernel::{Durability, bench::route::BenchSetup, bench::route::SqliteBaseline};
use criterion::{Criterion, criterion_group, criterion_main};

fn route(c: &mut Criterion) {
    let mut g = c.benchmark_group("route_overhead");
    g.sample_size(20);
    for (name, d) in [("full", Durability::Full), ("normal", Durability::Normal)] {
        let setup = BenchSetup::new(d).expect("bench plane");
        let mut i = 0usize;
        g.bench_function(format!("route_mock/{name}"), |b| {
            b.iter(|| {
                i += 1;
                black_box(setup.router.route(setup.request(i)).expect("route"));
            })
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let mut base = SqliteBaseline::new(&dir.path().join("b.db"), d == Durability::Full).expect("sqlite");
        g.bench_function(format!("raw_sqlite_commit/{name}"), |b| b.iter(|| base.commit_one().expect("commit")));
    }
    g.finish();
}

criterion_group!(benches, route);
criterion_main!(benches);
