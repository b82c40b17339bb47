//! The report's facts, read from the ledgers, and their sections.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use cp_kernel::{LedgerEntry, LedgerSet, Plane, event, latest_checkpoint, verify_store};

use crate::error::OtelError;
use crate::project::SourcedEntry;
use crate::select::{Selection, read_entries};

/// One titled list of `(label, value)` rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Section {
    /// Title.
    pub title: String,
    /// Rows.
    pub rows: Vec<(String, String)>,
}

/// The chain proof of one ledger over the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainProof {
    /// Ledger name.
    pub ledger: String,
    /// First selected entry: seq and hash.
    pub first: (u64, String),
    /// Last selected entry: seq and hash.
    pub last: (u64, String),
    /// `verify` of the whole ledger: summary line.
    pub verify: String,
    /// Whether it verified.
    pub verified: bool,
    /// The latest signed checkpoint (`size`, `root`, `key_id`), if one was saved.
    pub checkpoint: Option<String>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComplianceReport {
    /// Tenant.
    pub tenant: String,
    /// What was selected (session or window).
    pub scope: String,
    /// Prompts routed (a `PROMPT_SENT` in the window).
    pub prompts: u64,
    /// Budget, auth and gate decisions in the window.
    pub decisions: u64,
    /// Chain proofs, one per ledger with selected entries.
    pub chain: Vec<ChainProof>,
    /// The sections rendered.
    pub sections: Vec<Section>,
}

fn meta(e: &LedgerEntry, k: &str) -> String {
    match e.metadata.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(v) => v.to_string(),
    }
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".into())
}

fn at(se: &SourcedEntry) -> String {
    format!("{}#{} ({}) hash {}", se.ledger, se.entry.seq, se.entry.timestamp, se.entry.entry_hash)
}

/// Event types listed as decisions.
const DECISIONS: &[&str] = &[
    event::PROMPT_REJECTED,
    event::ACCESS_DENIED,
    event::BUDGET_ALLOCATED,
    event::BUDGET_WARNING,
    event::BUDGET_RECOVERED,
    event::AUTH_TOKEN_ISSUED,
    event::AUTH_DEV_MODE,
    event::POLICY_WAIVED,
    event::INSTALLED,
    event::INSTALL_FAILED,
    event::UNINSTALLED,
];

fn prompt_section(sent: &SourcedEntry, answer: Option<&SourcedEntry>) -> Section {
    let e = &sent.entry;
    let mut rows = vec![
        ("request".to_string(), opt(&e.submission_id)),
        ("sent".into(), at(sent)),
        (
            "who".into(),
            format!("principal {} · tenant {} · agent {}", meta(e, "principal"), opt(&e.tenant_id), opt(&e.agent_id)),
        ),
        ("work order".into(), format!("{} · session {}", opt(&e.work_order_id), opt(&e.session_id))),
        ("template".into(), meta(e, "template_id")),
        ("contract".into(), format!("{} {}", meta(e, "contract_id"), meta(e, "contract_version"))),
        ("context hash".into(), meta(e, "context_hash")),
        ("prompt hash".into(), meta(e, "prompt_hash")),
        (
            "requested".into(),
            format!("{} / {} (max_tokens {})", meta(e, "provider"), meta(e, "model"), meta(e, "max_tokens")),
        ),
        ("budget".into(), format!("{} {}", e.decision.clone().unwrap_or_default(), meta(e, "budget"))),
    ];
    let cands = e.metadata.get("retrieval").and_then(Value::as_array).cloned().unwrap_or_default();
    if cands.is_empty() {
        rows.push(("sources".into(), "none recorded".into()));
    }
    for c in cands {
        rows.push((
            "source".into(),
            format!(
                "{} {} (stage {}) rank {} -> {} relevance {} tokens {} sha256 {}",
                c["source"].as_str().unwrap_or("-"),
                c["source_id"].as_str().unwrap_or("-"),
                c["stage"].as_str().unwrap_or("-"),
                c["rank_before"],
                if c["rank_after"] == -1 { "dropped".to_string() } else { c["rank_after"].to_string() },
                c["relevance"],
                c["tokens"],
                c["content_sha256"].as_str().unwrap_or("-"),
            ),
        ));
    }
    match answer {
        Some(a) if a.entry.event_type == event::PROMPT_RECEIVED => {
            let r = &a.entry;
            let valid = r.metadata.get("output_validation").map_or("-".to_string(), |v| v["valid"].to_string());
            rows.push(("answered".into(), at(a)));
            rows.push(("provider, model".into(), format!("{} / {}", meta(r, "provider"), meta(r, "model"))));
            rows.push((
                "tokens".into(),
                format!(
                    "input {} (cached {}) · output {}",
                    meta(r, "input_tokens"),
                    meta(r, "cached_input_tokens"),
                    meta(r, "output_tokens")
                ),
            ));
            rows.push((
                "cost".into(),
                format!(
                    "{} micro-{} · price book {}",
                    meta(r, "cost_micros"),
                    meta(r, "currency"),
                    meta(r, "price_book_version")
                ),
            ));
            rows.push(("output".into(), format!("sha256 {} · valid {valid}", meta(r, "response_hash"))));
        }
        Some(a) => {
            rows.push(("failed".into(), at(a)));
            rows.push(("error".into(), format!("{}: {}", meta(&a.entry, "error_code"), opt(&a.entry.reason))));
        }
        None => rows.push(("answer".into(), "none in the window (in flight)".into())),
    }
    Section { title: format!("Prompt {}", opt(&e.submission_id)), rows }
}

