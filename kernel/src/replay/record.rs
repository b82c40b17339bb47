//! What `PROMPT_SENT.replay` records: the attention request, the template and contract used,
//! the head of every ledger the pipeline could read (its reads were bounded there), and every
//! file, registry row and ledger entry it read with the content hash (and, for files, the
//! package and version that shipped them).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ReplayError;
use super::bounded::BoundedStore;
use crate::attention::{AssembledContext, AttentionRequest, AttentionService, FragmentSource};
use crate::ledger::{LedgerSet, LedgerStore};
use crate::plane::Plane;

/// The head of one ledger when the prompt was assembled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedHead {
    /// `seq` of the last entry (`None`: empty).
    pub seq: Option<u64>,
    /// Its `entry_hash`.
    pub entry_hash: Option<String>,
}

/// One read of the pipeline (a retrieval candidate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedRead {
    /// `file`, `registry`, `ledger`, `search` or `custom`.
    pub source: String,
    /// The file path, registry row or ledger entry.
    pub source_id: String,
    /// SHA-256 of the content read.
    pub sha256: String,
    /// For a file: the package that shipped it, when one owns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_id: Option<String>,
    /// For a file: that package's installed version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_version: Option<String>,
}

/// The prompt contract used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedContract {
    /// Id.
    pub id: String,
    /// Version.
    pub version: String,
    /// Content hash ([`crate::PromptContract::hash`]).
    pub hash: String,
}

/// `PROMPT_SENT.metadata.replay`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayRecord {
    /// The attention request (agent, class, framework, tier, work order, session, tenant, contract).
    pub attention_request: AttentionRequest,
    /// Template id.
    pub template_id: String,
    /// Template version.
    pub template_version: String,
    /// The contract, when the request named one.
    pub contract: Option<RecordedContract>,
    /// Head of every ledger of the plane when assembled (reads were bounded there).
    pub ledger_heads: BTreeMap<String, RecordedHead>,
    /// Every candidate the pipeline read.
    pub reads: Vec<RecordedRead>,
    /// `context_hash` of the assembly.
    pub context_hash: String,
    /// The request's input, added by the router only under `log_content: full` (it lets replay
    /// re-run the call with the mock provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
}

/// The plane's ledgers, each bounded at `heads` (a ledger without a recorded head: empty).
pub(crate) fn bounded_ledgers(
    plane: &Plane,
    heads: &BTreeMap<String, RecordedHead>,
) -> Result<BTreeMap<String, Arc<dyn LedgerStore>>, ReplayError> {
    let set = LedgerSet::new(plane);
    let mut out: BTreeMap<String, Arc<dyn LedgerStore>> = BTreeMap::new();
    for name in set.list()? {
        let name = name.to_string();
        let inner = set.open_existing(&name)?;
        let last = heads.get(&name).and_then(|h| h.seq);
        out.insert(name, Arc::new(BoundedStore::new(inner, last)));
    }
    Ok(out)
}

/// The head of every ledger of the plane now.
pub fn capture_heads(plane: &Plane) -> Result<BTreeMap<String, RecordedHead>, ReplayError> {
    let set = LedgerSet::new(plane);
    let mut out = BTreeMap::new();
    for name in set.list()? {
        let head = set.open_existing(&name.to_string())?.head()?;
        out.insert(
            name.to_string(),
            RecordedHead { seq: head.as_ref().map(|h| h.seq), entry_hash: head.map(|h| h.entry_hash) },
        );
    }
    Ok(out)
}

/// An attention service whose ledger reads end at `heads`.
pub(crate) fn bounded_service(
    plane: &Plane,
    heads: &BTreeMap<String, RecordedHead>,
) -> Result<AttentionService, ReplayError> {
    let mut b = AttentionService::builder(plane);
    for (name, store) in bounded_ledgers(plane, heads)? {
        b = b.ledger_store(name, store);
    }
    Ok(b.build()?)
}

/// The reads of `ctx`, files attributed to the package (and version) that owns them.
pub(crate) fn reads_of(plane: &Plane, ctx: &AssembledContext) -> Vec<RecordedRead> {
    let owners = crate::package::receipt::current_owners(plane).unwrap_or_default();
    let receipts = crate::package::receipt::load_receipts(plane).unwrap_or_default();
    ctx.retrieval
        .iter()
        .map(|c| {
            let owner = (c.source == FragmentSource::File).then(|| owners.get(&c.source_id)).flatten();
            RecordedRead {
                source: c.source.as_str().to_string(),
                source_id: c.source_id.clone(),
                sha256: c.content_sha256.clone(),
                package_id: owner.map(|o| o.package_id.clone()),
                package_version: owner.and_then(|o| receipts.get(&o.package_id)).map(|r| r.version.clone()),
            }
        })
        .collect()
}

/// Assembles `req` with every ledger read bounded at the heads of this instant, and what
/// `PROMPT_SENT` records for a later replay.
pub fn assemble_recorded(
    plane: &Plane,
    req: &AttentionRequest,
) -> Result<(AssembledContext, ReplayRecord), ReplayError> {
    let heads = capture_heads(plane)?;
    let ctx = bounded_service(plane, &heads)?.assemble(req)?;
    let contract = req.prompt_contract.as_ref().map(|c| RecordedContract {
        id: c.contract_id.clone(),
        version: c.version.clone(),
        hash: c.hash(),
    });
    let record = ReplayRecord {
        attention_request: req.clone(),
        template_id: ctx.template_id.clone(),
        template_version: ctx.template_version.clone(),
        contract,
        ledger_heads: heads,
        reads: reads_of(plane, &ctx),
        context_hash: ctx.context_hash.clone(),
        input: None,
    };
    Ok((ctx, record))
}

impl ReplayRecord {
    /// As recorded in `PROMPT_SENT`.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}
