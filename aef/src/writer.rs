//! The streaming JSONL writer: one entry per line, flushed by the caller. Owns serialization to a
//! byte sink; never buffers more than one entry.

use std::io::Write;

use crate::entry::Entry;

/// Why an entry could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The sink refused the bytes.
    #[error("cannot write entry {id}")]
    Io {
        /// The entry's id.
        id: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The entry could not be serialized (a non-finite number in an extension field).
    #[error("cannot serialize entry {id}")]
    Serialize {
        /// The entry's id.
        id: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

impl WriteError {
    /// True when the reader of the output went away (`aef convert … | head`).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, WriteError::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// Writes entries as JSON lines.
#[derive(Debug)]
pub struct EntryWriter<W: Write> {
    out: W,
    line: Vec<u8>,
    written: u64,
}

impl<W: Write> EntryWriter<W> {
    /// A writer over `out` (wrap files in a `BufWriter`).
    pub fn new(out: W) -> EntryWriter<W> {
        EntryWriter { out, line: Vec::with_capacity(512), written: 0 }
    }

    /// Writes one entry and its newline.
    pub fn write(&mut self, entry: &Entry) -> Result<(), WriteError> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, entry)
            .map_err(|source| WriteError::Serialize { id: entry.id.clone(), source })?;
        self.line.push(b'\n');
        self.out.write_all(&self.line).map_err(|source| WriteError::Io { id: entry.id.clone(), source })?;
        self.written += 1;
        Ok(())
    }

    /// Flushes the sink.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    /// How many entries were written.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The sink back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Body, ErrorEvent};

    #[test]
    fn writes_one_line_per_entry() {
        let mut w = EntryWriter::new(Vec::new());
        let body = Body::Error(ErrorEvent { code: None, message: "boom".into(), stack: None, recoverable: Some(true) });
        w.write(&Entry::new("e", 1, "s", body.clone())).unwrap();
        w.write(&Entry::new("f", 2, "s", body)).unwrap();
        assert_eq!(w.written(), 2);
        let text = String::from_utf8(w.into_inner()).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.ends_with('\n'));
    }
}
