//! The route bench code runs end to end (tiny settings; no timing is asserted).

use cp_kernel::{bench::route::RouteBenchConfig, bench::route::run};

#[test]
fn route_bench_runs_and_reports_every_row() {
    let cfg = RouteBenchConfig { prompts: 3, threads: 2, per_thread: 2, budget_threads: 2, pairs_per_thread: 2 };
    let r = run(&cfg).unwrap();
    assert_eq!(r.overhead.len(), 2);
    assert!(r.overhead.iter().all(|o| o.route.n == 3 && o.sqlite_commit.n == 3));
    assert_eq!(r.route_memory_store.n, 3);
    assert!(r.routed_per_s > 0.0 && r.routed_per_s_memory_store > 0.0 && r.reserve_settle_pairs_per_s > 0.0);
}
