//! Writes a synthetic session log for the benchmarks and the memory run:
//! `cargo run --release -p aef --example gen_log -- claude|codex|gemini BYTES > FILE`.

#[path = "../benches/synthetic.rs"]
mod synthetic;

use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let format = match args.get(1).map(String::as_str) {
        Some("claude") => synthetic::Format::Claude,
        Some("codex") => synthetic::Format::Codex,
        Some("gemini") => synthetic::Format::Gemini,
        _ => return Err(std::io::Error::other("usage: gen_log claude|codex|gemini BYTES")),
    };
    let bytes: u64 =
        args.get(2).and_then(|b| b.parse().ok()).ok_or_else(|| std::io::Error::other("BYTES is a number"))?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    synthetic::write_log(format, bytes, &mut out)?;
    out.flush()
}
