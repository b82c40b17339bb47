//! What both command-line binaries share (feature `cli`): `cp-install` (this crate) and `cpctl`
//! (crate `cp-cli`) parse with clap, install the tracing subscriber, render one value as text
//! or `--json`, and end through [`finish`], so that they report errors and map exit codes the
//! same way.
//!
//! Exit codes ([`exit_code`]), one table for both binaries:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | usage error (bad arguments, not a plane, a package that is not there) or unexpected failure |
//! | 2 | a verified "no": gate FAIL, refused install, broken chain, invalid document, refused budget |
//! | 3 | I/O error: a file or directory cannot be read or written, or a ledger stayed locked by another process through every retry (`LEDGER_UNAVAILABLE`, nothing written, no prompt sent) |
//!
//! Errors go to stderr as `error: …`, one `caused by: …` line per cause and, where the next
//! step is obvious, `hint: …`; an install error leads with its stable code (`[G5_UNSIGNED]`).
//! Never prints Rust debug formatting.
//!
//! Lives in the installer library (not in a crate of its own) because it is the lowest crate
//! both binaries link that sees every error type they report: the kernel's and
//! [`InstallError`].
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::error::Error;
use std::process::ExitCode;

use serde::Serialize;

use cp_kernel::fsx::FsError;
use cp_kernel::{DocumentError, PlaneError, ReceiptError, RegistryError, RouterError, SchemaError};

use crate::InstallError;

/// A command's outcome: success, or a verified "no" already rendered (exit 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0.
    Ok,
    /// Exit 2: the command ran and the answer is "no" (gate FAIL, invalid document, …).
    Refused,
}

/// Marker error for a verified "no" (exit 2) that is reported as an error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Parses the command line. `--help` and `--version` print and exit 0; a usage error prints
/// clap's message and exits 1.
pub fn parse<C: clap::Parser>() -> Result<C, ExitCode> {
    C::try_parse().map_err(|e| {
        let code = if e.use_stderr() { 1 } else { 0 };
        let _ = e.print();
        ExitCode::from(code)
    })
}

/// Installs the tracing subscriber on stderr: `-v` info, `-vv` debug, `-vvv` trace (default
/// warn); `CP_LOG` (an `EnvFilter`) overrides.
pub fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let level = ["warn", "info", "debug", "trace"][usize::from(verbose.min(3))];
    let filter = EnvFilter::try_from_env("CP_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr).try_init();
}

/// Prints `value` as pretty JSON when `json`, else `text(value)` (trailing whitespace trimmed,
/// nothing when empty). A closed stdout (`| head -1`) is an `io::Error` of kind `BrokenPipe`,
/// which [`finish`] turns into a quiet exit 0.
pub fn render<T: Serialize>(json: bool, value: &T, text: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(value)?)?;
    } else {
        let t = text(value);
        if !t.trim().is_empty() {
            writeln!(out, "{}", t.trim_end())?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Opens the plane at `root` for a repair command (`uninstall`, `recover`, `plane recover`,
/// `gates`): an invalid layout or plane config falls back to the built-in one, and each is
/// printed on stderr as a `warning:` with the problem and the repair.
pub fn open_for_repair(root: &std::path::Path) -> anyhow::Result<cp_kernel::Plane> {
    let (plane, notices) = crate::open_for_repair(root)?;
    for n in &notices {
        eprintln!("warning: {n}");
    }
    Ok(plane)
}

/// Whether the error is a closed output pipe (the reader went away: `cpctl … | head -1`).
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<FsError>().is_some_and(|f| {
                f.source()
                    .and_then(|s| s.downcast_ref::<std::io::Error>())
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            })
    })
}

/// Reports the error (if any) on stderr and maps the outcome to the exit code of the table; a
/// closed stdout ends quietly with exit 0, as ripgrep does.
pub fn finish(r: anyhow::Result<Outcome>) -> ExitCode {
    finish_as(r, false)
}

/// As [`finish`]; with `json` an error is one JSON object on stdout ([`ErrorReport`]), where a
/// `--json` caller reads its results, instead of the text report on stderr.
pub fn finish_as(r: anyhow::Result<Outcome>, json: bool) -> ExitCode {
    use std::io::Write as _;
    match r {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Refused) => ExitCode::from(2),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if json => {
            let text = serde_json::to_string_pretty(&ErrorReport::of(&e)).unwrap_or_default();
            let _ = writeln!(std::io::stdout().lock(), "{text}");
            ExitCode::from(exit_code(&e))
        }
        Err(e) => {
            let _ = write!(std::io::stderr().lock(), "{}", report(&e));
            ExitCode::from(exit_code(&e))
        }
    }
}

