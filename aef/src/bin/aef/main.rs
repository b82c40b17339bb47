//! `aef`: validate, convert, inspect and export Agent Event Format logs.
//!
//! Exit codes: 0 everything valid / converted; 1 invalid entries found (validate, or convert
//! with `--validate`), or a malformed source line under `--strict`; 2 usage or I/O error.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use aef::{
    ADAPTERS, AdapterKind, AdapterOptions, ConvertError, ConvertOptions, EntryWriter, ExtensionRegistry, FollowOptions,
    Info, InfoCollector, Input, Limits, OtlpExporter, Severity, SystemClock, Validator, detect, validate_stream,
};
use anyhow::{Context, Result, anyhow};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;

/// Agent Event Format (AEF v0.1) tools.
#[derive(Debug, Parser)]
#[command(name = "aef", version, about)]
struct Cli {
    /// A JSON document of memory and reporting bounds (schema: aef/schema/limits.schema.json).
    #[arg(long, global = true, value_name = "FILE")]
    limits: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Validate AEF files (.jsonl, .jsonl.gz, or - for stdin) against the schema.
    Validate(ValidateArgs),
    /// Convert an agent's session log to AEF.
    Convert(ConvertArgs),
    /// Summarise AEF files: sessions, entries per type, time range, agents, models, tokens, tools.
    Info(InfoArgs),
    /// List the adapters.
    Adapters {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export AEF files to another format.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// Extension types without a registered schema, and blank lines, are invalid.
    #[arg(long)]
    strict: bool,
    /// Print only the problems, not the summary.
    #[arg(long)]
    quiet: bool,
    /// Print JSON lines: one per problem, then {"summary": …}.
    #[arg(long)]
    json: bool,
    /// Register an extension schema: NAMESPACE=FILE (namespace `vendor` or `vendor.category`).
    #[arg(long = "schema", value_name = "NAMESPACE=FILE")]
    schemas: Vec<String>,
    /// Files to check; - reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
struct ConvertArgs {
    /// The source format: claude-code, codex, gemini, or auto (detected from the content).
    #[arg(long, short = 'a', default_value = "auto")]
    adapter: String,
    /// Write here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Validate every entry written; invalid ones are reported and make the exit code 1.
    #[arg(long)]
    validate: bool,
    /// Malformed or unknown source lines stop the conversion (exit 1) instead of being skipped.
    #[arg(long)]
    strict: bool,
    /// Keep reading as the file grows, like `tail -f`; a torn last line waits for its newline.
    #[arg(long, short = 'f')]
    follow: bool,
    /// With --follow: how often to look for new data, in milliseconds.
    #[arg(long, default_value_t = 250, value_name = "MS")]
    poll_ms: u64,
    /// With --follow: stop (and write session.end) after this long without new data.
    #[arg(long, value_name = "MS")]
    idle_timeout_ms: Option<u64>,
    /// Do not report skipped lines on standard error.
    #[arg(long)]
    quiet: bool,
    /// The session log; - reads standard input.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

#[derive(Debug, Args)]
struct InfoArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// AEF files; - reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ExportFormat {
    /// OTLP JSON lines (one ExportTraceServiceRequest per line).
    Otlp,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// The target format.
    #[arg(long, value_enum)]
    format: ExportFormat,
    /// Write here instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// AEF files; - reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// An outcome that is not an error but sets the exit code.
enum Outcome {
    Ok,
    Invalid,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Invalid) => ExitCode::from(1),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "error: {e}");
            for cause in e.chain().skip(1) {
                let _ = writeln!(err, "caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<aef::WriteError>().is_some_and(aef::WriteError::is_broken_pipe)
    })
}

fn run(cli: Cli) -> Result<Outcome> {
    let limits = match &cli.limits {
        Some(p) => Limits::from_json(&read_text(p)?).with_context(|| format!("in {}", p.display()))?,
        None => Limits::default(),
    };
    match cli.command {
        Command::Validate(a) => validate(a, &limits),
        Command::Convert(a) => convert(a, &limits),
        Command::Info(a) => info(a, &limits),
        Command::Adapters { json } => adapters(json),
        Command::Export(a) => export(a, &limits),
    }
}

fn read_text(path: &Path) -> Result<String> {
    let mut s = String::new();
    File::open(path)
        .and_then(|mut f| f.read_to_string(&mut s))
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(s)
}

fn open(path: &Path) -> Result<Input> {
    Ok(Input::open(path)?)
}

fn output(path: Option<&Path>) -> Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => Box::new(BufWriter::new(File::create(p).with_context(|| format!("cannot create {}", p.display()))?)),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    })
}

