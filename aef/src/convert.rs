//! The conversion driver: feeds an input's lines to an adapter, writes what it emits, optionally
//! validates every entry, and in follow mode keeps reading a growing file like `tail -f` (a torn
//! last line waits for its newline). Owns the loop; never prints (diagnostics go to callbacks).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::adapters::{Adapter, Diagnostic, EntrySink, Severity};
use crate::entry::Entry;
use crate::input::{Input, InputError, Line};
use crate::limits::Limits;
use crate::validate::{Validator, Verdict};
use crate::writer::{EntryWriter, WriteError};

/// Why a conversion stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// Reading the input failed.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Writing the output failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// `--strict`: a source line was malformed or of an unknown type.
    #[error("{file}:{line}: {message} (strict mode)")]
    Strict {
        /// The input's name.
        file: String,
        /// The line.
        line: u64,
        /// What was wrong.
        message: String,
    },
    /// `--follow` on a gzip stream (it cannot grow line by line).
    #[error("cannot follow {0}: it is gzip-compressed")]
    FollowGzip(String),
}

/// How `--follow` waits for more input.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// How long to sleep at the end of the input before looking again.
    pub poll: Duration,
    /// Stop (and finish the session) once the input has not grown for this long; `None`: never.
    pub idle_timeout: Option<Duration>,
    /// Set from another thread (or a signal handler) to stop following.
    pub stop: Arc<AtomicBool>,
}

/// Settings of one conversion.
#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    /// Memory bounds (line length).
    pub limits: Limits,
    /// Malformed or unknown source lines stop the conversion.
    pub strict: bool,
    /// Keep reading as the input grows.
    pub follow: Option<FollowOptions>,
}

/// Counts of one conversion.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConvertReport {
    /// Source lines read.
    pub lines: u64,
    /// Entries written.
    pub entries: u64,
    /// Source lines skipped as malformed or unknown.
    pub skipped: u64,
    /// Warnings.
    pub warnings: u64,
    /// Written entries that failed validation (with a validator).
    pub invalid_entries: u64,
}

/// Converts `input` with `adapter`, writing entries to `out`. Each diagnostic goes to
/// `on_diagnostic` as it happens; with a validator, each invalid entry goes to `on_invalid`.
pub fn convert<W: Write>(
    adapter: &mut dyn Adapter,
    input: Input,
    out: &mut EntryWriter<W>,
    options: &ConvertOptions,
    validator: Option<&Validator>,
    on_diagnostic: &mut dyn FnMut(&Diagnostic),
    on_invalid: &mut dyn FnMut(&Entry, &Verdict),
) -> Result<ConvertReport, ConvertError> {
    if options.follow.is_some() && input.gzip {
        return Err(ConvertError::FollowGzip(input.name));
    }
    let name = input.name.clone();
    let mut lines = input.lines(options.limits.max_line_bytes);
    lines.set_follow(options.follow.is_some());
    let mut report = ConvertReport::default();
    let mut sink = EntrySink::default();
    let mut ctx = Ctx { name: &name, strict: options.strict, validator, on_diagnostic, on_invalid };
    let mut last_growth = Instant::now();
    loop {
        // Read the stop flag before the pass: a pass that starts after the writer stopped sees
        // everything it wrote.
        let stopping = options.follow.as_ref().is_some_and(|f| f.stop.load(Ordering::Acquire));
        while let Some((n, line)) = lines.next_line()? {
            report.lines += 1;
            match line {
                Line::Text(t) => adapter.push_line(n, t, &mut sink),
                Line::TooLong { len } => sink.malformed(
                    n,
                    format!("line of {len} bytes exceeds the limit of {} bytes", options.limits.max_line_bytes),
                ),
            }
            ctx.drain(&mut sink, out, &mut report)?;
            last_growth = Instant::now();
        }
        let Some(follow) = &options.follow else { break };
        out.flush().map_err(|source| WriteError::Io { id: String::new(), source })?;
        if stopping || follow.idle_timeout.is_some_and(|t| last_growth.elapsed() >= t) {
            break;
        }
        std::thread::sleep(follow.poll);
    }
    if lines.pending() > 0 {
        tracing::debug!(bytes = lines.pending(), "torn last line left unconverted");
        sink.malformed(lines.line_no() + 1, "the last line is incomplete (no newline); not converted");
    }
    adapter.finish(&mut sink);
    ctx.drain(&mut sink, out, &mut report)?;
    out.flush().map_err(|source| WriteError::Io { id: String::new(), source })?;
    Ok(report)
}

struct Ctx<'a, 'b> {
    name: &'a str,
    strict: bool,
    validator: Option<&'a Validator>,
    on_diagnostic: &'b mut dyn FnMut(&Diagnostic),
    on_invalid: &'b mut dyn FnMut(&Entry, &Verdict),
}

impl Ctx<'_, '_> {
    fn drain<W: Write>(
        &mut self,
        sink: &mut EntrySink,
        out: &mut EntryWriter<W>,
        report: &mut ConvertReport,
    ) -> Result<(), ConvertError> {
        for d in sink.diagnostics.drain(..) {
            match d.severity {
                Severity::Warning => report.warnings += 1,
                Severity::Malformed | Severity::Unknown => report.skipped += 1,
            }
            (self.on_diagnostic)(&d);
            if self.strict && d.severity != Severity::Warning {
                return Err(ConvertError::Strict { file: self.name.to_string(), line: d.line, message: d.message });
            }
        }
        for e in sink.entries.drain(..) {
            if let Some(v) = self.validator {
                let verdict = v.check_value(&e.to_value());
                if !verdict.is_valid() {
                    report.invalid_entries += 1;
                    (self.on_invalid)(&e, &verdict);
                }
            }
            out.write(&e)?;
            report.entries += 1;
        }
        Ok(())
    }
}
