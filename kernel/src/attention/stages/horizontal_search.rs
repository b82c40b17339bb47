//! `horizontal_search`: BM25 over ledger entries (the request's tenant only), registry rows and
//! plane files of the selected tiers. The index is built once per (sources, tiers, ledger) and
//! cached by the service; it is rebuilt when a ledger head or a file's mtime/size changes
//! (checked at most every `attention_config.search.index_recheck_ms`). One search counts as one
//! query.

use serde::{Deserialize, Serialize};

use super::{Producer, StageCtx, StageRun};
use crate::attention::bm25::{Bm25Index, Bm25Params};
use crate::attention::context::FragmentSource;
use crate::attention::pipeline::{Env, tier_scope};
use crate::ledger::LedgerQuery;
use crate::plane::Tier;
use crate::registry::{RegistryKind, read_table};

/// What a search reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchSourceKind {
    /// Entries of `<TIER>/<ledger>` for the selected tiers.
    Ledger,
    /// Rows of every registry in `HOT/registries/`.
    Registry,
    /// Files under the selected tiers (minus `attention_config.search.exclude_dirs`).
    Files,
}

fn default_k1() -> f64 {
    1.2
}

fn default_b() -> f64 {
    0.75
}

/// Config of `horizontal_search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HorizontalSearchConfig {
    /// Query text; `{agent_id}`, `{agent_class}`, `{framework_id}`, `{work_order_id}`,
    /// `{session_id}` and `{tier}` are replaced from the request (absent values by nothing).
    pub query: String,
    /// Sources searched (required, non-empty).
    pub sources: Vec<SearchSourceKind>,
    /// Tiers searched; default: the tiers of the last `tier_select`, else the request's tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers: Option<Vec<Tier>>,
    /// Ledger name inside each tier; default `attention_config.default_ledger`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<String>,
    /// Maximum hits (count, ≥ 1; halting reruns multiply it by `relax.max_results_factor`).
    pub max_results: u64,
    /// Minimum normalised score 0–1 (halting reruns multiply it by
    /// `relax.relevance_threshold_factor`).
    pub relevance_threshold: f64,
    /// BM25 term-frequency saturation (default 1.2, the textbook value).
    #[serde(default = "default_k1")]
    pub k1: f64,
    /// BM25 length normalisation 0–1 (default 0.75, the textbook value).
    #[serde(default = "default_b")]
    pub b: f64,
}