/// An error as `--json` prints it: `{"error": {code, message, causes, hint, exit_code}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    /// The error.
    pub error: ErrorBody,
}

/// The body of an [`ErrorReport`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    /// Stable code: an install error's (`G5_UNSIGNED`), a router refusal's (`ACCESS_DENIED`),
    /// else by exit code: `ERROR` (1), `REFUSED` (2), `IO` (3).
    pub code: String,
    /// The top error, one line.
    pub message: String,
    /// Each cause below it.
    pub causes: Vec<String>,
    /// The next step, when obvious.
    pub hint: Option<String>,
    /// The process exit code.
    pub exit_code: u8,
}

impl ErrorReport {
    /// The report of `e`.
    pub fn of(e: &anyhow::Error) -> Self {
        let exit = exit_code(e);
        Self {
            error: ErrorBody {
                code: error_code(e, exit),
                message: e.to_string(),
                causes: e.chain().skip(1).map(ToString::to_string).collect(),
                hint: hint(e),
                exit_code: exit,
            },
        }
    }
}

/// The stable code of an error (see [`ErrorBody::code`]). A refusal rendered as text keeps its
/// code as the message's leading `CODE:` token.
fn error_code(e: &anyhow::Error, exit: u8) -> String {
    for cause in e.chain() {
        if let Some(ie) = cause.downcast_ref::<InstallError>() {
            return ie.code().to_string();
        }
        if let Some(ce) = cause.downcast_ref::<crate::cp2::Cp2Error>() {
            return ce.code().to_string();
        }
        if let Some(code) = cause.downcast_ref::<RouterError>().and_then(RouterError::reject_code) {
            return code.as_str().to_string();
        }
    }
    let top = e.to_string();
    let lead = top.split(": ").next().unwrap_or_default();
    if lead.len() > 2 && lead.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
        return lead.to_string();
    }
    match exit {
        NO => "REFUSED",
        IO => "IO",
        _ => "ERROR",
    }
    .to_string()
}

/// The error report: `error:` with the top error, `caused by:` per cause, `hint:` when the next
/// step is obvious. Install errors lead with their stable code.
pub fn report(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for (i, cause) in e.chain().enumerate() {
        let label = if i == 0 { "error: " } else { "  caused by: " };
        out.push_str(label);
        if let Some(ie) = cause.downcast_ref::<InstallError>() {
            let code = ie.code();
            let text = cause.to_string();
            if !text.contains(code) {
                out.push_str(&format!("[{code}] "));
            }
        }
        out.push_str(&cause.to_string());
        out.push('\n');
    }
    if let Some(h) = hint(e) {
        out.push_str(&format!("  hint: {h}\n"));
    }
    out
}

fn hint(e: &anyhow::Error) -> Option<String> {
    e.chain().find_map(|c| {
        if let Some(PlaneError::NotAPlane { root }) = c.downcast_ref::<PlaneError>() {
            return Some(format!("create it with `cpctl --root {} plane init`", root.display()));
        }
        match c.downcast_ref::<InstallError>().map(InstallError::code) {
            Some("G5_UNSIGNED") => Some(
                "sign it: `cp-install keygen --out keys/release.key.json`, `cp-install trust add \
                 keys/release.key.pub.json`, `cp-install sign ARCHIVE --key keys/release.key.json`; or, on a \
                 development plane, install with `--dev` (the waiver is logged)"
                    .to_string(),
            ),
            _ => None,
        }
    })
}

/// The exit code of an error (see the module's table): the first cause in the chain that
/// decides it, else 1 (unexpected).
pub fn exit_code(e: &anyhow::Error) -> u8 {
    e.chain().find_map(classify).unwrap_or(1)
}

const USAGE: u8 = 1;
const NO: u8 = 2;
const IO: u8 = 3;

