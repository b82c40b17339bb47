//! Same-run throughput ratios, interleaved: each round times the serde_json `Value` baseline and
//! then `aef` on the same bytes, so load drift on a shared machine hits both alike; prints the
//! median ratio (baseline time / aef time) of each workload.
//! `cargo run --release -p aef --example bench_ratio -- [ROUNDS] [MIB]`.

#[path = "../benches/synthetic.rs"]
mod synthetic;

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use aef::{
    AdapterKind, AdapterOptions, ConvertOptions, EntryWriter, FixedClock, Input, Limits, Validator, validate_stream,
};

fn log(format: synthetic::Format, bytes: u64) -> Vec<u8> {
    let mut v = Vec::new();
    synthetic::write_log(format, bytes, &mut v).expect("writing to memory");
    v
}

fn baseline(bytes: &[u8]) -> usize {
    bytes.split(|b| *b == b'\n').filter(|l| serde_json::from_slice::<serde_json::Value>(l).is_ok()).count()
}

fn convert(kind: AdapterKind, bytes: &[u8]) -> usize {
    let options = AdapterOptions { clock: Arc::new(FixedClock::new(0, 1)), ..AdapterOptions::default() };
    let mut adapter = kind.build(options);
    // io::sink(): entries are serialized as for a file or pipe, without growing a buffer
    let mut out = EntryWriter::new(std::io::sink());
    let input = Input::from_reader("bench", std::io::Cursor::new(bytes.to_vec()));
    aef::convert(adapter.as_mut(), input, &mut out, &ConvertOptions::default(), None, &mut |_| {}, &mut |_, _| {})
        .expect("converting in memory");
    out.written() as usize
}

/// A name, its input, and the aef run over that input.
type Workload<'a> = (&'a str, &'a [u8], Box<dyn FnMut() -> usize + 'a>);

fn seconds(f: &mut dyn FnMut() -> usize) -> f64 {
    let t = Instant::now();
    std::hint::black_box(f());
    t.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(11);
    let mib: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(16);
    let bytes = mib * 1024 * 1024;
    let claude = log(synthetic::Format::Claude, bytes);
    let aef_log = {
        let mut adapter = AdapterKind::ClaudeCode.build(AdapterOptions::default());
        let mut out = EntryWriter::new(Vec::new());
        let input = Input::from_reader("b", std::io::Cursor::new(claude.clone()));
        aef::convert(adapter.as_mut(), input, &mut out, &ConvertOptions::default(), None, &mut |_| {}, &mut |_, _| {})
            .expect("convert");
        out.into_inner()
    };
    let codex = log(synthetic::Format::Codex, bytes);
    let gemini = log(synthetic::Format::Gemini, bytes);
    let validator = Validator::new(false).expect("schema");
    let mut workloads: Vec<Workload<'_>> = vec![
        (
            "validate",
            &aef_log,
            Box::new(|| {
                let input = Input::from_reader("b", std::io::Cursor::new(aef_log.clone()));
                validate_stream(&validator, input, &Limits::default(), &mut |_| {}).expect("validate").entries as usize
            }),
        ),
        ("convert_claude_code", &claude, Box::new(|| convert(AdapterKind::ClaudeCode, &claude))),
        ("convert_codex", &codex, Box::new(|| convert(AdapterKind::Codex, &codex))),
        ("convert_gemini", &gemini, Box::new(|| convert(AdapterKind::Gemini, &gemini))),
    ];
    let mut out = std::io::stdout().lock();
    for (name, input, run) in &mut workloads {
        let input: &[u8] = input;
        let mut ratios = Vec::new();
        let (mut base_mibs, mut aef_mibs) = (Vec::new(), Vec::new());
        seconds(&mut || baseline(input));
        seconds(run.as_mut());
        for _ in 0..rounds {
            let b = seconds(&mut || baseline(input));
            let a = seconds(run.as_mut());
            ratios.push(b / a);
            base_mibs.push(input.len() as f64 / b / 1048576.0);
            aef_mibs.push(input.len() as f64 / a / 1048576.0);
        }
        for v in [&mut ratios, &mut base_mibs, &mut aef_mibs] {
            v.sort_by(f64::total_cmp);
        }
        let m = rounds / 2;
        let _ = writeln!(
            out,
            "{name:<22} ratio median {:.2} (min {:.2}, max {:.2})  baseline {:.0} MiB/s  aef {:.0} MiB/s  ({} MiB, {rounds} rounds)",
            ratios[m],
            ratios[0],
            ratios[rounds - 1],
            base_mibs[m],
            aef_mibs[m],
            input.len() / 1048576
        );
    }
}
