//! Route benchmarks shared by `cpctl bench route` and `kernel/benches/route.rs`: per-prompt
//! kernel overhead on a zero-latency mock (durability `full` and `normal`) next to raw SQLite
//! commits measured in the same run, routed prompts/s with N threads, and reserve+settle pairs/s.
//!
//! Never does: print (the caller renders the report). Works in a throw-away plane under the
//! system temp directory, removed on drop.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};

use super::{
    PromptRequest, PromptRouter, RoutedContext, RouterError, RouterOptions, SHIPPED_BUDGET_CONFIG, SHIPPED_PRICE_BOOK,
    SHIPPED_ROUTER_CONFIG,
};
use crate::auth::AuthSecret;
use crate::budget::{ReserveRequest, ScopeKey};
use crate::contract::{Boundary, PromptContract, RequiredContext};
use crate::fsx;
use crate::ledger::{LedgerError, LedgerStore, MemoryStore, NewEntry, Provenance, event};
use crate::plane::{Durability, Plane, PlaneConfig};
use crate::schema::parse_document;

/// A throw-away plane with the shipped router configs (rate limits off, allocations unlimited)
/// and a router on a zero-latency mock.
pub struct BenchSetup {
    dir: PathBuf,
    /// The router.
    pub router: PromptRouter,
    token: String,
}

impl std::fmt::Debug for BenchSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BenchSetup").field("dir", &self.dir).finish()
    }
}

impl Drop for BenchSetup {
    fn drop(&mut self) {
        let _ = fsx::remove_dir_all(&self.dir);
    }
}

fn doc(name: &str, text: &str) -> Result<Value, RouterError> {
    Ok(parse_document(Path::new(name), text)?)
}

fn write_json(path: &Path, v: &Value) -> Result<(), RouterError> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|e| LedgerError::InvalidEntry(e.to_string()))?;
    fsx::write(path, bytes).map_err(LedgerError::from)?;
    Ok(())
}

impl BenchSetup {
    /// A plane under the temp directory with `durability`.
    pub fn new(durability: Durability) -> Result<Self, RouterError> {
        Self::with_store(durability, None)
    }

    /// Like [`BenchSetup::new`], the router writing to `store` instead (e.g. an in-memory store to
    /// measure the router without storage).
    pub fn with_store(durability: Durability, store: Option<Arc<dyn LedgerStore>>) -> Result<Self, RouterError> {
        let dir = std::env::temp_dir().join(format!("cp-bench-route-{}", uuid::Uuid::now_v7()));
        let cfg = PlaneConfig { durability: Some(durability), ..PlaneConfig::default() };
        let plane = Plane::init(&dir, cfg)?;
        let conf = plane.root().join("HOT/config");
        fsx::create_dir_all(&conf).map_err(LedgerError::from)?;
        let router_cfg = doc("router_config.yaml", SHIPPED_ROUTER_CONFIG)?;
        let mut budget = doc("budget_config.yaml", SHIPPED_BUDGET_CONFIG)?;
        budget["rate_limits"] = json!([]);
        for k in ["tenant", "session", "work_order", "agent"] {
            budget["defaults"][k] = json!({"max_tokens": null, "max_cost_micros": null, "warn_threshold_pct": 100});
        }
        write_json(&conf.join("router_config.yaml"), &router_cfg)?;
        write_json(&conf.join("budget_config.yaml"), &budget)?;
        write_json(&conf.join("price_book.yaml"), &doc("price_book.yaml", SHIPPED_PRICE_BOOK)?)?;
        let secret = AuthSecret::from_bytes(uuid::Uuid::now_v7().as_bytes().repeat(2), 32, "bench")?;
        let mut opts = RouterOptions::new().auth_secret(secret);
        if let Some(st) = store {
            opts = opts.ledger_store(st);
        }
        let router = PromptRouter::open(&plane, opts)?;
        let (token, _) = router.issue_token("bench", &["agent".to_string()], "bench", None)?;
        Ok(Self { dir, router, token })
    }

