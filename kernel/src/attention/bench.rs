//! Benchmark support shared by `kernel/benches/attention.rs` (criterion) and
//! `cpctl bench attention`: builds a plane with a large ledger and many files, and measures
//! assembly latency of a targeted template and of a `horizontal_search` template.
//!
//! The big ledgers are handed to the service with
//! [`AttentionServiceBuilder::ledger_store`](super::AttentionServiceBuilder::ledger_store): by
//! default in-memory [`MemoryStore`]s, so the numbers measure the attention service, not a
//! storage backend; [`run_with`] can put the prompts ledger in a real [`SqliteStore`] instead
//! (the search corpus stays in memory). Never used by the kernel itself.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::{AgentClass, AttentionConfig, AttentionError, AttentionRequest, AttentionService};
use crate::ledger::{LedgerError, LedgerStore, MemoryStore, NewEntry, Provenance, SqliteStore};
use crate::plane::{Durability, Plane, PlaneConfig, PlaneError, Tier};

/// Errors building or running the benchmark.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// Plane error.
    #[error(transparent)]
    Plane(#[from] PlaneError),
    /// Filesystem error.
    #[error(transparent)]
    Io(#[from] crate::fsx::FsError),
    /// Ledger error.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Attention error.
    #[error(transparent)]
    Attention(#[from] AttentionError),
    /// Schema error.
    #[error(transparent)]
    Schema(#[from] crate::schema::SchemaError),
    /// Config error.
    #[error(transparent)]
    Document(#[from] crate::schema::DocumentError),
}

/// Sizes of the benchmark plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BenchSizes {
    /// Entries of the ledger read by the targeted template (`HO1/prompts`).
    pub ledger_entries: u64,
    /// Files under `HO2/docs/` (read by `file_read`, indexed by the search).
    pub files: u64,
    /// Documents of the search corpus: the files plus `search_docs - files` ledger entries
    /// (`HO1/corpus`).
    pub search_docs: u64,
    /// Sessions the ledger entries are spread over.
    pub sessions: u64,
}

/// Latency distribution of one measured operation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyStats {
    /// Measured iterations.
    pub iterations: usize,
    /// Median, microseconds.
    pub p50_us: f64,
    /// 99th percentile, microseconds.
    pub p99_us: f64,
    /// Mean, microseconds.
    pub mean_us: f64,
}

impl LatencyStats {
    /// Statistics of `samples`.
    pub fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        let n = samples.len();
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        if n == 0 {
            return Self { iterations: 0, p50_us: 0.0, p99_us: 0.0, mean_us: 0.0 };
        }
        let p = |q: usize| us(samples[(n * q / 100).min(n - 1)]);
        let mean = samples.iter().map(|d| us(*d)).sum::<f64>() / n as f64;
        Self { iterations: n, p50_us: p(50), p99_us: p(99), mean_us: mean }
    }
}

/// Results of one benchmark run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    /// Sizes used.
    pub sizes: BenchSizes,
    /// Time to build the plane, ledgers and files, milliseconds.
    pub setup_ms: f64,
    /// Targeted template (tier_select, two ledger_query, registry_query, file_read,
    /// structuring, halting), context cache off.
    pub assemble_targeted: LatencyStats,
    /// First search assembly (index build over `search_docs` documents), milliseconds.
    pub search_index_build_ms: f64,
    /// Search template (horizontal_search + structuring + halting) with a warm index.
    pub assemble_search: LatencyStats,
    /// Fragments of the last targeted / search context (sanity: both non-zero).
    pub fragments: (usize, usize),
    /// What the numbers mean.
    pub notes: Vec<String>,
}

const TARGETED: &str = r#"template_id: ATT-BENCH-TARGETED
version: "1.0.0"
applies_to: {agent_class: [KERNEL.syntactic]}
pipeline:
  - {stage: scope, type: tier_select, config: {tiers: [ho1], strategy: highest_first}}
  - {stage: answers, type: ledger_query, config: {event_type: PROMPT_RECEIVED, max_entries: 5, recency: session}}
  - {stage: sent, type: ledger_query, config: {event_type: PROMPT_SENT, max_entries: 3, recency: "last:3"}}
  - {stage: framework, type: registry_query, config: {registry: frameworks, filters: {framework_id: FMWK-003}}}
  - {stage: docs, type: file_read, config: {paths: [HO2/docs/d000/f00000.md, HO2/docs/d001/f00001.md], max_size_bytes: 4096}}
  - {stage: organise, type: structuring, config: {strategy: hierarchical, max_tokens: 4000}}
  - {stage: enough, type: halting, config: {min_fragments: 1, min_tokens: 1, satisfaction_threshold: 1.0}}
