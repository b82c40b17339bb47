//! Converting a file while another thread appends to it (`--follow`), torn lines included.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aef::{AdapterKind, ConvertOptions, EntryWriter, FollowOptions, Input};

use crate::support::{assert_well_formed, convert_fixture, fixture, options, parse_lines};

#[test]
fn follow_converts_a_growing_file_like_the_whole_file() {
    let full = crate::support::read(fixture("claude-code/multi-tool.jsonl"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.jsonl");
    let lines: Vec<&[u8]> = full.split_inclusive(|b| *b == b'\n').collect();
    crate::support::write(&path, lines[0]);

    let stop = Arc::new(AtomicBool::new(false));
    let follow = FollowOptions { poll: Duration::from_millis(5), idle_timeout: None, stop: stop.clone() };
    let reader_path = path.clone();
    let converter = std::thread::spawn(move || {
        let mut adapter = AdapterKind::ClaudeCode.build(options());
        let mut writer = EntryWriter::new(Vec::new());
        let opts = ConvertOptions { follow: Some(follow), ..ConvertOptions::default() };
        let input = Input::open(&reader_path).unwrap();
        let report =
            aef::convert(adapter.as_mut(), input, &mut writer, &opts, None, &mut |_| {}, &mut |_, _| {}).unwrap();
        (report, writer.into_inner())
    });

    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    for line in &lines[1..] {
        // write each line in two parts: the reader must wait for the rest of a torn line
        let (a, b) = line.split_at(line.len() / 2);
        f.write_all(a).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(3));
        f.write_all(b).unwrap();
        f.flush().unwrap();
    }
    stop.store(true, Ordering::Release);
    let (report, out) = converter.join().unwrap();

    let followed = parse_lines(&out);
    assert_well_formed(&followed);
    let whole = convert_fixture(AdapterKind::ClaudeCode, "claude-code/multi-tool.jsonl");
    assert_eq!(followed, whole.entries, "following gives exactly the entries of converting the finished file");
    assert_eq!(report.lines, lines.len() as u64);
}

#[test]
fn follow_refuses_gzip_input() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"{}\n").unwrap();
    let input = Input::from_reader("x.gz", std::io::Cursor::new(gz.finish().unwrap()));
    let follow =
        FollowOptions { poll: Duration::from_millis(1), idle_timeout: None, stop: Arc::new(AtomicBool::new(true)) };
    let opts = ConvertOptions { follow: Some(follow), ..ConvertOptions::default() };
    let mut adapter = AdapterKind::Codex.build(options());
    let err = aef::convert(
        adapter.as_mut(),
        input,
        &mut EntryWriter::new(Vec::new()),
        &opts,
        None,
        &mut |_| {},
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(matches!(err, aef::ConvertError::FollowGzip(_)), "{err}");
}