fn validate(a: ValidateArgs, limits: &Limits) -> Result<Outcome> {
    let mut registry = ExtensionRegistry::with_builtin()?;
    for spec in &a.schemas {
        let (ns, file) = spec.split_once('=').ok_or_else(|| anyhow!("--schema {spec:?} is not NAMESPACE=FILE"))?;
        let text = read_text(Path::new(file))?;
        let schema: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{file} is not JSON"))?;
        registry.register(ns, &schema).with_context(|| format!("in {file}"))?;
    }
    let mut validator = Validator::with_extensions(registry, a.strict)?;
    validator.set_max_problems(limits.max_problems_per_entry);
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut total = aef::Summary::default();
    let mut write_err: Option<std::io::Error> = None;
    for file in &a.files {
        let input = open(file)?;
        let summary = validate_stream(&validator, input, limits, &mut |f| {
            let r = if a.json {
                serde_json::to_writer(&mut out, f).map_err(std::io::Error::other).and_then(|()| writeln!(out))
            } else if f.path.is_empty() {
                writeln!(out, "{}:{}: {}", f.file, f.line, f.message)
            } else {
                writeln!(out, "{}:{}: {}: {}", f.file, f.line, f.path, f.message)
            };
            if let Err(e) = r {
                write_err.get_or_insert(e);
            }
        })?;
        total.merge(&summary, limits.max_types);
    }
    if let Some(e) = write_err {
        return Err(e.into());
    }
    if a.json {
        writeln!(out, "{}", json!({ "summary": total }))?;
    } else if !a.quiet {
        render_summary(&mut out, &total)?;
    }
    out.flush()?;
    Ok(if total.invalid > 0 { Outcome::Invalid } else { Outcome::Ok })
}

fn render_summary(out: &mut impl Write, s: &aef::Summary) -> std::io::Result<()> {
    writeln!(
        out,
        "{} entries: {} valid, {} invalid ({} core, {} extension); {} blank lines",
        s.entries, s.valid, s.invalid, s.core, s.extension, s.blank
    )?;
    for (t, n) in &s.by_type {
        writeln!(out, "  {t:<24} {n}")?;
    }
    if s.other_types > 0 {
        writeln!(out, "  {:<24} {}", "(other)", s.other_types)?;
    }
    Ok(())
}

fn convert(a: ConvertArgs, limits: &Limits) -> Result<Outcome> {
    let input = open(&a.file)?;
    let (kind, input) = if a.adapter == "auto" {
        let (sample, input) = input.sniff(256 * 1024, 50).context("cannot read the input to detect its format")?;
        let kind = detect(&sample).ok_or_else(|| {
            anyhow!("cannot tell the format of {}; name it with --adapter ({})", input.name, adapter_names())
        })?;
        (kind, input)
    } else {
        let kind = AdapterKind::from_name(&a.adapter)
            .ok_or_else(|| anyhow!("unknown adapter {:?}; known: {}", a.adapter, adapter_names()))?;
        (kind, input)
    };
    let mut adapter = kind.build(AdapterOptions { limits: limits.clone(), clock: Arc::new(SystemClock) });
    let validator = if a.validate { Some(Validator::new(false)?) } else { None };
    let follow = (a.follow && a.file != Path::new("-")).then(|| FollowOptions {
        poll: Duration::from_millis(a.poll_ms),
        idle_timeout: a.idle_timeout_ms.map(Duration::from_millis),
        stop: Arc::new(AtomicBool::new(false)),
    });
    let options = ConvertOptions { limits: limits.clone(), strict: a.strict, follow };
    let mut writer = EntryWriter::new(output(a.output.as_deref())?);
    let name = input.name.clone();
    let quiet = a.quiet;
    let mut on_diag = |d: &aef::Diagnostic| {
        if quiet {
            return;
        }
        let what = match d.severity {
            Severity::Malformed => "skipped malformed line",
            Severity::Unknown => "skipped unknown line",
            Severity::Warning => "warning",
        };
        let mut err = std::io::stderr().lock();
        let _ = if d.line > 0 {
            writeln!(err, "{name}:{}: {what}: {}", d.line, d.message)
        } else {
            writeln!(err, "{name}: {what}: {}", d.message)
        };
    };
    let mut on_invalid = |e: &aef::Entry, v: &aef::Verdict| {
        let mut err = std::io::stderr().lock();
        for p in &v.problems {
            let _ = writeln!(err, "invalid entry {}: {}: {}", e.id, p.path, p.message);
        }
    };
    let report =
        aef::convert(adapter.as_mut(), input, &mut writer, &options, validator.as_ref(), &mut on_diag, &mut on_invalid);
    match report {
        Ok(r) => {
            tracing::debug!(lines = r.lines, entries = r.entries, skipped = r.skipped, "converted");
            Ok(if r.invalid_entries > 0 { Outcome::Invalid } else { Outcome::Ok })
        }
        Err(ConvertError::Strict { file, line, message }) => {
            let _ = writeln!(std::io::stderr().lock(), "error: {file}:{line}: {message} (strict mode)");
            Ok(Outcome::Invalid)
        }
        Err(e) => Err(e.into()),
    }
}