fn decision_row(se: &SourcedEntry) -> (String, String) {
    let e = &se.entry;
    let code = e.metadata.get("code").and_then(Value::as_str).unwrap_or("");
    (
        e.event_type.clone(),
        format!("{} {} {} · {}", e.decision.clone().unwrap_or_default(), code, opt(&e.reason), at(se))
            .replace("  ", " "),
    )
}

fn chain_proofs(plane: &Plane, entries: &[SourcedEntry]) -> Result<Vec<ChainProof>, OtelError> {
    let mut spans: BTreeMap<&str, (&LedgerEntry, &LedgerEntry)> = BTreeMap::new();
    for se in entries {
        let s = spans.entry(&se.ledger).or_insert((&se.entry, &se.entry));
        s.1 = &se.entry;
    }
    let set = LedgerSet::new(plane);
    let checkpoints = latest_checkpoint(plane).unwrap_or_default();
    let mut out = Vec::new();
    for (ledger, (first, last)) in spans {
        let report = verify_store(&*set.open_existing(ledger)?)?;
        out.push(ChainProof {
            ledger: ledger.to_string(),
            first: (first.seq, first.entry_hash.clone()),
            last: (last.seq, last.entry_hash.clone()),
            verify: report.summary(),
            verified: report.ok,
            checkpoint: checkpoints
                .get(ledger)
                .map(|(_, c)| format!("size {} root {} key {}", c.size, c.root, c.key_id)),
        });
    }
    Ok(out)
}

/// Reads the selection and builds the report.
pub fn build_report(plane: &Plane, sel: &Selection, page: usize) -> Result<ComplianceReport, OtelError> {
    let entries = read_entries(plane, sel, page)?;
    let scope = match (&sel.session, &sel.since, &sel.until) {
        (Some(s), _, _) => format!("session {s}"),
        (None, s, u) => format!("from {} until {}", opt(s), opt(u)),
    };
    let answers: BTreeMap<&str, &SourcedEntry> = entries
        .iter()
        .filter(|e| matches!(e.entry.event_type.as_str(), event::PROMPT_RECEIVED | event::PROMPT_FAILED))
        .filter_map(|e| e.entry.parent_event_id.as_deref().map(|p| (p, e)))
        .collect();
    let mut sections = Vec::new();
    let mut prompts = 0;
    for se in entries.iter().filter(|e| e.entry.event_type == event::PROMPT_SENT) {
        prompts += 1;
        sections.push(prompt_section(se, answers.get(se.entry.id.as_str()).copied()));
    }
    let decisions: Vec<(String, String)> =
        entries.iter().filter(|e| DECISIONS.contains(&e.entry.event_type.as_str())).map(decision_row).collect();
    let n_decisions = decisions.len() as u64;
    sections.push(Section {
        title: "Budget, auth and gate decisions".into(),
        rows: if decisions.is_empty() {
            vec![("none".into(), "no decision entries in the window".into())]
        } else {
            decisions
        },
    });
    let chain = chain_proofs(plane, &entries)?;
    let mut rows = Vec::new();
    for c in &chain {
        rows.push((format!("{} first", c.ledger), format!("seq {} hash {}", c.first.0, c.first.1)));
        rows.push((format!("{} last", c.ledger), format!("seq {} hash {}", c.last.0, c.last.1)));
        rows.push((format!("{} checkpoint", c.ledger), c.checkpoint.clone().unwrap_or_else(|| "none saved".into())));
        rows.push((format!("{} verify", c.ledger), c.verify.clone()));
    }
    if rows.is_empty() {
        rows.push(("none".into(), "no entries selected".into()));
    }
    sections.push(Section { title: "Chain proof".into(), rows });
    let mut head = vec![
        ("tenant".to_string(), sel.tenant.clone()),
        ("scope".into(), scope.clone()),
        ("entries".into(), entries.len().to_string()),
        ("prompts".into(), prompts.to_string()),
        ("decisions".into(), n_decisions.to_string()),
    ];
    head.push(("chain verified".into(), if chain.iter().all(|c| c.verified) { "yes" } else { "NO" }.into()));
    sections.insert(0, Section { title: "Traceability record".into(), rows: head });
    Ok(ComplianceReport { tenant: sel.tenant.clone(), scope, prompts, decisions: n_decisions, chain, sections })
}
