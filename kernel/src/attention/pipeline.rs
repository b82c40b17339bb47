//! Running a merged pipeline under its budget: stages in order, budget checks before each
//! stage (time always; queries before query stages; tokens before producing stages) and inside
//! them, the halting decision with reruns. Fallbacks are applied by the service.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::budget::BudgetTracker;
use super::config::AttentionConfig;
use super::context::{BudgetLimit, ContextFragment, FragmentSource, StageResult, StageStatus};
use super::request::AttentionRequest;
use super::retrieval::CandidateLog;
use super::service::CustomStage;
use super::stages::halting::{Decision, HaltingConfig};
use super::stages::horizontal_search::{Corpus, SearchSourceKind, build_corpus, signature};
use super::stages::{Relax, Stage, StageConfig, StageCtx, StageRun, TierStrategy, run_stage};
use super::template::TemplateBudget;
use crate::clock::Clock;
use crate::ledger::{LedgerError, LedgerSet, LedgerStore};
use crate::plane::{Plane, Tier};

/// What the stages share for the service's lifetime.
pub(crate) struct Env {
    pub(crate) plane: Plane,
    pub(crate) config: AttentionConfig,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ledgers: LedgerSet,
    pub(crate) ledger_overrides: BTreeMap<String, Arc<dyn LedgerStore>>,
    pub(crate) custom: BTreeMap<String, Arc<dyn CustomStage>>,
    pub(crate) corpora: Mutex<HashMap<String, (u64, Arc<Corpus>)>>,
}

impl Env {
    /// The ledger `TIER/name`, `None` when it has never been written.
    pub(crate) fn ledger(&self, name: &str) -> Result<Option<Arc<dyn LedgerStore>>, LedgerError> {
        if let Some(s) = self.ledger_overrides.get(name) {
            return Ok(Some(s.clone()));
        }
        match self.ledgers.open_existing(name) {
            Ok(s) => Ok(Some(s)),
            Err(LedgerError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The cached search corpus for these sources/tiers/ledger, rebuilt when its signature
    /// changed (checked at most every `search.index_recheck_ms`).
    pub(crate) fn search_corpus(
        &self,
        sources: &[SearchSourceKind],
        tiers: &[Tier],
        ledger: &str,
    ) -> Result<Arc<Corpus>, String> {
        let key = format!("{sources:?}|{tiers:?}|{ledger}");
        let now = self.clock.monotonic_ms();
        let mut g = self.corpora.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((checked, c)) = g.get(&key) {
            if now.saturating_sub(*checked) < self.config.search.index_recheck_ms
                && self.config.search.index_recheck_ms > 0
            {
                return Ok(c.clone());
            }
            let sig = signature(self, sources, tiers, ledger)?;
            if sig == c.signature {
                let c = c.clone();
                g.insert(key, (now, c.clone()));
                return Ok(c);
            }
        }
        let sig = signature(self, sources, tiers, ledger)?;
        let c = Arc::new(build_corpus(self, sources, tiers, ledger, sig)?);
        g.insert(key, (now, c.clone()));
        Ok(c)
    }
}

/// Layout directories the attention service never reads, whatever a template or the search
/// config says: the operator area (`plane`: plane config, the auth secret), the ledgers (read
/// only through tenant-filtered queries) and the install staging area.
pub(crate) const NEVER_READ_DIRS: &[&str] = &["plane", "ledger", "staging"];

/// Whether `path` (inside the plane) lies in one of the [`NEVER_READ_DIRS`] of any tier.
pub(crate) fn never_read(plane: &crate::Plane, path: &std::path::Path) -> bool {
    crate::Tier::ALL.iter().any(|t| NEVER_READ_DIRS.iter().any(|d| path.starts_with(plane.dir(*t, d))))
}

/// Mutable state of one run.
#[derive(Debug, Clone)]
pub(crate) struct PipelineState {
    pub(crate) tiers: Vec<Tier>,
    pub(crate) strategy: TierStrategy,
    pub(crate) fragments: Vec<ContextFragment>,
    pub(crate) warnings: Vec<String>,
}

impl PipelineState {
    pub(crate) fn tokens(&self) -> u64 {
        self.fragments.iter().map(|f| f.token_estimate).sum()
    }
}

/// The tiers a stage without its own reads: the last `tier_select`, else the request's tier.
pub(crate) fn tier_scope(ctx: &StageCtx<'_>) -> Vec<Tier> {
    if ctx.state.tiers.is_empty() { vec![ctx.request.tier] } else { ctx.state.tiers.clone() }
}

/// What a required_context item needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RequiredKind {
    Ledger(String),
    Framework(String),
    File(String),
}

/// A required_context item and the stage that must cover it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequiredItem {
    pub(crate) kind: RequiredKind,
    pub(crate) stage: String,
}

impl RequiredItem {
    pub(crate) fn covered_by(&self, f: &ContextFragment) -> bool {
        if f.stage != self.stage {
            return false;
        }
        match &self.kind {
            RequiredKind::Ledger(_) => f.source == FragmentSource::Ledger,
            RequiredKind::Framework(id) => f.source == FragmentSource::Registry && f.content.contains(id.as_str()),
            RequiredKind::File(p) => f.source == FragmentSource::File && &f.source_id == p,
        }
    }
}

impl std::fmt::Display for RequiredItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            RequiredKind::Ledger(e) => write!(f, "ledger {e} (stage {})", self.stage),
            RequiredKind::Framework(id) => write!(f, "framework {id} (stage {})", self.stage),
            RequiredKind::File(p) => write!(f, "file {p} (stage {})", self.stage),
        }
    }
}

