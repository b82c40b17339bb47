//! Deterministic replay: each recorded prompt's context re-assembled against the plane as it
//! was — every ledger read bounded at the head recorded in `PROMPT_SENT.replay` — and its
//! `context_hash` compared with the recorded one. A difference is explained cause by cause:
//! a file whose content changed (old and new hash, the package version that shipped each), a
//! registry row or other read that changed, appeared or disappeared, a template that changed,
//! and — which should be impossible — a ledger entry below a recorded head that differs now.
//!
//! Owns: the replay record ([`ReplayRecord`], written by [`assemble_recorded`] and logged by the
//! router), the bounded ledger view ([`BoundedStore`]) and the drift report.
//! Never does: write a ledger (replay is read-only) or call a provider.

mod bounded;
mod record;
mod rerun;

pub use bounded::BoundedStore;
pub use record::{RecordedContract, RecordedHead, RecordedRead, ReplayRecord, assemble_recorded, capture_heads};
pub use rerun::ResponseCheck;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use crate::attention::AttentionError;
use crate::ledger::{LedgerEntry, LedgerError, LedgerQuery, LedgerSet, Provenance, event};
use crate::plane::Plane;
use crate::providers::Provider;

/// Errors of replay.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// A ledger could not be read.
    #[error("replay ledger error")]
    Ledger(
        #[from]
        #[source]
        LedgerError,
    ),
    /// The attention service could not be built.
    #[error("replay attention error")]
    Attention(
        #[from]
        #[source]
        AttentionError,
    ),
}

/// Which prompts to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplaySelector {
    /// Every prompt of a session.
    Session(String),
    /// One request.
    Request(String),
}

/// One cause of drift.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DriftCause {
    /// A file read has other content now.
    FileChanged {
        /// Plane-relative path.
        path: String,
        /// Hash recorded.
        old_sha256: String,
        /// Hash now.
        new_sha256: String,
        /// Package that shipped the recorded content, and its version.
        old_package: Option<String>,
        /// Package that ships the content now, and its version.
        new_package: Option<String>,
    },
    /// A registry row, ledger entry, search hit or custom fragment read has other content now.
    ReadChanged {
        /// Source kind.
        source: String,
        /// What was read.
        source_id: String,
        /// Hash recorded.
        old_sha256: String,
        /// Hash now.
        new_sha256: String,
    },
    /// Something read then is not read now (deleted, or no longer selected).
    ReadMissing {
        /// Source kind.
        source: String,
        /// What was read.
        source_id: String,
    },
    /// Something is read now that was not then.
    ReadAdded {
        /// Source kind.
        source: String,
        /// What is read.
        source_id: String,
    },
    /// Another template (or version of it) is used now.
    TemplateChanged {
        /// Recorded `id@version`.
        old: String,
        /// Now.
        new: String,
    },
    /// An entry at or below a recorded head differs now: the ledger was rewritten. This should
    /// be impossible on a hash-chained ledger; it is reported first and loudly.
    LedgerDiverged {
        /// Ledger.
        ledger: String,
        /// Recorded head seq.
        seq: u64,
        /// Recorded entry hash.
        recorded: String,
        /// Entry hash now (`None`: the entry is gone).
        now: Option<String>,
    },
    /// Re-run with a deterministic provider, the prompt or the response differs.
    ResponseChanged {
        /// Provider.
        provider: String,
        /// Whether the rendered prompt differs (else only the response).
        prompt_differs: bool,
    },
    /// The assembly failed now.
    AssemblyFailed {
        /// The error.
        message: String,
    },
    /// The hashes differ and no recorded read explains it.
    Unexplained,
}

/// Outcome of one prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayStatus {
    /// Same `context_hash`.
    Identical,
    /// Different, with causes.
    Drift,
    /// The prompt carries no replay record (its context was given inline, not assembled).
    NotReplayable,
}