    /// A request for the bench tenant, session `s{n}`.
    pub fn request(&self, n: usize) -> PromptRequest {
        PromptRequest {
            context: RoutedContext::from_text("The plane holds twelve packages and four frameworks."),
            contract: PromptContract {
                contract_id: "PRC-BENCH-001".into(),
                version: "1.0.0".into(),
                description: String::new(),
                prompt_template: "{{context}}\nQ: {{input.question}}".into(),
                prompt_pack_id: None,
                input_schema: json!({"type": "object", "required": ["question"], "properties": {"question": {"type": "string"}}}),
                output_schema: Some(json!({"type": "object", "required": ["answer"]})),
                boundary: Boundary { max_tokens: 64, temperature: 0.0, model: None },
                required_context: RequiredContext::default(),
            },
            input: json!({"question": "how many packages?"}),
            provenance: Provenance {
                tenant_id: Some("bench".into()),
                session_id: Some(format!("s{}", n % 8)),
                agent_id: Some("agent".into()),
                ..Provenance::default()
            },
            auth_token: self.token.clone(),
        }
    }
}

/// Raw SQLite commits (one INSERT per transaction, WAL) — the same-run baseline.
pub struct SqliteBaseline {
    conn: rusqlite::Connection,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteBaseline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBaseline").field("path", &self.path).finish()
    }
}

impl SqliteBaseline {
    /// A database at `path` with `synchronous=FULL` (`full`) or `NORMAL`.
    pub fn new(path: &Path, full: bool) -> Result<Self, LedgerError> {
        let err = |source| LedgerError::Sqlite { ledger: "bench-baseline".into(), source };
        let conn = rusqlite::Connection::open(path).map_err(err)?;
        let sync = if full { "FULL" } else { "NORMAL" };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT NOT NULL);"
        ))
        .map_err(err)?;
        Ok(Self { conn, path: path.to_path_buf() })
    }

    /// One committed INSERT of a ~600-byte row.
    pub fn commit_one(&mut self) -> Result<(), LedgerError> {
        let err = |source| LedgerError::Sqlite { ledger: "bench-baseline".into(), source };
        let tx = self.conn.transaction().map_err(err)?;
        tx.execute("INSERT INTO t (body) VALUES (?1)", ["x".repeat(600)]).map_err(err)?;
        tx.commit().map_err(err)
    }
}

/// Settings of [`run`].
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RouteBenchConfig {
    /// Sequential prompts per durability mode (latency percentiles).
    pub prompts: usize,
    /// Threads of the throughput run.
    pub threads: usize,
    /// Prompts per thread in the throughput run.
    pub per_thread: usize,
    /// Threads of the reserve+settle run.
    pub budget_threads: usize,
    /// Pairs per thread in the reserve+settle run.
    pub pairs_per_thread: usize,
}

/// Latency percentiles (microseconds).
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Samples.
    pub n: usize,
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
}

