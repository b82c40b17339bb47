//! Loading a config document through the schema service (parse with locations → validate →
//! typed decode) against the same-run baseline of a bare `serde_json::from_str` into the struct.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;

use cp_kernel::{DEFAULT_LAYOUT_JSON, Layout, SchemaSet};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let set = SchemaSet::embedded().expect("embedded schemas");
    let value: serde_json::Value = serde_json::from_str(DEFAULT_LAYOUT_JSON).expect("layout");
    let yaml = serde_saphyr::to_string(&value).expect("yaml");
    let mut g = c.benchmark_group("schema_load_layout");
    g.bench_function("baseline_serde_json_from_str", |b| {
        b.iter(|| serde_json::from_str::<Layout>(black_box(DEFAULT_LAYOUT_JSON)).expect("decode"))
    });
    g.bench_function("load_str_json", |b| {
        b.iter(|| {
            set.load_str::<Layout>("layout", Path::new("layout.json"), black_box(DEFAULT_LAYOUT_JSON)).expect("load")
        })
    });
    g.bench_function("load_str_yaml", |b| {
        b.iter(|| set.load_str::<Layout>("layout", Path::new("layout.yaml"), black_box(&yaml)).expect("load"))
    });
    g.bench_function("validate_value", |b| b.iter(|| set.validate("layout", black_box(&value)).expect("valid")));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
