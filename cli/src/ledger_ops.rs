//! `cpctl ledger append|query|tail|repair`: the write side of the ledger and plain reads.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use cp_kernel::{
    JsonlStore, LedgerBackend, LedgerEntry, LedgerName, LedgerQuery, LedgerSet, NOTE_PRINCIPAL_KEY, NewEntry, Order,
    Provenance, check_operator_note,
};

use cp_kernel::policy::PolicyDecision;

use crate::read_access::{ReadAccessArgs, record_local_read};

use crate::common::{CmdResult, Outcome, Refused, Settings, open_existing, render};

#[derive(Debug, Subcommand)]
pub(crate) enum OpsCmd {
    /// Append a free-form operator note to a ledger (reserved event types are refused).
    #[command(after_help = "Free-form operator notes only: the event type must match the layout's \
        ledger.operator_notes pattern, types the kernel writes (budget, install, auth, prompt, checkpoint, \
        policy, ...) are refused (exit 2), and metadata.principal records who appended.\n\
        Example:\n  cpctl ledger append --ledger HOT/governance --event-type OPERATOR_NOTE \\\n    \
        --reason 'dev install reviewed' --meta-json '{\"package\":\"PKG-X\"}' --tenant acme\n  \
        echo '{\"event_type\":\"NOTE\",\"metadata\":{\"k\":1}}' | cpctl ledger append --ledger HO2/notes --entry-json -")]
    Append(Box<AppendArgs>),
    /// Query entries (every ledger of the plane without --ledger).
    #[command(after_help = "Examples:\n  cpctl ledger query --last 5\n  \
        cpctl ledger query --ledger HOT/packages --event-type INSTALLED \
        --event-type INSTALL_FAILED --since 2026-11-01T00:00:00Z --last 20 --json\n  \
        cpctl ledger query --ledger HO1/prompts --event-type PROMPT_SENT --session s-1 --json\n  \
        cpctl ledger query --policy budget.hard_limit --decision DENY --json")]
    Query(Box<QueryArgs>),
    /// Show the last entries of a ledger (every ledger without --ledger), optionally following
    /// (the local operator's read of every tenant: said on stderr, recorded as OPERATOR_READ).
    #[command(after_help = "Example:\n  cpctl ledger tail --ledger HO1/prompts -n 20 --follow")]
    Tail(TailArgs),
    /// Remove a torn last line of a JSONL ledger and record LEDGER_REPAIRED.
    #[command(after_help = "Example:\n  cpctl ledger repair --ledger HO1/prompts --truncate-torn-tail")]
    Repair(RepairArgs),
}

/// Provenance flags shared by append (set) and query (filter).
#[derive(Debug, Args, Default)]
pub(crate) struct ProvArgs {
    /// tenant_id.
    #[arg(long = "tenant")]
    tenant_id: Option<String>,
    /// agent_id.
    #[arg(long = "agent")]
    agent_id: Option<String>,
    /// agent_class (KERNEL.syntactic, KERNEL.semantic, ADMIN, RESIDENT).
    #[arg(long = "agent-class")]
    agent_class: Option<String>,
    /// framework_id.
    #[arg(long = "framework")]
    framework_id: Option<String>,
    /// package_id.
    #[arg(long = "package")]
    package_id: Option<String>,
    /// work_order_id.
    #[arg(long = "work-order")]
    work_order_id: Option<String>,
    /// session_id.
    #[arg(long = "session")]
    session_id: Option<String>,
    /// trace_id.
    #[arg(long = "trace")]
    trace_id: Option<String>,
    /// span_id.
    #[arg(long = "span")]
    span_id: Option<String>,
    /// parent_event_id.
    #[arg(long = "parent-event")]
    parent_event_id: Option<String>,
    /// tier (hot, ho2, ho1).
    #[arg(long = "tier")]
    tier: Option<String>,
}