fn classify(cause: &(dyn Error + 'static)) -> Option<u8> {
    if cause.is::<Refused>() {
        return Some(NO);
    }
    if cause.is::<FsError>() || cause.is::<std::io::Error>() {
        return Some(IO);
    }
    if let Some(e) = cause.downcast_ref::<InstallError>() {
        return install(e);
    }
    if let Some(e) = cause.downcast_ref::<crate::cp2::Cp2Error>() {
        return cp2(e);
    }
    if let Some(e) = cause.downcast_ref::<DocumentError>() {
        return Some(document(e));
    }
    if let Some(e) = cause.downcast_ref::<SchemaError>() {
        return Some(if matches!(e, SchemaError::Io(_)) { IO } else { NO });
    }
    if let Some(e) = cause.downcast_ref::<RegistryError>() {
        return Some(if matches!(e, RegistryError::Io(_)) { IO } else { NO });
    }
    if let Some(e) = cause.downcast_ref::<PlaneError>() {
        return plane(e);
    }
    if let Some(e) = cause.downcast_ref::<RouterError>() {
        return router(e);
    }
    if let Some(e) = cause.downcast_ref::<cp_kernel::LedgerError>()
        && e.is_unavailable()
    {
        // A ledger locked by another process or a database not answering: retryable, like an
        // I/O failure.
        return Some(IO);
    }
    None
}

/// `RouterError::Document` is transparent (its inner error is not in the chain): decide here.
fn router(e: &RouterError) -> Option<u8> {
    match e {
        RouterError::Document(d) => Some(document(d)),
        RouterError::Rejected { .. } | RouterError::Failed { .. } => Some(NO),
        RouterError::Plane(p) => plane(p),
        _ => None,
    }
}

fn document(e: &DocumentError) -> u8 {
    if matches!(e, DocumentError::Io(_)) { IO } else { NO }
}

fn plane(e: &PlaneError) -> Option<u8> {
    match e {
        PlaneError::Io(_) => Some(IO),
        PlaneError::NotAPlane { .. } => Some(USAGE),
        PlaneError::InvalidDocument { .. } => Some(NO),
        PlaneError::Document(d) => Some(document(d)),
        // The cause (a schema error) decides.
        _ => None,
    }
}

fn cp2(e: &crate::cp2::Cp2Error) -> Option<u8> {
    use crate::cp2::Cp2Error as E;
    match e {
        E::Io(_) => Some(IO),
        E::Install { source, .. } => install(source),
        E::Plane(p) => plane(p),
        E::Read(_) => None,
        _ => Some(NO),
    }
}

fn install(e: &InstallError) -> Option<u8> {
    if e.is_refusal() {
        return Some(NO);
    }
    match e {
        InstallError::NotInstalled { .. } | InstallError::NotInStore { .. } | InstallError::Injected { .. } => {
            Some(USAGE)
        }
        InstallError::Io(_) => Some(IO),
        InstallError::Config(d) => Some(document(d)),
        InstallError::Plane(p) => plane(p),
        InstallError::Registry(RegistryError::Io(_)) | InstallError::Receipt(ReceiptError::Io(_)) => Some(IO),
        InstallError::Registry(_)
        | InstallError::Receipt(ReceiptError::Malformed { .. } | ReceiptError::CatalogueMismatch { .. }) => Some(NO),
        // Transparent wrappers: the rest of the chain (their causes) decides.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        let fs = || FsError::new("read", "/x", std::io::Error::other("boom"));
        let cases: Vec<(anyhow::Error, u8)> = vec![
            (anyhow::anyhow!("something odd"), 1),
            (Refused("chain broken".into()).into(), 2),
            (fs().into(), 3),
            (anyhow::Error::new(fs()).context("reading the plane"), 3),
            (PlaneError::NotAPlane { root: "/nope".into() }.into(), 1),
            (PlaneError::InvalidDocument { path: "/l.json".into(), message: "bad".into() }.into(), 2),
            (InstallError::NotInstalled { package: "PKG-X".into() }.into(), 1),
            (InstallError::DependentInstalled { package: "PKG-X".into(), dependents: vec!["PKG-Y".into()] }.into(), 2),
            (InstallError::Io(fs()).into(), 3),
            (RouterError::Document(DocumentError::Decode { path: "/r.yaml".into(), message: "bad".into() }).into(), 2),
        ];
        for (e, want) in cases {
            assert_eq!(exit_code(&e), want, "{}", report(&e));
        }
    }

    #[test]
    fn report_names_every_cause_the_code_and_a_hint_without_debug_text() {
        let e = anyhow::Error::new(PlaneError::NotAPlane { root: "/nope".into() }).context("opening the plane");
        let r = report(&e);
        assert_eq!(
            r,
            "error: opening the plane\n  caused by: /nope is not a plane (no HOT/ directory)\n  \
             hint: create it with `cpctl --root /nope plane init`\n"
        );
        let e: anyhow::Error =
            InstallError::DependentInstalled { package: "PKG-X".into(), dependents: vec!["PKG-Y".into()] }.into();
        assert_eq!(report(&e), "error: [DEPENDENT_INSTALLED] PKG-X is required by PKG-Y\n");
    }
}