/// Why the run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Every stage ran and no halting stage decided (or there is none).
    Completed,
    /// A halting stage found the context sufficient.
    Satisfied,
    /// Every stage ran, and the last halting stage evaluated found the context insufficient
    /// after its reruns: the service applies `fallback.on_empty`.
    Unsatisfied,
    /// A budget limit was reached: the service applies `fallback.on_timeout`.
    Budget(BudgetLimit),
}

/// The result of a run, before fallbacks.
#[derive(Debug, Clone)]
pub(crate) struct RunOutcome {
    pub(crate) fragments: Vec<ContextFragment>,
    pub(crate) trace: Vec<StageResult>,
    pub(crate) warnings: Vec<String>,
    pub(crate) stop: Stop,
    pub(crate) halting_detail: String,
    pub(crate) reruns: u32,
    pub(crate) queries: u64,
    pub(crate) elapsed_ms: u64,
    /// Candidates each producing stage ranked (final ranks not yet assigned).
    pub(crate) candidates: CandidateLog,
}

struct Runner<'a> {
    env: &'a Env,
    req: &'a AttentionRequest,
    budget: BudgetTracker,
    state: PipelineState,
    trace: Vec<StageResult>,
    candidates: CandidateLog,
}

impl Runner<'_> {
    /// Budget check before a stage.
    fn precheck(&self, config: &StageConfig) -> Option<BudgetLimit> {
        if self.budget.time_exceeded() {
            return Some(BudgetLimit::Time);
        }
        if config.uses_queries() && self.budget.queries >= self.budget.limits.max_queries {
            return Some(BudgetLimit::Queries);
        }
        if config.produces() && self.state.tokens() >= self.budget.limits.max_context_tokens {
            return Some(BudgetLimit::Tokens);
        }
        None
    }

    fn record(&mut self, stage: &Stage, rerun: u32, start: u64, run: &StageRun) {
        let duration_ms = self.env.clock.monotonic_ms().saturating_sub(start);
        self.trace.push(StageResult {
            stage: stage.name.clone(),
            kind: stage.config.kind().as_str().to_string(),
            fragments_produced: run.produced,
            tokens_produced: run.tokens,
            duration_ms,
            status: run.status,
            rerun,
            detail: run.detail.clone(),
        });
    }

    /// Runs one stage (not halting); returns the budget limit it hit, if any.
    fn step(&mut self, stage: &Stage, rerun: u32, relax: Relax) -> Option<BudgetLimit> {
        if let Some(limit) = self.precheck(&stage.config) {
            let run = StageRun::new(StageStatus::Skipped).detail(format!("budget {limit} exhausted before the stage"));
            let now = self.env.clock.monotonic_ms();
            self.record(stage, rerun, now, &run);
            return Some(limit);
        }
        let start = self.env.clock.monotonic_ms();
        if rerun > 0 {
            self.state.fragments.retain(|f| f.stage != stage.name);
        }
        let before = self.state.fragments.len();
        let run = {
            let mut ctx = StageCtx {
                env: self.env,
                request: self.req,
                budget: &mut self.budget,
                state: &mut self.state,
                stage: &stage.name,
                relax,
            };
            run_stage(&stage.config, &mut ctx)
        };
        if stage.config.produces() {
            let produced = self.state.fragments.get(before..).unwrap_or_default();
            self.candidates.record(&stage.name, produced, self.env.config.retrieval.max_candidates_per_stage);
        }
        self.record(stage, rerun, start, &run);
        run.budget_hit
    }

    /// Evaluates halting stage `stage` (config `h`) on the fragments so far and records the
    /// decision in the trace as run `rerun` of the stage.
    fn halt_check(&mut self, stage: &Stage, h: &HaltingConfig, required: &[RequiredItem], rerun: u32) -> Decision {
        let start = self.env.clock.monotonic_ms();
        let d = h.decide(&self.state.fragments, required);
        let status = if d.satisfied { StageStatus::Ok } else { StageStatus::Empty };
        let verdict = if d.satisfied { "satisfied" } else { "unsatisfied" };
        let mut run = StageRun::new(status).detail(format!("{verdict}: {}", d.detail));
        run.produced = self.state.fragments.len() as u64;
        run.tokens = self.state.tokens();
        self.record(stage, rerun, start, &run);
        d
    }
}

