//! `cpctl aef export`: the plane's sessions (one tenant) as Agent Event Format lines — prompts
//! as messages (`user` for `PROMPT_SENT`, `assistant` with tokens for `PROMPT_RECEIVED`),
//! failures and refusals as `error`, cost and provenance in the `cp.prompt.cost` extension.

use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;
use serde_json::{Map, Value, json};

use aef::{
    Body, Content, EntryWriter, ErrorEvent, Extension, Message, Role, SessionRecorder, SessionStart, Status, Tokens,
};
use cp_kernel::{LedgerEntry, event};
use cp_otel::{OtelConfig, Selection, SourcedEntry, read_entries};

use crate::common::{CmdResult, Outcome, Settings, render};
use crate::read_access::ReadAccessArgs;

/// The extension type carrying a prompt's cost and ledger provenance (schema:
/// `cli/schema/aef-cp-prompt.schema.json`, namespace `cp.prompt`).
pub(crate) const COST_TYPE: &str = "cp.prompt.cost";

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Tenant whose sessions are exported (default: the token's; required with --operator).
    #[arg(long)]
    tenant: Option<String>,
    #[command(flatten)]
    access: ReadAccessArgs,
    /// Only this session.
    #[arg(long)]
    session: Option<String>,
    /// Write here (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AefCmd {
    /// Write the plane's sessions as AEF JSON lines.
    Export(ExportArgs),
}

#[derive(Debug, Default, Serialize)]
struct AefSummary {
    sessions: u64,
    entries: u64,
    skipped_without_session: u64,
}

pub(crate) fn run(s: &Settings, c: AefCmd) -> CmdResult {
    let AefCmd::Export(a) = c;
    let plane = s.plane()?;
    let cfg = OtelConfig::for_plane(&plane)?;
    let tenant = a.access.grant(&plane, a.tenant.as_deref(), "aef.export")?.tenant;
    let sel = Selection { tenant, session: a.session.clone(), ..Selection::default() };
    let entries = read_entries(&plane, &sel, cfg.read_page_entries)?;
    let mut sessions: BTreeMap<String, Vec<SourcedEntry>> = BTreeMap::new();
    let mut sum = AefSummary::default();
    for e in entries {
        match e.entry.session_id.clone() {
            Some(sid) => sessions.entry(sid).or_default().push(e),
            None => sum.skipped_without_session += 1,
        }
    }
    let sink: Box<dyn Write> = match &a.out {
        Some(p) => Box::new(BufWriter::new(cp_kernel::fsx::create(p)?)),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut w = EntryWriter::new(sink);
    for (sid, list) in &sessions {
        sum.sessions += 1;
        for entry in session_entries(sid, list) {
            w.write(&entry).context("writing AEF")?;
            sum.entries += 1;
        }
    }
    w.flush().context("writing AEF")?;
    if a.out.is_some() {
        render(s, &sum, |m| {
            format!(
                "wrote {} AEF entries of {} session(s); {} entries without a session skipped",
                m.entries, m.sessions, m.skipped_without_session
            )
        })?;
    }
    Ok(Outcome::Ok)
}

fn ms(ts: &str) -> i64 {
    ts.parse::<jiff::Timestamp>().map_or(0, |t| t.as_millisecond())
}

fn meta<'a>(e: &'a LedgerEntry, k: &str) -> Option<&'a str> {
    e.metadata.get(k).and_then(Value::as_str)
}

fn u(e: &LedgerEntry, k: &str) -> u64 {
    e.metadata.get(k).and_then(Value::as_u64).unwrap_or(0)
}

/// The AEF entries of one session: start, one entry (or two) per ledger entry of the prompt
/// path, end with the computed summary.
pub(crate) fn session_entries(sid: &str, list: &[SourcedEntry]) -> Vec<aef::Entry> {
    let mut rec = SessionRecorder::new(sid);
    let first = list.first().map_or(0, |e| ms(&e.entry.timestamp));
    let last = list.last().map_or(0, |e| ms(&e.entry.timestamp));
    let start_id = format!("{sid}:start");
    let mut meta_map = Map::new();
    if let Some(t) = list.first().and_then(|e| e.entry.tenant_id.clone()) {
        meta_map.insert("tenant_id".into(), t.into());
    }
    let start = SessionStart {
        agent: "cp-kernel".into(),
        version: Some(env!("CARGO_PKG_VERSION").into()),
        meta: Some(meta_map),
        ..SessionStart::default()
    };
    let mut out = vec![rec.entry(start_id.clone(), first, None, Body::SessionStart(start))];
    let mut failed = false;
    for se in list {
        let e = &se.entry;
        let ts = ms(&e.timestamp);
        let pid = e.parent_event_id.clone().or_else(|| Some(start_id.clone()));
        match e.event_type.as_str() {
            event::PROMPT_SENT => {
                let text = meta(e, "prompt_text").map_or_else(
                    || format!("[prompt not logged; sha256 {}]", meta(e, "prompt_hash").unwrap_or("")),
                    str::to_string,
                );
                let m = Message {
                    role: Role::User,
                    content: Content::Text(text),
                    tokens: None,
                    model: meta(e, "model").map(Into::into),
                    subagent: None,
                };
                out.push(rec.entry(e.id.clone(), ts, pid, Body::Message(m)));
            }
            event::PROMPT_RECEIVED => {
                let text = meta(e, "response_text").map_or_else(
                    || format!("[response not logged; sha256 {}]", meta(e, "response_hash").unwrap_or("")),
                    str::to_string,
                );
                let cached = u(e, "cached_input_tokens");
                let tokens = Tokens {
                    input: u(e, "input_tokens"),
                    output: u(e, "output_tokens"),
                    cached: (cached > 0).then_some(cached),
                    cache_write: None,
                    reasoning: None,
                };
                let m = Message {
                    role: Role::Assistant,
                    content: Content::Text(text),
                    tokens: Some(tokens),
                    model: meta(e, "model").map(Into::into),
                    subagent: None,
                };
                out.push(rec.entry(e.id.clone(), ts, pid, Body::Message(m)));
                out.push(rec.entry(format!("{}:cost", e.id), ts, Some(e.id.clone()), Body::Extension(cost(se))));
            }
            event::PROMPT_FAILED | event::PROMPT_REJECTED => {
                failed |= e.event_type == event::PROMPT_FAILED;
                let code = meta(e, "error_code").or_else(|| meta(e, "code")).unwrap_or(&e.event_type).to_string();
                let err = ErrorEvent {
                    code: Some(code),
                    message: e.reason.clone().unwrap_or_else(|| e.event_type.clone()),
                    stack: None,
                    recoverable: Some(true),
                };
                out.push(rec.entry(e.id.clone(), ts, pid, Body::Error(err)));
            }
            _ => {}
        }
    }
    let end = rec.end(format!("{sid}:end"), last, if failed { Status::Error } else { Status::Complete });
    out.push(end);
    out
}

fn cost(se: &SourcedEntry) -> Extension {
    let e = &se.entry;
    let v = json!({
        "provider": meta(e, "provider"),
        "cost_micros": u(e, "cost_micros"),
        "currency": meta(e, "currency"),
        "price_book_version": meta(e, "price_book_version"),
        "request_id": e.submission_id,
        "ledger": se.ledger,
        "seq": e.seq,
        "entry_hash": e.entry_hash,
    });
    Extension { type_name: COST_TYPE.into(), fields: v.as_object().cloned().unwrap_or_default() }
}