fn latency(mut v: Vec<f64>) -> Latency {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v.get(((v.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0.0);
    Latency { n: v.len(), p50_us: at(0.5), p99_us: at(0.99) }
}

/// One durability mode's per-prompt overhead next to raw SQLite commits.
#[derive(Debug, Clone, Serialize)]
pub struct OverheadRow {
    /// `full` or `normal`.
    pub durability: String,
    /// `route()` on a zero-latency mock (2 ledger transactions each).
    pub route: Latency,
    /// One raw SQLite commit at the matching `synchronous` level.
    pub sqlite_commit: Latency,
    /// route p50 / (2 × commit p50).
    pub ratio_p50_vs_two_commits: f64,
}

/// The report of [`run`].
#[derive(Debug, Clone, Serialize)]
pub struct RouteBenchReport {
    /// Settings used.
    pub config: RouteBenchConfig,
    /// Ledger backend in use.
    pub ledger_backend: String,
    /// Per durability mode.
    pub overhead: Vec<OverheadRow>,
    /// `route()` with the in-memory store: the router's own cost without storage.
    pub route_memory_store: Latency,
    /// Routed prompts per second with `threads` threads on the in-memory store.
    pub routed_per_s_memory_store: f64,
    /// Routed prompts per second with `threads` threads (durability `normal`).
    pub routed_per_s: f64,
    /// Reserve+settle pairs per second with `budget_threads` threads (durability `normal`).
    pub reserve_settle_pairs_per_s: f64,
}

fn us(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e6
}

/// Runs the route benchmarks.
pub fn run(cfg: &RouteBenchConfig) -> Result<RouteBenchReport, RouterError> {
    let mut overhead = Vec::new();
    let mut backend = String::new();
    for (name, d) in [("full", Durability::Full), ("normal", Durability::Normal)] {
        let setup = BenchSetup::new(d)?;
        backend = format!("{:?}", crate::ledger::LedgerSet::new(&Plane::open(&setup.dir)?).backend()).to_lowercase();
        let _ = setup.router.route(setup.request(0)); // warm-up
        let mut route = Vec::with_capacity(cfg.prompts);
        for i in 0..cfg.prompts {
            let t = Instant::now();
            setup.router.route(setup.request(i))?;
            route.push(us(t));
        }
        let mut base = SqliteBaseline::new(&setup.dir.join("baseline.db"), d == Durability::Full)?;
        let mut commits = Vec::with_capacity(cfg.prompts);
        for _ in 0..cfg.prompts {
            let t = Instant::now();
            base.commit_one()?;
            commits.push(us(t));
        }
        let (route, sqlite_commit) = (latency(route), latency(commits));
        let ratio = if sqlite_commit.p50_us > 0.0 { route.p50_us / (2.0 * sqlite_commit.p50_us) } else { 0.0 };
        overhead.push(OverheadRow { durability: name.into(), route, sqlite_commit, ratio_p50_vs_two_commits: ratio });
    }
    let mem = BenchSetup::with_store(Durability::Normal, Some(Arc::new(MemoryStore::new("HO1/prompts"))))?;
    let _ = mem.router.route(mem.request(0));
    let mut lat = Vec::with_capacity(cfg.prompts);
    for i in 0..cfg.prompts {
        let t = Instant::now();
        mem.router.route(mem.request(i))?;
        lat.push(us(t));
    }
    let route_memory_store = latency(lat);
    let routed_per_s_memory_store = throughput(&mem, cfg)?;
    let setup = BenchSetup::new(Durability::Normal)?;
    let routed_per_s = throughput(&setup, cfg)?;
    let b = setup.router.budgeter();
    let t = Instant::now();
    let pairs = std::thread::scope(|s| -> Result<usize, RouterError> {
        let hs: Vec<_> = (0..cfg.budget_threads)
            .map(|k| {
                s.spawn(move || -> Result<usize, RouterError> {
                    for i in 0..cfg.pairs_per_thread {
                        let req = ReserveRequest {
                            reservation_id: format!("bench-{k}-{i}"),
                            scopes: vec![ScopeKey::tenant("bench")],
                            provider: "mock".into(),
                            tokens: 100,
                            micros: 150,
                            now_ms: 0,
                            price_book_version: "bench".into(),
                        };
                        let out = b.reserve(&req, NewEntry::new(event::PROMPT_SENT), &mut |_| {
                            NewEntry::new(event::PROMPT_REJECTED)
                        })?;
                        if let Ok(r) = out.decision {
                            b.settle(&r, 80, 120, NewEntry::new(event::PROMPT_RECEIVED))?;
                        }
                    }
                    Ok(cfg.pairs_per_thread)
                })
            })
            .collect();
        let mut n = 0;
        for h in hs {
            n += h.join().map_err(|_| LedgerError::Aborted("bench thread panicked".into()))??;
        }
        Ok(n)
    })?;
    let reserve_settle_pairs_per_s = pairs as f64 / t.elapsed().as_secs_f64();
    Ok(RouteBenchReport {
        config: *cfg,
        ledger_backend: backend,
        overhead,
        route_memory_store,
        routed_per_s_memory_store,
        routed_per_s,
        reserve_settle_pairs_per_s,
    })
}

fn throughput(setup: &BenchSetup, cfg: &RouteBenchConfig) -> Result<f64, RouterError> {
    let t = Instant::now();
    let total = std::thread::scope(|s| -> Result<usize, RouterError> {
        let hs: Vec<_> = (0..cfg.threads)
            .map(|k| {
                s.spawn(move || -> Result<usize, RouterError> {
                    for i in 0..cfg.per_thread {
                        setup.router.route(setup.request(k * cfg.per_thread + i))?;
                    }
                    Ok(cfg.per_thread)
                })
            })
            .collect();
        let mut n = 0;
        for h in hs {
            n += h.join().map_err(|_| LedgerError::Aborted("bench thread panicked".into()))??;
        }
        Ok(n)
    })?;
    Ok(total as f64 / t.elapsed().as_secs_f64())
}