/// One prompt replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromptReplay {
    /// `PROMPT_SENT` seq.
    pub seq: u64,
    /// Request id.
    pub request_id: String,
    /// Outcome.
    pub status: ReplayStatus,
    /// Recorded `context_hash`.
    pub recorded_context_hash: String,
    /// `context_hash` now (`None` when not replayed).
    pub replayed_context_hash: Option<String>,
    /// Why it differs.
    pub causes: Vec<DriftCause>,
    /// The call re-run with a deterministic provider (when possible).
    pub response: Option<ResponseCheck>,
}

/// What `cpctl replay` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    /// Tenant.
    pub tenant: String,
    /// Prompts, in ledger order.
    pub prompts: Vec<PromptReplay>,
    /// Identical count.
    pub identical: usize,
    /// Drift count.
    pub drifted: usize,
    /// Not replayable count.
    pub not_replayable: usize,
}

impl ReplayReport {
    /// Whether everything replayable reproduced.
    pub fn reproduces(&self) -> bool {
        self.drifted == 0
    }
}

/// The `PROMPT_SENT` entries of `tenant` in `ledger` that `sel` names.
fn selected(plane: &Plane, ledger: &str, tenant: &str, sel: &ReplaySelector) -> Result<Vec<LedgerEntry>, ReplayError> {
    let mut p = Provenance { tenant_id: Some(tenant.to_string()), ..Provenance::default() };
    if let ReplaySelector::Session(s) = sel {
        p.session_id = Some(s.clone());
    }
    let q = LedgerQuery { event_types: vec![event::PROMPT_SENT.into()], provenance: p, ..LedgerQuery::default() };
    let store = LedgerSet::new(plane).open_existing(ledger)?;
    Ok(store
        .query(&q)?
        .into_iter()
        .filter(|e| match sel {
            ReplaySelector::Request(r) => e.metadata.get("request_id").and_then(|v| v.as_str()) == Some(r.as_str()),
            ReplaySelector::Session(_) => true,
        })
        .collect())
}

/// Deterministic providers a replay may call again (by provider name: the mocks).
pub type Rerunnable = BTreeMap<String, Arc<dyn Provider>>;

/// Replays the prompts of `tenant` in the router ledger `ledger` that `sel` names; calls answered
/// by a provider in `rerun` are re-run and their response hash compared.
pub fn replay(
    plane: &Plane,
    ledger: &str,
    tenant: &str,
    sel: &ReplaySelector,
    rerun: &Rerunnable,
) -> Result<ReplayReport, ReplayError> {
    let store = LedgerSet::new(plane).open_existing(ledger)?;
    let answers = store.query(&LedgerQuery {
        event_types: vec![event::PROMPT_RECEIVED.into()],
        provenance: Provenance { tenant_id: Some(tenant.to_string()), ..Provenance::default() },
        ..LedgerQuery::default()
    })?;
    let answer_of =
        |sent: &LedgerEntry| answers.iter().find(|r| r.parent_event_id.as_deref() == Some(sent.id.as_str()));
    let prompts: Vec<PromptReplay> = selected(plane, ledger, tenant, sel)?
        .iter()
        .map(|e| replay_one(plane, e, answer_of(e), rerun))
        .collect::<Result<_, _>>()?;
    let count = |s: ReplayStatus| prompts.iter().filter(|p| p.status == s).count();
    Ok(ReplayReport {
        tenant: tenant.to_string(),
        identical: count(ReplayStatus::Identical),
        drifted: count(ReplayStatus::Drift),
        not_replayable: count(ReplayStatus::NotReplayable),
        prompts,
    })
}

