//! Reading input: files or standard input (`-`), plain or gzip (detected by its magic bytes, so
//! `.jsonl.gz` and a gzip stream on stdin both work), split into lines with a bounded buffer.
//! Owns the only place a line is read; never parses JSON. Memory: one line of at most
//! `max_line_bytes` plus two 64 KiB buffers; a longer line is skipped and reported, never held.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Size of the read buffers.
const BUFFER_BYTES: usize = 64 * 1024;

/// Why input could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The file could not be opened.
    #[error("cannot open {path}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Reading failed part way (a truncated gzip stream, a device error).
    #[error("cannot read {name} after line {line}")]
    Read {
        /// The input's display name.
        name: String,
        /// The last complete line.
        line: u64,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// An opened input: a display name and a buffered, decompressed reader.
pub struct Input {
    /// `-` shows as `<stdin>`; files show their path.
    pub name: String,
    /// Whether the bytes are gzip-compressed (then `--follow` is refused).
    pub gzip: bool,
    reader: Box<dyn BufRead + Send>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input").field("name", &self.name).field("gzip", &self.gzip).finish()
    }
}

impl Input {
    /// Opens `path`, or standard input for `-`.
    pub fn open(path: &Path) -> Result<Input, InputError> {
        if path == Path::new("-") {
            return Ok(Input::from_reader("<stdin>", std::io::stdin()));
        }
        let file = File::open(path).map_err(|source| InputError::Open { path: path.to_path_buf(), source })?;
        Ok(Input::from_reader(path.display().to_string(), file))
    }

    /// Wraps any reader; gzip is recognised by its first two bytes.
    pub fn from_reader(name: impl Into<String>, reader: impl Read + Send + 'static) -> Input {
        let mut raw = BufReader::with_capacity(BUFFER_BYTES, reader);
        let gzip = matches!(raw.fill_buf(), Ok(b) if b.starts_with(&[0x1f, 0x8b]));
        let reader: Box<dyn BufRead + Send> = if gzip {
            Box::new(BufReader::with_capacity(BUFFER_BYTES, flate2::read::MultiGzDecoder::new(raw)))
        } else {
            Box::new(raw)
        };
        Input { name: name.into(), gzip, reader }
    }

    /// Reads up to `max_bytes` (or `max_lines` lines) from the start, for format detection, and
    /// returns them with an input that still yields every byte from the start.
    pub fn sniff(mut self, max_bytes: usize, max_lines: usize) -> std::io::Result<(Vec<u8>, Input)> {
        let mut sample = Vec::new();
        while sample.len() < max_bytes && sample.iter().filter(|b| **b == b'\n').count() < max_lines {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            let take = chunk.len().min(max_bytes - sample.len());
            sample.extend_from_slice(&chunk[..take]);
            self.reader.consume(take);
        }
        let rest = std::io::Cursor::new(sample.clone()).chain(self.reader);
        Ok((sample, Input { name: self.name, gzip: self.gzip, reader: Box::new(rest) }))
    }

    /// The lines of this input.
    pub fn lines(self, max_line_bytes: usize) -> Lines {
        Lines::new(self.name, self.reader, max_line_bytes)
    }
}

/// One line as read.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// The line's bytes without the line ending (`\n` or `\r\n`).
    Text(&'a [u8]),
    /// A line longer than the limit; its bytes were skipped.
    TooLong {
        /// Its length in bytes.
        len: u64,
    },
}

/// Splits a reader into numbered lines (from 1) with a bounded buffer.
pub struct Lines {
    name: String,
    reader: Box<dyn BufRead + Send>,
    buf: Vec<u8>,
    overflow: u64,
    max: usize,
    line_no: u64,
    follow: bool,
    partial: bool,
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lines").field("name", &self.name).field("line_no", &self.line_no).finish()
    }
}

impl Lines {
    /// Lines of `reader`, each at most `max_line_bytes` long.
    pub fn new(name: impl Into<String>, reader: Box<dyn BufRead + Send>, max_line_bytes: usize) -> Lines {
        Lines {
            name: name.into(),
            reader,
            buf: Vec::new(),
            overflow: 0,
            max: max_line_bytes,
            line_no: 0,
            follow: false,
            partial: false,
        }
    }

    /// In follow mode a last line without its newline is kept back (it may be torn: the writer is
    /// still writing it) and `next_line` answers `None` until the rest arrives.
    pub fn set_follow(&mut self, follow: bool) {
        self.follow = follow;
    }

    /// The input's display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The number of the line returned last.
    pub fn line_no(&self) -> u64 {
        self.line_no
    }

