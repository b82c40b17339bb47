//! Throughput of `validate` and of each adapter's `convert` against a same-run baseline: parsing
//! the same lines with serde_json into a `Value` (the least any JSON-reading tool must do).
//! `cargo bench -p aef --bench throughput`. Target: each ratio ≥ 0.5 (docs/BENCHMARKS.md).

mod synthetic;

use std::hint::black_box;
use std::sync::Arc;

use aef::{
    AdapterKind, AdapterOptions, ConvertOptions, EntryWriter, FixedClock, Input, Limits, Validator, validate_stream,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SAMPLE_BYTES: u64 = 8 * 1024 * 1024;

fn log(format: synthetic::Format) -> Vec<u8> {
    let mut v = Vec::new();
    synthetic::write_log(format, SAMPLE_BYTES, &mut v).expect("writing to memory");
    v
}

fn baseline(bytes: &[u8]) -> usize {
    bytes.split(|b| *b == b'\n').filter(|l| serde_json::from_slice::<serde_json::Value>(l).is_ok()).count()
}

/// Converts into `out`: a `Vec` to keep the result, `io::sink()` to measure streaming (the
/// entries are still serialized, as when writing to a file or pipe, without growing a buffer).
fn convert_into<W: std::io::Write>(kind: AdapterKind, bytes: &[u8], out: W) -> u64 {
    let options = AdapterOptions { clock: Arc::new(FixedClock::new(0, 1)), ..AdapterOptions::default() };
    let mut adapter = kind.build(options);
    let mut out = EntryWriter::new(out);
    let input = Input::from_reader("bench", std::io::Cursor::new(bytes.to_vec()));
    aef::convert(adapter.as_mut(), input, &mut out, &ConvertOptions::default(), None, &mut |_| {}, &mut |_, _| {})
        .expect("converting in memory");
    out.written()
}

fn convert(kind: AdapterKind, bytes: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    convert_into(kind, bytes, &mut v);
    v
}

fn bench(c: &mut Criterion) {
    let claude = log(synthetic::Format::Claude);
    let aef_log = convert(AdapterKind::ClaudeCode, &claude);
    let validator = Validator::new(false).expect("core schema compiles");

    let mut g = c.benchmark_group("validate");
    g.throughput(Throughput::Bytes(aef_log.len() as u64));
    g.bench_function("baseline_serde_value", |b| b.iter(|| black_box(baseline(&aef_log))));
    g.bench_function("aef_validate", |b| {
        b.iter(|| {
            let input = Input::from_reader("bench", std::io::Cursor::new(aef_log.clone()));
            black_box(validate_stream(&validator, input, &Limits::default(), &mut |_| {}).expect("in memory"))
        })
    });
    g.finish();

    for (name, kind, bytes) in [
        ("convert_claude_code", AdapterKind::ClaudeCode, claude),
        ("convert_codex", AdapterKind::Codex, log(synthetic::Format::Codex)),
        ("convert_gemini", AdapterKind::Gemini, log(synthetic::Format::Gemini)),
    ] {
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function("baseline_serde_value", |b| b.iter(|| black_box(baseline(&bytes))));
        g.bench_function("aef_convert", |b| b.iter(|| black_box(convert_into(kind, &bytes, std::io::sink()))));
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
