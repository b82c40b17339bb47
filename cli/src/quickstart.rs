//! `cpctl quickstart`: create a plane, install the bootstrap set through the gates, and route
//! one prompt end to end — one library call (`cp_installer::quickstart`), rendered.

use std::fmt::Write as _;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use cp_installer::{InstallEvent, QuickstartEvent, QuickstartOptions, QuickstartReport, quickstart};
use cp_kernel::GateStatus;

use crate::common::{CmdResult, Outcome, Settings, render};

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  cpctl quickstart\n  cpctl --root /tmp/plane quickstart --json\n  \
CP_OPENAI_BASE_URL=http://127.0.0.1:8080 cpctl quickstart   # route to an OpenAI-compatible server")]
pub(crate) struct QuickstartArgs {
    /// Tenant of the sample request.
    #[arg(long, default_value = "demo")]
    tenant: String,
    /// The question asked through the shipped prompt contract.
    #[arg(long)]
    question: Option<String>,
    /// Where the session's spans are written (OTLP/JSON lines; default: `<root>-spans.otlp.jsonl`
    /// beside the plane root).
    #[arg(long)]
    spans_out: Option<std::path::PathBuf>,
}

/// What the quickstart's last step wrote: the session's spans.
#[derive(Debug, serde::Serialize)]
struct Telemetry {
    file: String,
    spans: u64,
    push: String,
}

#[derive(Debug, serde::Serialize)]
struct Out {
    #[serde(flatten)]
    report: QuickstartReport,
    telemetry: Telemetry,
}

/// Writes the session's spans to a file and says how to push them.
fn spans(
    s: &Settings,
    r: &QuickstartReport,
    tenant: &str,
    out: Option<std::path::PathBuf>,
) -> anyhow::Result<Telemetry> {
    let plane = s.plane()?;
    let cfg = cp_otel::OtelConfig::for_plane(&plane)?;
    let name = s.root.file_name().map_or("plane".into(), |n| n.to_string_lossy().into_owned());
    let file = out.unwrap_or_else(|| s.root.with_file_name(format!("{name}-spans.otlp.jsonl")));
    let sel = cp_otel::Selection { tenant: tenant.into(), session: Some(r.session_id.clone()), ..Default::default() };
    let mut w = std::io::BufWriter::new(cp_kernel::fsx::create(&file)?);
    let sum = cp_otel::export_json_lines(&plane, &sel, &cfg, &crate::otel::service_name(&cfg), &mut w, &file)?;
    std::io::Write::flush(&mut w)?;
    let push = format!(
        "OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 cpctl --root {} otel push --tenant {tenant} --session {} --operator",
        s.root.display(),
        r.session_id
    );
    Ok(Telemetry { file: file.display().to_string(), spans: sum.stats.spans, push })
}

pub(crate) fn run(s: &Settings, a: QuickstartArgs) -> CmdResult {
    let mut opts = QuickstartOptions::new(&s.root);
    opts.tenant = a.tenant.clone();
    if let Some(q) = a.question {
        opts.question = q;
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let report = quickstart(&opts, &mut |e| match e {
        QuickstartEvent::Install(InstallEvent::Started { package_id, index, total }) => {
            bar.set_length(total as u64);
            bar.set_position(index as u64);
            bar.set_message(format!("installing {package_id}"));
        }
        QuickstartEvent::Install(InstallEvent::Finished { .. }) => bar.inc(1),
        QuickstartEvent::Step(step) => bar.set_message(step.to_string()),
    });
    bar.finish_and_clear();
    let report = report?;
    let telemetry = spans(s, &report, &a.tenant, a.spans_out)?;
    let green = report.all_green();
    render(s, &Out { report, telemetry }, |o| {
        let mut t = text(&o.report);
        let _ = writeln!(
            t,
            "\n8. Telemetry: wrote {} span(s) of session {} to {}\n   push them to an OTLP/HTTP receiver (an OpenTelemetry Collector, Arize Phoenix):\n   {}",
            o.telemetry.spans, o.report.session_id, o.telemetry.file, o.telemetry.push
        );
        t
    })?;
    Ok(if green { Outcome::Ok } else { Outcome::Refused })
}

fn text(r: &QuickstartReport) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "Control Plane quickstart — plane {}\n", r.root);
    let installed = r.packages.iter().filter(|p| p.action == "installed").count();
    let _ = writeln!(
        o,
        "1. Bootstrap set: {} packages ({} installed now, {} already there)",
        r.packages.len(),
        installed,
        r.packages.len() - installed
    );
    for p in &r.packages {
        let _ = writeln!(
            o,
            "   {:<28} {:<7} {:<18} {:>3} files  trust: {}",
            p.package_id, p.version, p.action, p.files, p.trust
        );
    }
    let _ = writeln!(o, "\n2. Auth token issued to {} (secret: {})", r.token, r.secret_source);
    let _ = writeln!(o, "   Session budget allocated: {}", r.budget);
    let _ = writeln!(o, "\n3. Attention: template {} ({}) — {}", r.template_id, r.template_rule, r.template_why);
    for c in &r.candidates {
        let _ = writeln!(o, "   candidate {}", c);
    }
    let _ = writeln!(
        o,
        "   {} fragments, ~{} tokens, context sha256 {}",
        r.fragments.len(),
        r.context_tokens,
        r.context_hash
    );
    for f in &r.fragments {
        let rel = f.relevance.map(|x| format!(" relevance {x:.2}")).unwrap_or_default();
        let _ = writeln!(o, "   - [{}] {} via {} (~{} tokens{rel})", f.source, f.source_id, f.stage, f.tokens);
    }
    let _ = writeln!(o, "   halting: {}", r.halting);
    for w in &r.attention_warnings {
        let _ = writeln!(o, "   warning: {w}");
    }
    let resp = &r.response;
    let _ = writeln!(
        o,
        "\n4. Routed to {} / {}: {} input + {} output tokens, cost {} micro-units (price book {}), {} ms, output schema valid: {}",
        resp["provider"],
        resp["model"],
        resp["input_tokens"],
        resp["output_tokens"],
        resp["cost_micros"],
        resp["price_book_version"],
        resp["latency_ms"],
        resp["output_valid"]
    );
    let _ = writeln!(o, "   answer: {}", resp["text"].as_str().unwrap_or_default());
    let _ = writeln!(o, "\n5. Ledger entries written this run: {}", r.ledger_entries.len());
    let mut per: std::collections::BTreeMap<(&str, &str), usize> = std::collections::BTreeMap::new();
    for e in &r.ledger_entries {
        *per.entry((e.ledger.as_str(), e.event_type.as_str())).or_default() += 1;
    }
    for ((l, t), n) in per {
        let _ = writeln!(o, "   {l:<16} {t:<20} × {n}");
    }
    let _ = writeln!(o, "\n6. Gates:");
    for g in &r.gates {
        let status = if g.status == GateStatus::Pass { "PASS" } else { "FAIL" };
        let _ = writeln!(o, "   {}: {status}  {}", g.gate, g.summary);
        for e in &g.errors {
            let _ = writeln!(o, "      {e}");
        }
    }
    let _ = writeln!(o, "\n7. Ledger verification:");
    for v in &r.verification {
        let _ = writeln!(o, "   {}", v.summary());
    }
    let _ = writeln!(
        o,
        "\n{}",
        if r.all_green() { "All gates pass and every ledger verifies." } else { "NOT all green: see above." }
    );
    o
}