/// Runs `stages` for `req` under `limits`.
pub(crate) fn run(
    env: &Env,
    req: &AttentionRequest,
    stages: &[Stage],
    limits: TemplateBudget,
    required: &[RequiredItem],
) -> RunOutcome {
    let mut r = Runner {
        env,
        req,
        budget: BudgetTracker::start(limits, env.clock.clone()),
        state: PipelineState {
            tiers: Vec::new(),
            strategy: TierStrategy::default(),
            fragments: Vec::new(),
            warnings: Vec::new(),
        },
        trace: Vec::new(),
        candidates: CandidateLog::default(),
    };
    let mut stop = Stop::Completed;
    let mut halting_detail = String::from("every stage ran");
    let mut reruns = 0u32;
    // The last halting decision made, when it was "unsatisfied" (a later satisfied one stops).
    let mut unsatisfied: Option<String> = None;
    'stages: for (i, stage) in stages.iter().enumerate() {
        if !stage.enabled {
            let now = env.clock.monotonic_ms();
            r.record(stage, 0, now, &StageRun::new(StageStatus::Skipped).detail("enabled: false"));
            continue;
        }
        let StageConfig::Halting(h) = &stage.config else {
            if let Some(limit) = r.step(stage, 0, Relax::NONE) {
                stop = Stop::Budget(limit);
                break;
            }
            continue;
        };
        if r.budget.time_exceeded() {
            stop = Stop::Budget(BudgetLimit::Time);
            break;
        }
        let mut d = r.halt_check(stage, h, required, 0);
        let searches: Vec<&Stage> = stages[..i]
            .iter()
            .filter(|s| s.enabled && matches!(s.config, StageConfig::HorizontalSearch(_) | StageConfig::Structuring(_)))
            .collect();
        let has_search = searches.iter().any(|s| matches!(s.config, StageConfig::HorizontalSearch(_)));
        let mut rerun = 0u32;
        while !d.satisfied && has_search && rerun < h.max_reruns {
            rerun += 1;
            let n = i32::try_from(rerun).unwrap_or(i32::MAX);
            let relax = Relax {
                threshold_factor: h.relax.relevance_threshold_factor.powi(n),
                results_factor: h.relax.max_results_factor.powi(n),
            };
            for s in &searches {
                if let Some(limit) = r.step(s, rerun, relax) {
                    reruns += rerun;
                    halting_detail = d.detail.clone();
                    stop = Stop::Budget(limit);
                    break 'stages;
                }
            }
            d = r.halt_check(stage, h, required, rerun);
        }
        reruns += rerun;
        halting_detail = d.detail.clone();
        if d.satisfied {
            stop = Stop::Satisfied;
            break;
        }
        r.state
            .warnings
            .push(format!("stage {}: context not satisfied after {rerun} rerun(s): {}", stage.name, d.detail));
        unsatisfied = Some(format!("halting stage {} unsatisfied after {rerun} rerun(s): {}", stage.name, d.detail));
    }
    if stop == Stop::Completed
        && let Some(detail) = unsatisfied
    {
        stop = Stop::Unsatisfied;
        halting_detail = detail;
    }
    if let Stop::Budget(limit) = stop {
        halting_detail = format!(
            "budget {limit} reached (limits: {} tokens, {} queries, {} ms); {halting_detail}",
            limits.max_context_tokens, limits.max_queries, limits.timeout_ms
        );
    }
    let elapsed_ms = r.budget.elapsed_ms();
    RunOutcome {
        fragments: r.state.fragments,
        trace: r.trace,
        warnings: r.state.warnings,
        stop,
        halting_detail,
        reruns,
        queries: r.budget.queries,
        elapsed_ms,
        candidates: r.candidates,
    }
}