    /// Bytes of a torn last line held back in follow mode.
    pub fn pending(&self) -> usize {
        self.buf.len() + usize::try_from(self.overflow).unwrap_or(usize::MAX)
    }

    /// The next line and its number, or `None` at the end of the input (for now, in follow mode).
    pub fn next_line(&mut self) -> Result<Option<(u64, Line<'_>)>, InputError> {
        if !self.partial {
            self.buf.clear();
            self.overflow = 0;
        }
        self.partial = false;
        loop {
            if self.overflow > 0 {
                let (skipped, found) = self.skip_to_newline()?;
                self.overflow += skipped;
                if !found && self.follow {
                    self.partial = true;
                    return Ok(None);
                }
                return Ok(Some(self.finish_line()));
            }
            // at most the limit plus a line ending: std's read_until finds the newline fast
            let room = (self.max + 2).saturating_sub(self.buf.len()) as u64;
            let n = match (&mut self.reader).take(room).read_until(b'\n', &mut self.buf) {
                Ok(n) => n,
                Err(source) => return Err(InputError::Read { name: self.name.clone(), line: self.line_no, source }),
            };
            if self.buf.last() == Some(&b'\n') {
                return Ok(Some(self.finish_line()));
            }
            if self.buf.len() >= self.max + 2 {
                self.overflow = self.buf.len() as u64;
                self.buf.clear();
                continue;
            }
            if n == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                if self.follow {
                    self.partial = true;
                    return Ok(None);
                }
                return Ok(Some(self.finish_line()));
            }
        }
    }

    /// Consumes bytes up to and including the next newline without keeping them; answers how
    /// many and whether the newline was found (else the input ended).
    fn skip_to_newline(&mut self) -> Result<(u64, bool), InputError> {
        let mut skipped = 0u64;
        loop {
            let chunk = match self.reader.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(InputError::Read { name: self.name.clone(), line: self.line_no, source }),
            };
            if chunk.is_empty() {
                return Ok((skipped, false));
            }
            match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    self.reader.consume(i + 1);
                    return Ok((skipped + i as u64 + 1, true));
                }
                None => {
                    let len = chunk.len();
                    self.reader.consume(len);
                    skipped += len as u64;
                }
            }
        }
    }

    fn finish_line(&mut self) -> (u64, Line<'_>) {
        self.line_no += 1;
        if self.overflow > 0 {
            let len = self.overflow;
            self.overflow = 0;
            self.buf.clear();
            return (self.line_no, Line::TooLong { len });
        }
        let mut end = self.buf.len();
        if end > 0 && self.buf[end - 1] == b'\n' {
            end -= 1;
        }
        if end > 0 && self.buf[end - 1] == b'\r' {
            end -= 1;
        }
        if end > self.max {
            let len = end as u64;
            self.buf.clear();
            return (self.line_no, Line::TooLong { len });
        }
        self.buf.truncate(end);
        (self.line_no, Line::Text(&self.buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(data: &[u8], max: usize) -> Vec<(u64, Option<String>)> {
        let mut l = Input::from_reader("t", std::io::Cursor::new(data.to_vec())).lines(max);
        let mut out = Vec::new();
        while let Some((n, line)) = l.next_line().unwrap() {
            out.push((
                n,
                match line {
                    Line::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                    Line::TooLong { .. } => None,
                },
            ));
        }
        out
    }

    #[test]
    fn splits_lines_strips_crlf_and_keeps_a_last_line_without_newline() {
        let got = collect(b"a\r\nbb\n\nccc", 100);
        assert_eq!(
            got,
            vec![(1, Some("a".into())), (2, Some("bb".into())), (3, Some(String::new())), (4, Some("ccc".into()))]
        );
    }

    #[test]
    fn too_long_lines_are_skipped_and_numbering_continues() {
        let got = collect(b"short\nthis line is too long\nok\n", 8);
        assert_eq!(got, vec![(1, Some("short".into())), (2, None), (3, Some("ok".into()))]);
    }

    #[test]
    fn gzip_is_detected_by_magic() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"x\ny\n").unwrap();
        let bytes = gz.finish().unwrap();
        let input = Input::from_reader("g", std::io::Cursor::new(bytes));
        assert!(input.gzip);
        let mut l = input.lines(100);
        let mut n = 0;
        while l.next_line().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 2);
    }

    #[test]
    fn follow_mode_holds_back_a_torn_line() {
        let mut l = Input::from_reader("f", std::io::Cursor::new(b"a\nhalf".to_vec())).lines(100);
        l.set_follow(true);
        assert!(matches!(l.next_line().unwrap(), Some((1, Line::Text(b"a")))));
        assert!(l.next_line().unwrap().is_none());
        assert_eq!(l.pending(), 4);
    }
}