budget: {max_context_tokens: 8000, max_queries: 16, timeout_ms: 60000}
fallback: {on_timeout: return_partial, on_empty: proceed_empty}
"#;

const SEARCH: &str = r#"template_id: ATT-BENCH-SEARCH
version: "1.0.0"
applies_to: {agent_class: [KERNEL.semantic]}
pipeline:
  - {stage: find, type: horizontal_search, config: {query: "QUERY", sources: [ledger, files], tiers: [ho1, ho2], ledger: corpus, max_results: 10, relevance_threshold: 0.0}}
  - {stage: organise, type: structuring, config: {strategy: relevance, max_tokens: 4000}}
  - {stage: enough, type: halting, config: {min_fragments: 1, min_tokens: 1, satisfaction_threshold: 1.0}}
budget: {max_context_tokens: 8000, max_queries: 16, timeout_ms: 600000}
fallback: {on_timeout: return_partial, on_empty: proceed_empty}
"#;

/// A deterministic word generator (xorshift) over a fixed vocabulary.
struct Words(u64);

impl Words {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn text(&mut self, n: usize) -> String {
        (0..n).map(|_| format!("w{}", self.next() % 5000)).collect::<Vec<_>>().join(" ")
    }
}

/// The benchmark plane and its in-memory ledgers.
pub struct BenchFixture {
    /// The plane.
    pub plane: Plane,
    prompts: Arc<dyn LedgerStore>,
    corpus: Arc<MemoryStore>,
    sizes: BenchSizes,
}

impl std::fmt::Debug for BenchFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BenchFixture").field("root", &self.plane.root()).field("sizes", &self.sizes).finish()
    }
}

fn batch_append(store: &dyn LedgerStore, total: u64, mut make: impl FnMut(u64) -> NewEntry) -> Result<(), LedgerError> {
    const BATCH: u64 = 50_000;
    let mut i = 0;
    while i < total {
        let end = (i + BATCH).min(total);
        store.append_batch((i..end).map(&mut make).collect())?;
        i = end;
    }
    Ok(())
}

impl BenchFixture {
    /// Builds the plane under `root` (created) with `sizes`.
    pub fn create(root: &Path, sizes: BenchSizes) -> Result<Self, BenchError> {
        Self::create_with(root, sizes, false)
    }

    /// Builds the plane under `root` (created) with `sizes`; with `sqlite_prompts` the prompts
    /// ledger is a [`SqliteStore`] at `<root>/bench-prompts.db` (durability `normal`, which only
    /// affects how fast the fixture is built) instead of a [`MemoryStore`].
    pub fn create_with(root: &Path, sizes: BenchSizes, sqlite_prompts: bool) -> Result<Self, BenchError> {
        let plane = Plane::init(root, PlaneConfig::default())?;
        let w = |rel: &str, text: &str| -> Result<(), BenchError> {
            let p = plane.resolve(rel)?;
            if let Some(d) = p.parent() {
                crate::fsx::create_dir_all(d)?;
            }
            crate::fsx::write(&p, text)?;
            Ok(())
        };
        w("HOT/attention_templates/ATT-BENCH-TARGETED.yaml", TARGETED)?;
        w("HOT/attention_templates/ATT-BENCH-SEARCH.yaml", &SEARCH.replace("QUERY", "w17 w42 w4242"))?;
        let mut csv = String::from("framework_id,title,status,version,plane_id,created_at\n");
        for i in 0..100 {
            csv.push_str(&format!("FMWK-{i:03},Framework {i},active,1.0.0,hot,2026-01-01T00:00:00Z\n"));
        }
        w("HOT/registries/frameworks_registry.csv", &csv)?;
        let mut words = Words(0x9E37_79B9_7F4A_7C15);
        for i in 0..sizes.files {
            w(&format!("HO2/docs/d{:03}/f{i:05}.md", i % 100), &words.text(40))?;
        }
        let sessions = sizes.sessions.max(1);
        let prompts: Arc<dyn LedgerStore> = if sqlite_prompts {
            let path = plane.root().join("bench-prompts.db");
            Arc::new(SqliteStore::open(&path, "HO1/prompts", Durability::Normal, Duration::from_secs(5))?)
        } else {
            Arc::new(MemoryStore::new("HO1/prompts"))
        };
        batch_append(&*prompts, sizes.ledger_entries, |i| {
            let ev = if i % 2 == 0 { crate::ledger::event::PROMPT_SENT } else { crate::ledger::event::PROMPT_RECEIVED };
            NewEntry::new(ev).reason(format!("exchange {i}")).provenance(Provenance {
                tenant_id: Some("tenant-bench".into()),
                session_id: Some(format!("S-{}", (i / 2) % sessions)),
                work_order_id: Some(format!("WO-{}", (i / 2) % sessions)),
                ..Provenance::default()
            })
        })?;
        let corpus = Arc::new(MemoryStore::new("HO1/corpus"));
        let mut words = Words(0x2545_F491_4F6C_DD1D);
        batch_append(&*corpus, sizes.search_docs.saturating_sub(sizes.files), |_| {
            NewEntry::new("NOTE")
                .reason(words.text(20))
                .provenance(Provenance { tenant_id: Some("tenant-bench".into()), ..Provenance::default() })
        })?;
        Ok(Self { plane, prompts, corpus, sizes })
    }

