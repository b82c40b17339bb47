//! The same-run baseline of the memory run: reads a file line by line and parses each line with
//! serde_json into a `Value`, nothing else:
//! `cargo run --release -p aef --example parse_baseline -- FILE`.

use std::io::{BufRead, BufReader, Write};

fn main() -> std::io::Result<()> {
    let path = std::env::args().nth(1).ok_or_else(|| std::io::Error::other("usage: parse_baseline FILE"))?;
    let mut reader = BufReader::with_capacity(64 * 1024, std::fs::File::open(path)?);
    let (mut line, mut n, mut objects) = (Vec::new(), 0u64, 0u64);
    while reader.read_until(b'\n', &mut line)? > 0 {
        n += 1;
        if let Ok(serde_json::Value::Object(_)) = serde_json::from_slice::<serde_json::Value>(&line) {
            objects += 1;
        }
        line.clear();
    }
    writeln!(std::io::stderr(), "{n} lines, {objects} objects")
}