fn adapter_names() -> String {
    ADAPTERS.iter().map(|a| a.name).collect::<Vec<_>>().join(", ")
}

fn info(a: InfoArgs, limits: &Limits) -> Result<Outcome> {
    let mut c = InfoCollector::new(limits.clone());
    for f in &a.files {
        c.add_input(open(f)?)?;
    }
    let info = c.finish();
    let mut out = BufWriter::new(std::io::stdout().lock());
    if a.json {
        serde_json::to_writer_pretty(&mut out, &info)?;
        writeln!(out)?;
    } else {
        render_info(&mut out, &info)?;
    }
    out.flush()?;
    Ok(Outcome::Ok)
}

fn time_of(ms: Option<i64>) -> String {
    ms.and_then(|m| jiff::Timestamp::from_millisecond(m).ok()).map_or_else(|| "-".into(), |t| t.to_string())
}

fn render_info(out: &mut impl Write, i: &Info) -> std::io::Result<()> {
    writeln!(out, "entries:   {} ({} unreadable lines)", i.entries, i.unreadable_lines)?;
    writeln!(out, "sessions:  {}", i.sessions.len())?;
    writeln!(out, "time:      {} .. {}", time_of(i.first_ts), time_of(i.last_ts))?;
    let agents: Vec<String> = i.agents.iter().map(|(a, n)| format!("{a} ({n})")).collect();
    writeln!(out, "agents:    {}", if agents.is_empty() { "-".into() } else { agents.join(", ") })?;
    writeln!(
        out,
        "tokens:    input {} (cached {}, cache writes {}), output {} (reasoning {})",
        i.tokens.input,
        i.tokens.cached.unwrap_or(0),
        i.tokens.cache_write.unwrap_or(0),
        i.tokens.output,
        i.tokens.reasoning.unwrap_or(0)
    )?;
    writeln!(out, "entries by type:")?;
    for (t, n) in &i.by_type {
        writeln!(out, "  {t:<24} {n}")?;
    }
    let models: Vec<String> = i.models.iter().map(|(m, n)| format!("{m} ({n} messages)")).collect();
    writeln!(out, "models:    {}", if models.is_empty() { "-".into() } else { models.join(", ") })?;
    writeln!(out, "tokens by model:")?;
    for (m, t) in &i.tokens_by_model {
        writeln!(
            out,
            "  {m:<24} input {} (cached {}), output {} (reasoning {})",
            t.input,
            t.cached.unwrap_or(0),
            t.output,
            t.reasoning.unwrap_or(0)
        )?;
    }
    writeln!(out, "tool calls by tool:")?;
    for (t, n) in &i.tool_calls {
        writeln!(out, "  {t:<24} {n}")?;
    }
    writeln!(out, "sessions:")?;
    for (sid, s) in &i.sessions {
        let agent = s.agent.as_deref().unwrap_or("-");
        let status = s.status.as_deref().unwrap_or("open");
        writeln!(
            out,
            "  {sid}  {agent}  {} entries  {} .. {}  {status}",
            s.entries,
            time_of(s.first_ts),
            time_of(s.last_ts)
        )?;
    }
    Ok(())
}

fn adapters(json: bool) -> Result<Outcome> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &ADAPTERS)?;
        writeln!(out)?;
    } else {
        for a in ADAPTERS {
            writeln!(out, "{:<12} {}\n{:<12} {}", a.name, a.reads, "", a.location)?;
        }
    }
    Ok(Outcome::Ok)
}

fn export(a: ExportArgs, limits: &Limits) -> Result<Outcome> {
    let ExportFormat::Otlp = a.format;
    let mut exporter = OtlpExporter::new(output(a.output.as_deref())?, limits.clone());
    let mut unreadable = 0u64;
    for f in &a.files {
        let mut lines = open(f)?.lines(limits.max_line_bytes);
        while let Some((_, line)) = lines.next_line()? {
            match line {
                aef::Line::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
                aef::Line::Text(t) => match serde_json::from_slice::<serde_json::Value>(t) {
                    Ok(v) => exporter.add(&v)?,
                    Err(_) => unreadable += 1,
                },
                aef::Line::TooLong { .. } => unreadable += 1,
            }
        }
    }
    let (report, _) = exporter.finish()?;
    if unreadable + report.skipped > 0 {
        let _ = writeln!(
            std::io::stderr().lock(),
            "warning: {} lines were not AEF entries and were skipped",
            unreadable + report.skipped
        );
    }
    Ok(Outcome::Ok)
}