    /// A service over the fixture with the context cache off (every call runs the pipeline)
    /// and the search index re-checked at most once a minute.
    pub fn service(&self) -> Result<AttentionService, BenchError> {
        let schemas = crate::schema::SchemaSet::for_plane(&self.plane)?;
        let mut cfg = AttentionConfig::shipped(&schemas)?;
        cfg.cache.max_entries = 0;
        cfg.search.index_recheck_ms = 60_000;
        Ok(AttentionService::builder(&self.plane)
            .config(cfg)
            .ledger_store("HO1/prompts", self.prompts.clone())
            .ledger_store("HO1/corpus", self.corpus.clone())
            .build()?)
    }

    /// The request of iteration `i` for the targeted (`semantic = false`) or search template.
    pub fn request(&self, i: u64, semantic: bool) -> AttentionRequest {
        let s = i % self.sizes.sessions.max(1);
        AttentionRequest {
            agent_id: "bench-agent".into(),
            agent_class: if semantic { AgentClass::KernelSemantic } else { AgentClass::KernelSyntactic },
            framework_id: None,
            tier: Tier::Ho1,
            work_order_id: Some(format!("WO-{s}")),
            session_id: Some(format!("S-{s}")),
            tenant_id: "tenant-bench".into(),
            prompt_contract: None,
            prompt_contract_path: None,
            template_override: None,
        }
    }
}

/// Builds the fixture under `root` and measures `iterations` assemblies of each template.
pub fn run(root: &Path, sizes: BenchSizes, iterations: usize) -> Result<BenchReport, BenchError> {
    run_with(root, sizes, iterations, false)
}

/// [`run`], with the prompts ledger in a [`SqliteStore`] when `sqlite_prompts`.
pub fn run_with(
    root: &Path,
    sizes: BenchSizes,
    iterations: usize,
    sqlite_prompts: bool,
) -> Result<BenchReport, BenchError> {
    let t0 = Instant::now();
    let fx = BenchFixture::create_with(root, sizes, sqlite_prompts)?;
    let setup_ms = t0.elapsed().as_secs_f64() * 1e3;
    let svc = fx.service()?;
    let mut samples = Vec::with_capacity(iterations);
    let mut last = (0, 0);
    for i in 0..iterations as u64 {
        let r = fx.request(i, false);
        let t = Instant::now();
        let c = svc.assemble(&r)?;
        samples.push(t.elapsed());
        last.0 = c.fragments.len();
    }
    let assemble_targeted = LatencyStats::of(samples);
    let t = Instant::now();
    let c = svc.assemble(&fx.request(0, true))?;
    let search_index_build_ms = t.elapsed().as_secs_f64() * 1e3;
    last.1 = c.fragments.len();
    let mut samples = Vec::with_capacity(iterations);
    for i in 0..iterations as u64 {
        let r = fx.request(i, true);
        let t = Instant::now();
        svc.assemble(&r)?;
        samples.push(t.elapsed());
    }
    Ok(BenchReport {
        sizes,
        setup_ms,
        assemble_targeted,
        search_index_build_ms,
        assemble_search: LatencyStats::of(samples),
        fragments: last,
        notes: vec![
            if sqlite_prompts {
                "prompts ledger in a SqliteStore (durability normal); search corpus in memory".into()
            } else {
                "ledgers are in-memory MemoryStores (the attention service is measured, not a backend)".into()
            },
            "context cache off; search index warm after the first search assembly".into(),
        ],
    })
}