fn replay_one(
    plane: &Plane,
    sent: &LedgerEntry,
    received: Option<&LedgerEntry>,
    providers: &Rerunnable,
) -> Result<PromptReplay, ReplayError> {
    let s = |k: &str| sent.metadata.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let mut out = PromptReplay {
        seq: sent.seq,
        request_id: s("request_id"),
        status: ReplayStatus::NotReplayable,
        recorded_context_hash: s("context_hash"),
        replayed_context_hash: None,
        causes: Vec::new(),
        response: None,
    };
    let Some(rec) = sent.metadata.get("replay").and_then(|v| serde_json::from_value::<ReplayRecord>(v.clone()).ok())
    else {
        return Ok(out);
    };
    out.causes = diverged_ledgers(plane, &rec.ledger_heads)?;
    let ctx = record::bounded_service(plane, &rec.ledger_heads)?.assemble(&rec.attention_request);
    match ctx {
        Err(e) => out.causes.push(DriftCause::AssemblyFailed { message: e.to_string() }),
        Ok(ctx) => {
            out.replayed_context_hash = Some(ctx.context_hash.clone());
            if ctx.context_hash != rec.context_hash {
                out.causes.extend(explain(&rec, &ctx, &record::reads_of(plane, &ctx)));
            } else {
                // Only a reproduced context is worth a call: a drifted one is already explained.
                out.response = rerun::rerun(&rec, &ctx.context_text, sent, received, providers);
            }
            if let Some(r) = out.response.as_ref().filter(|r| !r.reproduces()) {
                out.causes.push(DriftCause::ResponseChanged {
                    provider: r.provider.clone(),
                    prompt_differs: r.recorded_prompt_hash != r.replayed_prompt_hash,
                });
            }
        }
    }
    out.status = if out.causes.is_empty() { ReplayStatus::Identical } else { ReplayStatus::Drift };
    Ok(out)
}

/// Recorded heads whose entry differs now.
fn diverged_ledgers(plane: &Plane, heads: &BTreeMap<String, RecordedHead>) -> Result<Vec<DriftCause>, ReplayError> {
    let set = LedgerSet::new(plane);
    let mut out = Vec::new();
    for (name, h) in heads {
        let (Some(seq), Some(recorded)) = (h.seq, h.entry_hash.as_ref()) else { continue };
        let now = match set.open_existing(name) {
            Ok(store) => store.get(seq)?.map(|e| e.entry_hash),
            Err(LedgerError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        if now.as_ref() != Some(recorded) {
            tracing::error!(ledger = %name, seq, "ledger entry differs from the one recorded at assembly: the ledger was rewritten");
            out.push(DriftCause::LedgerDiverged { ledger: name.clone(), seq, recorded: recorded.clone(), now });
        }
    }
    Ok(out)
}

fn package_of(r: &RecordedRead) -> Option<String> {
    r.package_id.as_ref().map(|p| format!("{p}@{}", r.package_version.as_deref().unwrap_or("?")))
}

/// The causes of a different `context_hash`: template, then each read that changed, went or came.
fn explain(rec: &ReplayRecord, ctx: &crate::attention::AssembledContext, now: &[RecordedRead]) -> Vec<DriftCause> {
    let mut out = Vec::new();
    let (old, new) = (
        format!("{}@{}", rec.template_id, rec.template_version),
        format!("{}@{}", ctx.template_id, ctx.template_version),
    );
    if old != new {
        out.push(DriftCause::TemplateChanged { old, new });
    }
    let key = |r: &RecordedRead| (r.source.clone(), r.source_id.clone());
    let now_by: BTreeMap<_, _> = now.iter().map(|r| (key(r), r)).collect();
    let then_by: BTreeMap<_, _> = rec.reads.iter().map(|r| (key(r), r)).collect();
    for (k, then) in &then_by {
        match now_by.get(k) {
            None => out.push(DriftCause::ReadMissing { source: k.0.clone(), source_id: k.1.clone() }),
            Some(n) if n.sha256 != then.sha256 && then.source == "file" => out.push(DriftCause::FileChanged {
                path: then.source_id.clone(),
                old_sha256: then.sha256.clone(),
                new_sha256: n.sha256.clone(),
                old_package: package_of(then),
                new_package: package_of(n),
            }),
            Some(n) if n.sha256 != then.sha256 => out.push(DriftCause::ReadChanged {
                source: k.0.clone(),
                source_id: k.1.clone(),
                old_sha256: then.sha256.clone(),
                new_sha256: n.sha256.clone(),
            }),
            Some(_) => {}
        }
    }
    for k in now_by.keys().filter(|k| !then_by.contains_key(*k)) {
        out.push(DriftCause::ReadAdded { source: k.0.clone(), source_id: k.1.clone() });
    }
    if out.is_empty() {
        out.push(DriftCause::Unexplained);
    }
    out
}