impl HorizontalSearchConfig {
    /// Pure checks.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.sources.is_empty() {
            out.push(("/sources".into(), "must name at least one source".into()));
        }
        if self.max_results == 0 {
            out.push(("/max_results".into(), "must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&self.relevance_threshold) {
            out.push(("/relevance_threshold".into(), "must be between 0 and 1".into()));
        }
        if self.k1 < 0.0 {
            out.push(("/k1".into(), "must be at least 0".into()));
        }
        if !(0.0..=1.0).contains(&self.b) {
            out.push(("/b".into(), "must be between 0 and 1".into()));
        }
        if self.query.trim().is_empty() {
            out.push(("/query".into(), "must not be empty".into()));
        }
        out
    }

    fn expand_query(&self, ctx: &StageCtx<'_>) -> String {
        let r = ctx.request;
        self.query
            .replace("{agent_id}", &r.agent_id)
            .replace("{agent_class}", r.agent_class.as_str())
            .replace("{framework_id}", r.framework_id.as_deref().unwrap_or(""))
            .replace("{work_order_id}", r.work_order_id.as_deref().unwrap_or(""))
            .replace("{session_id}", r.session_id.as_deref().unwrap_or(""))
            .replace("{tier}", r.tier.as_str())
    }

    pub(crate) fn run(&self, ctx: &mut StageCtx<'_>) -> StageRun {
        let mut p = Producer::default();
        if let Err(limit) = ctx.budget.take_query() {
            p.hit = Some(limit);
            return p.finish();
        }
        let mut tiers = self.tiers.clone().unwrap_or_else(|| tier_scope(ctx));
        tiers.sort();
        tiers.dedup();
        let ledger = self.ledger.clone().unwrap_or_else(|| ctx.env.config.default_ledger.clone());
        let mut sources = self.sources.clone();
        sources.sort();
        sources.dedup();
        let corpus = match ctx.env.search_corpus(&sources, &tiers, &ledger) {
            Ok(c) => c,
            Err(e) => {
                p.errors += 1;
                ctx.warn(format_args!("search index: {e}"));
                return p.finish();
            }
        };
        // Building a cold index is not interruptible; a build that used up the time budget
        // ends the stage before searching.
        if let Err(limit) = ctx.check_time() {
            p.hit = Some(limit);
            p.notes.push("time budget spent building the search index".into());
            return p.finish();
        }
        let query = self.expand_query(ctx);
        let threshold = self.relevance_threshold * ctx.relax.threshold_factor;
        let max = ((self.max_results as f64) * ctx.relax.results_factor).ceil() as usize;
        let tenant = ctx.request.tenant_id.as_str();
        let hits = corpus.index.search(&query, Bm25Params { k1: self.k1, b: self.b }, max, threshold, |d| {
            let m = &corpus.docs[d];
            m.source != SearchSourceKind::Ledger || m.tenant.as_deref() == Some(tenant)
        });
        p.notes.push(format!("query {query:?}, threshold {threshold:.3}, max_results {max}"));
        for h in hits {
            if let Err(limit) = ctx.check_time() {
                p.hit = Some(limit);
                break;
            }
            let d = &corpus.docs[h.doc];
            let f = ctx.fragment(
                FragmentSource::Search,
                d.source_id.clone(),
                d.text.clone(),
                Some(h.score),
                d.timestamp.clone(),
            );
            if let Err(limit) = ctx.add(&mut p, f) {
                p.hit = Some(limit);
                break;
            }
        }
        p.finish()
    }
}

/// One indexed document.
#[derive(Debug, Clone)]
pub(crate) struct SearchDoc {
    pub(crate) source: SearchSourceKind,
    pub(crate) source_id: String,
    pub(crate) tenant: Option<String>,
    pub(crate) timestamp: Option<String>,
    pub(crate) text: String,
}

/// An index with its documents and the signature of the state it was built from.
#[derive(Debug)]
pub(crate) struct Corpus {
    pub(crate) index: Bm25Index,
    pub(crate) docs: Vec<SearchDoc>,
    pub(crate) signature: Vec<String>,
}

/// The state a corpus depends on: ledger heads, registry and file mtimes/sizes.
pub(crate) fn signature(
    env: &Env,
    sources: &[SearchSourceKind],
    tiers: &[Tier],
    ledger: &str,
) -> Result<Vec<String>, String> {
    let mut sig = Vec::new();
    for s in sources {
        match s {
            SearchSourceKind::Ledger => {
                for t in tiers {
                    let name = format!("{}/{ledger}", t.dir_name());
                    let head = match env.ledger(&name).map_err(|e| e.to_string())? {
                        Some(store) => {
                            store.head().map_err(|e| e.to_string())?.map(|h| format!("{}:{}", h.seq, h.entry_hash))
                        }
                        None => None,
                    };
                    sig.push(format!("ledger {name} {}", head.unwrap_or_default()));
                }
            }
            SearchSourceKind::Registry => {
                for k in RegistryKind::ALL {
                    let rel = registry_rel(env, k);
                    let path = env.plane.resolve(&rel).map_err(|e| e.to_string())?;
                    sig.push(format!("registry {rel} {}", stat(&path)));
                }
            }
            SearchSourceKind::Files => {
                for (rel, path) in files(env, tiers)? {
                    sig.push(format!("file {rel} {}", stat(&path)));
                }
            }
        }
    }
    Ok(sig)
}