impl ProvArgs {
    fn into_provenance(self) -> Provenance {
        Provenance {
            tenant_id: self.tenant_id,
            agent_id: self.agent_id,
            agent_class: self.agent_class,
            framework_id: self.framework_id,
            package_id: self.package_id,
            work_order_id: self.work_order_id,
            session_id: self.session_id,
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_event_id: self.parent_event_id,
            tier: self.tier,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct AppendArgs {
    /// Ledger name (TIER/name).
    #[arg(long)]
    ledger: String,
    /// Event type (required unless --entry-json gives it).
    #[arg(long, required_unless_present = "entry_json")]
    event_type: Option<String>,
    /// Decision (ALLOW, DENY, PASS, …).
    #[arg(long)]
    decision: Option<String>,
    /// Human-readable reason.
    #[arg(long)]
    reason: Option<String>,
    /// Submission id.
    #[arg(long)]
    submission: Option<String>,
    /// Metadata: a JSON object, `@FILE` or `-` for stdin.
    #[arg(long)]
    meta_json: Option<String>,
    /// The whole entry as JSON (`event_type`, `submission_id`, `decision`, `reason`,
    /// `metadata`, provenance fields; unknown fields refused): JSON text, `@FILE` or `-`.
    /// Flags given as well override its fields.
    #[arg(long, conflicts_with = "meta_json")]
    entry_json: Option<String>,
    /// Largest accepted JSON input (--meta-json / --entry-json), in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    max_input_bytes: u64,
    #[command(flatten)]
    prov: ProvArgs,
    /// Append the entry N times, one transaction each (crash and concurrency tests).
    #[arg(long, hide = true, default_value_t = 1)]
    repeat: u64,
    /// Print only each seq, one line per append, flushed once the append returned (tests).
    #[arg(long, hide = true)]
    print_seq: bool,
}

/// The `--entry-json` document.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryInput {
    event_type: Option<String>,
    submission_id: Option<String>,
    decision: Option<String>,
    reason: Option<String>,
    #[serde(default)]
    metadata: Map<String, Value>,
    tenant_id: Option<String>,
    agent_id: Option<String>,
    agent_class: Option<String>,
    framework_id: Option<String>,
    package_id: Option<String>,
    work_order_id: Option<String>,
    session_id: Option<String>,
    trace_id: Option<String>,
    span_id: Option<String>,
    parent_event_id: Option<String>,
    tier: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OrderArg {
    Asc,
    Desc,
}

#[derive(Debug, Args)]
pub(crate) struct QueryArgs {
    /// Ledger name (TIER/name); every ledger of the plane when absent.
    #[arg(long)]
    ledger: Option<String>,
    /// Event type; repeat for any of several.
    #[arg(long)]
    event_type: Vec<String>,
    #[command(flatten)]
    prov: ProvArgs,
    /// Only entries at or after this RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    /// Only entries before this RFC 3339 time.
    #[arg(long)]
    until: Option<String>,
    /// Only entries with seq greater than this.
    #[arg(long)]
    after_seq: Option<u64>,
    /// The N most recent matching entries across the ledgers queried, by timestamp (shown
    /// oldest first unless --order desc).
    #[arg(long, conflicts_with = "limit")]
    last: Option<usize>,
    /// Result order by seq.
    #[arg(long, value_enum)]
    order: Option<OrderArg>,
    /// At most N entries per ledger.
    #[arg(long)]
    limit: Option<usize>,
    /// Only governance decisions under this policy (metadata.policy_id, e.g. wo.lifecycle,
    /// budget.hard_limit).
    #[arg(long)]
    policy: Option<String>,
    /// Only governance decisions with this decision (ALLOW, DENY, REFUSED, ...; any case).
    #[arg(long)]
    decision: Option<String>,
    /// Read as this token's tenant only (--tenant, when given, must be the token's); without
    /// --token or --operator the local operator reads every tenant (or the --tenant named),
    /// said on stderr and recorded as OPERATOR_READ.
    #[command(flatten)]
    access: ReadAccessArgs,
}

#[derive(Debug, Args)]
pub(crate) struct TailArgs {
    /// Ledger name (TIER/name); every ledger of the plane when absent.
    #[arg(long)]
    ledger: Option<String>,
    /// Number of entries to show.
    #[arg(short = 'n', long, default_value_t = 10)]
    lines: usize,
    /// Keep printing entries as they are appended (until interrupted).
    #[arg(long)]
    follow: bool,
    /// Polling interval of --follow, in milliseconds.
    #[arg(long, default_value_t = 500)]
    interval_ms: u64,
}

#[derive(Debug, Args)]
pub(crate) struct RepairArgs {
    /// Ledger name (TIER/name).
    #[arg(long)]
    ledger: String,
    /// Remove a torn last line (the only repair there is; required to say so explicitly).
    #[arg(long, required = true)]
    truncate_torn_tail: bool,
}

#[derive(Debug, Serialize)]
struct LedgerEntries {
    ledger: String,
    entries: Vec<LedgerEntry>,
}

pub(crate) fn run(s: &Settings, c: OpsCmd) -> CmdResult {
    match c {
        OpsCmd::Append(a) => append(s, *a),
        OpsCmd::Query(q) => query(s, *q),
        OpsCmd::Tail(t) => tail(s, t),
        OpsCmd::Repair(r) => repair(s, r),
    }
}

/// Reads a JSON argument: literal text, `@FILE`, or `-` (stdin), refusing more than `max` bytes.
fn read_json_arg(arg: &str, what: &str, max: u64) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    let src: Box<dyn Read> = if arg == "-" {
        Box::new(std::io::stdin().lock())
    } else if let Some(p) = arg.strip_prefix('@') {
        Box::new(cp_kernel::fsx::open(p)?)
    } else {
        Box::new(arg.as_bytes())
    };
    src.take(max + 1).read_to_end(&mut buf).with_context(|| format!("reading {what}"))?;
    if buf.len() as u64 > max {
        bail!("{what} is larger than {max} bytes (--max-input-bytes); nothing was written");
    }
    String::from_utf8(buf).with_context(|| format!("{what} is not UTF-8"))
}

fn build_entry(a: &AppendArgs) -> anyhow::Result<NewEntry> {
    let mut input = match &a.entry_json {
        Some(arg) => {
            let text = read_json_arg(arg, "--entry-json", a.max_input_bytes)?;
            serde_json::from_str::<EntryInput>(&text)
                .map_err(|e| anyhow::anyhow!("--entry-json: {e}; nothing was written"))?
        }
        None => EntryInput::default(),
    };
    if let Some(m) = &a.meta_json {
        let text = read_json_arg(m, "--meta-json", a.max_input_bytes)?;
        let v: Value =
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("--meta-json: {e}; nothing was written"))?;
        match v {
            Value::Object(m) => input.metadata = m,
            other => bail!("--meta-json must be a JSON object, got {}; nothing was written", type_name(&other)),
        }
    }
    let p = &a.prov;
    macro_rules! over {
        ($($f:ident),*) => { $( if p.$f.is_some() { input.$f = p.$f.clone(); } )* };
    }
    over!(
        tenant_id,
        agent_id,
        agent_class,
        framework_id,
        package_id,
        work_order_id,
        session_id,
        trace_id,
        span_id,
        parent_event_id,
        tier
    );
    let Some(event_type) = a.event_type.clone().or(input.event_type) else {
        bail!("an event type is required (--event-type or event_type in --entry-json)")
    };
    Ok(NewEntry {
        event_type,
        submission_id: a.submission.clone().or(input.submission_id),
        decision: a.decision.clone().or(input.decision),
        reason: a.reason.clone().or(input.reason),
        metadata: input.metadata,
        provenance: Provenance {
            tenant_id: input.tenant_id,
            agent_id: input.agent_id,
            agent_class: input.agent_class,
            framework_id: input.framework_id,
            package_id: input.package_id,
            work_order_id: input.work_order_id,
            session_id: input.session_id,
            trace_id: input.trace_id,
            span_id: input.span_id,
            parent_event_id: input.parent_event_id,
            tier: input.tier,
        },
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn append(s: &Settings, a: AppendArgs) -> CmdResult {
    LedgerName::parse(&a.ledger)?;
    let mut entry = build_entry(&a)?;
    let plane = s.plane()?;
    check_operator_note(&plane.layout().ledger.operator_notes(), &entry).map_err(|e| Refused(e.to_string()))?;
    entry.metadata.insert(NOTE_PRINCIPAL_KEY.into(), principal());
    let set = LedgerSet::new(&plane);
    let store = set.open(&a.ledger)?;
    if a.print_seq {
        let mut out = std::io::stdout().lock();
        for _ in 0..a.repeat {
            let e = store.append(entry.clone())?;
            writeln!(out, "{}", e.seq)?;
            out.flush()?;
        }
        return Ok(Outcome::Ok);
    }
    let mut last = None;
    for _ in 0..a.repeat.max(1) {
        last = Some(store.append(entry.clone())?);
    }
    let e = last.context("nothing appended")?;
    render(s, &e, |e| format!("appended {} seq {} entry_hash {}", a.ledger, e.seq, e.entry_hash))?;
    Ok(Outcome::Ok)
}

/// Who appended a note: the process's user id (the owner of `/proc/self`, set by the operating
/// system, not by the caller) and the command.
fn principal() -> Value {
    use std::os::unix::fs::MetadataExt;
    let uid = cp_kernel::fsx::metadata("/proc/self").map(|m| Value::from(m.uid())).unwrap_or(Value::Null);
    serde_json::json!({"uid": uid, "via": "cpctl ledger append"})
}

fn ledgers(set: &LedgerSet, one: Option<&str>) -> anyhow::Result<Vec<String>> {
    Ok(match one {
        Some(n) => {
            LedgerName::parse(n)?;
            vec![n.to_string()]
        }
        None => set.list()?.iter().map(ToString::to_string).collect(),
    })
}

fn entry_line(ledger: &str, e: &LedgerEntry) -> String {
    let mut s = format!("{ledger} #{} {} {}", e.seq, e.timestamp, e.event_type);
    if let Some(d) = &e.decision {
        s.push_str(&format!(" {d}"));
    }
    if let Some(r) = &e.reason {
        s.push_str(&format!(" — {r}"));
    }
    if !e.metadata.is_empty() {
        s.push_str(&format!(" {}", Value::Object(e.metadata.clone())));
    }
    s
}

fn render_sets(s: &Settings, v: &[LedgerEntries]) -> anyhow::Result<()> {
    render(s, &v, |v| {
        let mut out = String::new();
        for l in v.iter() {
            for e in &l.entries {
                out.push_str(&entry_line(&l.ledger, e));
                out.push('\n');
            }
        }
        if out.is_empty() { "(no entries)".to_string() } else { out }
    })
}

fn query(s: &Settings, a: QueryArgs) -> CmdResult {
    let plane = s.plane()?;
    let set = LedgerSet::new(&plane);
    let (order, limit, reverse) = match (a.last, a.order) {
        (Some(n), Some(OrderArg::Desc)) => (Order::Desc, Some(n), false),
        (Some(n), _) => (Order::Desc, Some(n), true),
        (None, Some(OrderArg::Desc)) => (Order::Desc, a.limit, false),
        (None, _) => (Order::Asc, a.limit, false),
    };
    // Decisions are filtered after the store's query, so the limit is applied after them.
    let decisions = a.policy.is_some() || a.decision.is_some();
    let mut provenance = a.prov.into_provenance();
    let local = a.access.token.is_none() && !a.access.operator;
    if a.access.token.is_some() || a.access.operator {
        let g = a.access.grant(&plane, provenance.tenant_id.as_deref(), "ledger.query")?;
        provenance.tenant_id = Some(g.tenant);
    }
    let q = LedgerQuery {
        event_types: a.event_type,
        provenance,
        since: a.since,
        until: a.until,
        after_seq: a.after_seq,
        order,
        limit: if decisions { None } else { limit },
    };
    let mut out = Vec::new();
    for name in ledgers(&set, a.ledger.as_deref())? {
        let store = if a.ledger.is_some() { open_existing(&set, &name)? } else { set.open(&name)? };
        let mut entries = store.query(&q)?;
        if decisions {
            entries.retain(|e| PolicyDecision::matches(e, a.policy.as_deref(), a.decision.as_deref()));
            entries.truncate(limit.unwrap_or(usize::MAX));
        }
        if reverse {
            entries.reverse();
        }
        out.push(LedgerEntries { ledger: name, entries });
    }
    if let Some(n) = a.last {
        keep_most_recent(&mut out, n);
    }
    render_sets(s, &out)?;
    if local {
        eprintln!("{}", record_local_read(&plane, q.provenance.tenant_id.as_deref(), "ledger.query"));
    }
    Ok(Outcome::Ok)
}

/// Keeps the `n` most recent entries across `sets` (by timestamp, then ledger and seq), each
/// set keeping its order.
fn keep_most_recent(sets: &mut [LedgerEntries], n: usize) {
    let mut all: Vec<(&str, &str, u64)> = sets
        .iter()
        .flat_map(|l| l.entries.iter().map(move |e| (e.timestamp.as_str(), l.ledger.as_str(), e.seq)))
        .collect();
    all.sort_unstable_by(|a, b| b.cmp(a));
    let kept: std::collections::BTreeSet<(String, u64)> =
        all.into_iter().take(n).map(|(_, l, seq)| (l.to_string(), seq)).collect();
    for l in sets.iter_mut() {
        let name = l.ledger.clone();
        l.entries.retain(|e| kept.contains(&(name.clone(), e.seq)));
    }
}

fn tail(s: &Settings, a: TailArgs) -> CmdResult {
    let plane = s.plane()?;
    let set = LedgerSet::new(&plane);
    let names = ledgers(&set, a.ledger.as_deref())?;
    let mut out = Vec::new();
    let mut stores = Vec::new();
    for name in names {
        let store = if a.ledger.is_some() { open_existing(&set, &name)? } else { set.open(&name)? };
        let q = LedgerQuery { order: Order::Desc, limit: Some(a.lines), ..Default::default() };
        let mut entries = store.query(&q)?;
        entries.reverse();
        let last = store.head()?.map(|h| h.seq);
        stores.push((name.clone(), store, last));
        out.push(LedgerEntries { ledger: name, entries });
    }
    render_sets(s, &out)?;
    eprintln!("{}", record_local_read(&plane, None, "ledger.tail"));
    if !a.follow {
        return Ok(Outcome::Ok);
    }
    let mut stdout = std::io::stdout().lock();
    loop {
        std::thread::sleep(Duration::from_millis(a.interval_ms));
        for (name, store, last) in &mut stores {
            let q = LedgerQuery { after_seq: *last, ..Default::default() };
            for e in store.query(&q)? {
                *last = Some(e.seq);
                let line = if s.json { serde_json::to_string(&e)? } else { entry_line(name, &e) };
                writeln!(stdout, "{line}")?;
            }
        }
        stdout.flush()?;
    }
}

fn repair(s: &Settings, a: RepairArgs) -> CmdResult {
    let name = LedgerName::parse(&a.ledger)?;
    if !a.truncate_torn_tail {
        bail!("say what to repair: --truncate-torn-tail");
    }
    let plane = s.plane()?;
    let set = LedgerSet::new(&plane);
    if set.backend() != LedgerBackend::Jsonl {
        bail!("repair --truncate-torn-tail applies to JSONL ledgers; SQLite ledgers recover through their journal");
    }
    let path: PathBuf = set.path_of(&name);
    if !path.exists() {
        bail!("no ledger named {}", a.ledger);
    }
    let store = JsonlStore::open(&path, &name.to_string(), set.durability())?;
    let report = store.repair_torn_tail()?;
    render(s, &report, |r| {
        if r.repaired {
            format!(
                "{}: removed {} bytes at offset {} (sha256 {}); recorded LEDGER_REPAIRED at seq {}",
                r.ledger,
                r.removed_bytes,
                r.offset,
                r.removed_sha256,
                r.repair_seq.map_or_else(|| "?".into(), |s| s.to_string())
            )
        } else {
            format!("{}: the last line is complete; nothing to repair", r.ledger)
        }
    })?;
    Ok(Outcome::Ok)
}