fn registry_rel(env: &Env, k: RegistryKind) -> String {
    format!("{}/{}/{}", Tier::Hot.dir_name(), env.plane.layout().dir_name("registries"), k.file_name())
}

fn stat(path: &std::path::Path) -> String {
    match crate::fsx::metadata(path) {
        Ok(m) => {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            format!("{}:{mtime}", m.len())
        }
        Err(_) => "absent".into(),
    }
}

fn files(env: &Env, tiers: &[Tier]) -> Result<Vec<(String, std::path::PathBuf)>, String> {
    let mut out = Vec::new();
    for t in tiers {
        let base = env.plane.tier_dir(*t);
        let (list, _) = crate::fsx::walk_files(&base).map_err(|e| e.to_string())?;
        for rel in list {
            let first = rel.split('/').next().unwrap_or_default();
            if env.config.search.exclude_dirs.iter().any(|d| env.plane.layout().dir_name(d) == first) {
                continue;
            }
            let path = base.join(&rel);
            if crate::attention::pipeline::never_read(&env.plane, &path) {
                continue;
            }
            out.push((format!("{}/{rel}", t.dir_name()), path));
        }
    }
    Ok(out)
}

/// Builds the corpus of `sources` over `tiers`.
pub(crate) fn build_corpus(
    env: &Env,
    sources: &[SearchSourceKind],
    tiers: &[Tier],
    ledger: &str,
    signature: Vec<String>,
) -> Result<Corpus, String> {
    let mut index = Bm25Index::new(env.config.search.min_term_chars);
    let mut docs = Vec::new();
    let mut push = |d: SearchDoc| {
        index.add(&d.text);
        docs.push(d);
    };
    for s in sources {
        match s {
            SearchSourceKind::Ledger => {
                for t in tiers {
                    let name = format!("{}/{ledger}", t.dir_name());
                    let Some(store) = env.ledger(&name).map_err(|e| e.to_string())? else { continue };
                    for e in store.query(&LedgerQuery::default()).map_err(|e| e.to_string())? {
                        push(SearchDoc {
                            source: SearchSourceKind::Ledger,
                            source_id: format!("{name}#{}", e.seq),
                            tenant: e.tenant_id.clone(),
                            timestamp: Some(e.timestamp.clone()),
                            text: super::ledger_query::render_entry(&e),
                        });
                    }
                }
            }
            SearchSourceKind::Registry => {
                for k in RegistryKind::ALL {
                    let rel = registry_rel(env, k);
                    let path = env.plane.resolve(&rel).map_err(|e| e.to_string())?;
                    let table = read_table(&path).map_err(|e| e.to_string())?;
                    let key_col = k.columns().first().copied().unwrap_or_default();
                    let name = k.file_name().trim_end_matches(".csv").trim_end_matches("_registry");
                    for (i, row) in table.filter(&Default::default()).into_iter().enumerate() {
                        let key = row.get(key_col).cloned().unwrap_or_else(|| i.to_string());
                        push(SearchDoc {
                            source: SearchSourceKind::Registry,
                            source_id: format!("{name}:{key}"),
                            tenant: None,
                            timestamp: None,
                            text: super::registry_query::render_row(&row),
                        });
                    }
                }
            }
            SearchSourceKind::Files => {
                for (rel, path) in files(env, tiers)? {
                    // Bounded: a FIFO, a device or a file over the limit is skipped unread.
                    let Ok(bytes) = crate::fsx::read_bounded(&path, env.config.search.max_file_bytes) else { continue };
                    let Ok(text) = String::from_utf8(bytes) else { continue };
                    push(SearchDoc {
                        source: SearchSourceKind::Files,
                        source_id: rel,
                        tenant: None,
                        timestamp: None,
                        text,
                    });
                }
            }
        }
    }
    Ok(Corpus { index, docs, signature })
}
