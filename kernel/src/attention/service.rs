//! The service: loads config and templates, resolves, merges, runs, applies fallbacks, caches.

use crate::framework::{Term, Vocabulary};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use serde::Serialize;

use super::cache::{ContextCache, cache_key};
use super::catalog::{InvalidTemplate, TemplateCatalog};
use super::config::AttentionConfig;
use super::context::{AssembledContext, BudgetUsed, CacheStatus, ContextFragment, HaltReason, HaltingRecord};
use super::error::{AttentionError, TemplateIssue};
use super::merge::merge;
use super::pipeline::{Env, RequiredItem, RunOutcome, Stop};
use super::request::AttentionRequest;
use super::resolve::{Choice, MergedStage, ResolutionExplanation, StageOrigin, resolve};
use super::stages::{Stage, StageConfig};
use super::template::{
    AppliesTo, AttentionTemplate, LoadedTemplate, OnEmpty, OnTimeout, StageSpec, load_template_file,
};
use crate::clock::{Clock, SystemClock};
use crate::contract::PromptContract;
use crate::ledger::{LedgerSet, LedgerStore};
use crate::plane::{Plane, Tier};
use crate::schema::SchemaSet;

/// What a custom handler receives.
#[derive(Debug, Clone)]
pub struct CustomStageInput {
    /// The stage name.
    pub stage: String,
    /// The stage's `params`.
    pub params: serde_json::Value,
    /// The request.
    pub request: AttentionRequest,
    /// The tiers selected so far (empty: the request's tier).
    pub tiers: Vec<Tier>,
    /// The fragments assembled so far.
    pub fragments: Vec<ContextFragment>,
}

/// A handler for `custom` stages, registered by name. Returned fragments are re-marked as
/// `source: custom` of the calling stage and re-estimated; an `Err` becomes a warning.
pub trait CustomStage: Send + Sync {
    /// Produces fragments.
    fn run(&self, input: &CustomStageInput) -> Result<Vec<ContextFragment>, String>;
}

impl<F> CustomStage for F
where
    F: Fn(&CustomStageInput) -> Result<Vec<ContextFragment>, String> + Send + Sync,
{
    fn run(&self, input: &CustomStageInput) -> Result<Vec<ContextFragment>, String> {
        self(input)
    }
}

/// Result of validating one template file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TemplateReport {
    /// The file.
    pub path: PathBuf,
    /// Whether it is valid.
    pub valid: bool,
    /// Its id, when it decoded.
    pub template_id: Option<String>,
    /// Its version, when it decoded.
    pub version: Option<String>,
    /// Number of stages, when it decoded.
    pub stages: usize,
    /// Every issue found.
    pub issues: Vec<TemplateIssue>,
}

/// Builder of [`AttentionService`].
pub struct AttentionServiceBuilder {
    plane: Plane,
    clock: Option<Arc<dyn Clock>>,
    config: Option<AttentionConfig>,
    custom: BTreeMap<String, Arc<dyn CustomStage>>,
    ledger_overrides: BTreeMap<String, Arc<dyn LedgerStore>>,
}

impl std::fmt::Debug for AttentionServiceBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttentionServiceBuilder").field("root", &self.plane.root()).finish_non_exhaustive()
    }
}

impl AttentionServiceBuilder {
    /// Uses `clock` (default: [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Uses `config` instead of the plane's `HOT/config/attention_config.yaml`.
    pub fn config(mut self, config: AttentionConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// Registers a custom stage handler (a closure or any [`CustomStage`]) under `name`.
    pub fn custom(mut self, name: impl Into<String>, handler: impl CustomStage + 'static) -> Self {
        self.custom.insert(name.into(), Arc::new(handler));
        self
    }

    /// Registers a shared custom stage handler under `name`.
    pub fn custom_handler(mut self, name: impl Into<String>, handler: Arc<dyn CustomStage>) -> Self {
        self.custom.insert(name.into(), handler);
        self
    }

    /// Reads ledger `name` (`HO1/prompts`) from `store` instead of opening the plane's file
    /// (for embedders that already hold the store open).
    pub fn ledger_store(mut self, name: impl Into<String>, store: Arc<dyn LedgerStore>) -> Self {
        self.ledger_overrides.insert(name.into(), store);
        self
    }

    /// Loads the config and every template (schema → typed decode → validate, all issues
    /// reported together) and checks custom handler names.
    pub fn build(self) -> Result<AttentionService, AttentionError> {
        let schemas = SchemaSet::for_plane(&self.plane)?;
        let config = match self.config {
            Some(c) => c,
            None => AttentionConfig::for_plane(&self.plane, &schemas)?,
        };
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock::new()));
        let env = Env {
            ledgers: LedgerSet::new(&self.plane),
            plane: self.plane,
            config: config.clone(),
            clock,
            ledger_overrides: self.ledger_overrides,
            custom: self.custom,
            corpora: Mutex::new(HashMap::new()),
        };
        let templates = TemplateCatalog::load(&env.plane, &schemas)?;
        check_handlers(&templates.valid, &env)?;
        let vocabulary = Vocabulary::for_plane(&env.plane, &schemas)?;
        Ok(AttentionService {
            vocabulary,
            cache: ContextCache::new(config.cache.ttl_ms, config.cache.max_entries),
            env,
            schemas,
            templates: RwLock::new(templates),
        })
    }
}

fn check_handlers(templates: &BTreeMap<String, LoadedTemplate>, env: &Env) -> Result<(), AttentionError> {
    for t in templates.values() {
        for s in &t.stages {
            if let StageConfig::Custom(c) = &s.config
                && !env.custom.contains_key(&c.handler)
            {
                return Err(AttentionError::UnknownCustomHandler {
                    stage: format!("{}/{}", t.template.template_id, s.name),
                    handler: c.handler.clone(),
                    known: env.custom.keys().cloned().collect(),
                });
            }
        }
    }
    Ok(())
}

/// Validates one template file against `schemas` (CLI `cpctl attention validate`).
pub fn validate_template_file(schemas: &SchemaSet, path: &Path) -> TemplateReport {
    match load_template_file(schemas, path) {
        Ok(t) => TemplateReport {
            path: path.to_path_buf(),
            valid: true,
            template_id: Some(t.template.template_id),
            version: Some(t.template.version),
            stages: t.stages.len(),
            issues: Vec::new(),
        },
        Err(issues) => TemplateReport {
            path: path.to_path_buf(),
            valid: false,
            template_id: None,
            version: None,
            stages: 0,
            issues,
        },
    }
}

/// The plan of one request: template, merged stages, required items.
struct Plan {
    template_id: String,
    version: String,
    budget: super::template::TemplateBudget,
    fallback: super::template::Fallback,
    stages: Vec<(Stage, StageOrigin)>,
    required: Vec<RequiredItem>,
    rule: &'static str,
    why: String,
    warnings: Vec<String>,
}

/// The attention service. `Send + Sync`; share it behind an `Arc`.
pub struct AttentionService {
    env: Env,
    /// The plane's vocabulary, loaded once at construction.
    vocabulary: Vocabulary,
    schemas: SchemaSet,
    templates: RwLock<TemplateCatalog>,
    cache: ContextCache,
}

impl std::fmt::Debug for AttentionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttentionService").field("root", &self.env.plane.root()).finish_non_exhaustive()
    }
}

impl AttentionService {
    /// A builder for the service over `plane`.
    pub fn builder(plane: &Plane) -> AttentionServiceBuilder {
        AttentionServiceBuilder {
            plane: plane.clone(),
            clock: None,
            config: None,
            custom: BTreeMap::new(),
            ledger_overrides: BTreeMap::new(),
        }
    }

    /// Refuses a request whose `agent_class` or `tier` is not in the plane's vocabulary.
    fn check_vocabulary(&self, req: &AttentionRequest) -> Result<(), AttentionError> {
        for (field, kind, value) in
            [("agent_class", Term::AgentClass, req.agent_class.as_str()), ("tier", Term::Tier, req.tier.as_str())]
        {
            if !self.vocabulary.contains(kind, value) {
                return Err(AttentionError::NotInVocabulary {
                    field,
                    value: value.to_string(),
                    allowed: self.vocabulary.terms(kind).to_vec(),
                });
            }
        }
        Ok(())
    }

    /// The service config in use.
    pub fn config(&self) -> &AttentionConfig {
        &self.env.config
    }

    /// The invalid templates of the plane as last loaded, with their located issues (they are
    /// skipped at resolution, or fail the requests they would have matched).
    pub fn invalid_templates(&self) -> Vec<InvalidTemplate> {
        self.templates.read().unwrap_or_else(|p| p.into_inner()).invalid.clone()
    }

    /// Ids of the loaded (valid) templates.
    pub fn template_ids(&self) -> Vec<String> {
        self.templates.read().unwrap_or_else(|p| p.into_inner()).valid.keys().cloned().collect()
    }

    /// Reloads the templates from the plane (e.g. after a package install).
    pub fn reload_templates(&self) -> Result<(), AttentionError> {
        let t = TemplateCatalog::load(&self.env.plane, &self.schemas)?;
        check_handlers(&t.valid, &self.env)?;
        *self.templates.write().unwrap_or_else(|p| p.into_inner()) = t;
        Ok(())
    }

    fn contract(&self, req: &AttentionRequest) -> Result<Option<PromptContract>, AttentionError> {
        match (&req.prompt_contract, &req.prompt_contract_path) {
            (Some(_), Some(_)) => Err(AttentionError::InvalidRequest {
                message: "give prompt_contract or prompt_contract_path, not both".into(),
            }),
            (Some(c), None) => Ok(Some(c.clone())),
            (None, Some(p)) => {
                let path = self.env.plane.resolve(p)?;
                Ok(Some(PromptContract::load_in_plane(&self.env.plane, &self.schemas, &path)?))
            }
            (None, None) => Ok(None),
        }
    }

    fn default_template(&self) -> LoadedTemplate {
        let d = &self.env.config.default_template;
        let spec = StageSpec {
            stage: "structure".into(),
            kind: super::stages::StageType::Structuring,
            enabled: true,
            config: serde_json::to_value(&d.structuring).unwrap_or_default(),
        };
        LoadedTemplate {
            template: AttentionTemplate {
                template_id: d.template_id.clone(),
                version: d.version.clone(),
                description: "minimal default: required_context, then structuring".into(),
                applies_to: AppliesTo::default(),
                pipeline: vec![spec],
                budget: d.budget,
                fallback: d.fallback,
            },
            stages: vec![Stage {
                name: "structure".into(),
                enabled: true,
                config: StageConfig::Structuring(d.structuring.clone()),
            }],
            path: PathBuf::new(),
        }
    }

    fn plan_for(
        &self,
        t: &LoadedTemplate,
        origin: StageOrigin,
        contract: Option<&PromptContract>,
        rule: &'static str,
        why: String,
        warnings: Vec<String>,
    ) -> Result<Plan, AttentionError> {
        let base: Vec<(Stage, StageOrigin)> = t.stages.iter().cloned().map(|s| (s, origin)).collect();
        let merged = match contract {
            Some(c) => merge(&base, &c.required_context, &self.env.config.required_context_defaults)
                .map_err(|message| AttentionError::InvalidRequest { message })?,
            None => super::merge::Merged { stages: base, required: Vec::new() },
        };
        Ok(Plan {
            template_id: t.template.template_id.clone(),
            version: t.template.version.clone(),
            budget: t.template.budget,
            fallback: t.template.fallback,
            stages: merged.stages,
            required: merged.required,
            rule,
            why,
            warnings,
        })
    }

    fn plan(
        &self,
        req: &AttentionRequest,
        contract: Option<&PromptContract>,
    ) -> Result<(Plan, Vec<super::resolve::Candidate>), AttentionError> {
        let templates = self.templates.read().unwrap_or_else(|p| p.into_inner());
        let (choice, candidates) = resolve(&templates, req)?;
        let mut warnings = templates.warnings();
        let plan = match choice {
            Choice::Template { template, rule, why } => {
                self.plan_for(template, StageOrigin::Template, contract, rule, why, warnings)?
            }
            Choice::Default { why } => {
                let d = self.default_template();
                warnings.push(format!("{why}: using the default template {}", d.template.template_id));
                self.plan_for(&d, StageOrigin::Default, contract, "default", why, warnings)?
            }
        };
        Ok((plan, candidates))
    }

    /// Explains which template a request resolves to, why, and the merged pipeline.
    pub fn explain(&self, req: &AttentionRequest) -> Result<ResolutionExplanation, AttentionError> {
        self.check_vocabulary(req)?;
        let contract = self.contract(req)?;
        let (plan, candidates) = self.plan(req, contract.as_ref())?;
        Ok(ResolutionExplanation {
            candidates,
            chosen: plan.template_id.clone(),
            chosen_version: plan.version.clone(),
            rule: plan.rule.to_string(),
            why: plan.why.clone(),
            pipeline: plan
                .stages
                .iter()
                .map(|(s, o)| MergedStage {
                    stage: s.name.clone(),
                    kind: s.config.kind().as_str().to_string(),
                    enabled: s.enabled,
                    origin: *o,
                    config: s.config.to_value(),
                })
                .collect(),
            required: plan.required.iter().map(ToString::to_string).collect(),
            warnings: plan.warnings.clone(),
        })
    }

    /// Assembles the context for `req`.
    pub fn assemble(&self, req: &AttentionRequest) -> Result<AssembledContext, AttentionError> {
        self.check_vocabulary(req)?;
        let contract = self.contract(req)?;
        let contract_hash = contract.as_ref().map(PromptContract::hash).unwrap_or_default();
        let (plan, _) = self.plan(req, contract.as_ref())?;
        let pipeline: Vec<serde_json::Value> = plan
            .stages
            .iter()
            .map(|(s, _)| {
                serde_json::json!({"stage": s.name, "type": s.config.kind().as_str(), "enabled": s.enabled,
                                   "config": s.config.to_value()})
            })
            .collect();
        let key = cache_key(&plan.template_id, &plan.version, &pipeline, req, &contract_hash);
        if let Some(mut c) = self.cache.fresh(&key, self.env.clock.monotonic_ms()) {
            c.cache = CacheStatus::Hit;
            return Ok(c);
        }
        let result = self.execute(req, &plan, &key, contract.as_ref())?;
        if !matches!(result.halting.reason, HaltReason::Budget { .. })
            && !matches!(&result.halting.reason, HaltReason::Fallback { trigger, .. } if trigger == "on_timeout")
        {
            self.cache.put(key, self.env.clock.monotonic_ms(), result.clone());
        }
        Ok(result)
    }

    fn execute(
        &self,
        req: &AttentionRequest,
        plan: &Plan,
        key: &str,
        contract: Option<&PromptContract>,
    ) -> Result<AssembledContext, AttentionError> {
        let stages: Vec<Stage> = plan.stages.iter().map(|(s, _)| s.clone()).collect();
        let out = super::pipeline::run(&self.env, req, &stages, plan.budget, &plan.required);
        let mut warnings = plan.warnings.clone();
        warnings.extend(out.warnings.iter().cloned());
        match out.stop {
            Stop::Budget(limit) => match plan.fallback.on_timeout {
                OnTimeout::ReturnPartial => {
                    warnings.push(format!(
                        "budget {limit} exceeded: returning the partial context (on_timeout: return_partial)"
                    ));
                    Ok(self.finish(plan, out, warnings, HaltReason::Budget { limit }))
                }
                OnTimeout::Fail => Err(AttentionError::BudgetExceeded { template_id: plan.template_id.clone(), limit }),
                OnTimeout::UseCached => {
                    let Some(mut c) = self.cache.any(key) else {
                        return Err(AttentionError::NoCachedContext { template_id: plan.template_id.clone(), limit });
                    };
                    c.cache = CacheStatus::Stale;
                    c.warnings.push(format!(
                        "budget {limit} exceeded: returned the cached context (stale, on_timeout: use_cached)"
                    ));
                    c.halting = HaltingRecord {
                        reason: HaltReason::Fallback { trigger: "on_timeout".into(), action: "use_cached".into() },
                        detail: out.halting_detail,
                        reruns: out.reruns,
                    };
                    c.pipeline_trace = out.trace;
                    Ok(c)
                }
            },
            _ if out.fragments.is_empty() => match plan.fallback.on_empty {
                OnEmpty::ProceedEmpty => {
                    warnings.push("the pipeline produced no context (on_empty: proceed_empty)".into());
                    Ok(self.finish(plan, out, warnings, on_empty_reason("proceed_empty")))
                }
                OnEmpty::Fail => Err(AttentionError::EmptyContext { template_id: plan.template_id.clone() }),
                OnEmpty::UseDefault => {
                    let why = format!("template {} produced no context", plan.template_id);
                    self.run_default(req, out, warnings, key, contract, &why)
                }
            },
            Stop::Unsatisfied => self.unsatisfied(req, plan, out, warnings, key, contract),
            Stop::Satisfied => Ok(self.finish(plan, out, warnings, HaltReason::Satisfied)),
            Stop::Completed => Ok(self.finish(plan, out, warnings, HaltReason::Completed)),
        }
    }

    /// The last halting stage stayed unsatisfied after its reruns, with fragments: the context
    /// is insufficient, so `fallback.on_empty` applies as if nothing usable was found
    /// (`proceed_empty` withholds the fragments, `fail` refuses, `use_default` runs the default
    /// template). The decision is in the halting record that `PROMPT_SENT` carries.
    fn unsatisfied(
        &self,
        req: &AttentionRequest,
        plan: &Plan,
        mut out: RunOutcome,
        mut warnings: Vec<String>,
        key: &str,
        contract: Option<&PromptContract>,
    ) -> Result<AssembledContext, AttentionError> {
        match plan.fallback.on_empty {
            OnEmpty::ProceedEmpty => {
                let n = out.fragments.len();
                let tokens: u64 = out.fragments.iter().map(|f| f.token_estimate).sum();
                let withheld = format!("withheld {n} fragment(s) ({tokens} tokens) that did not satisfy halting");
                warnings.push(format!("{withheld} (on_empty: proceed_empty)"));
                out.halting_detail = format!("{}; on_empty: proceed_empty {withheld}", out.halting_detail);
                out.fragments.clear();
                Ok(self.finish(plan, out, warnings, on_empty_reason("proceed_empty")))
            }
            OnEmpty::Fail => Err(AttentionError::HaltingUnsatisfied {
                template_id: plan.template_id.clone(),
                detail: out.halting_detail,
            }),
            OnEmpty::UseDefault => {
                let why = format!("template {} did not satisfy halting ({})", plan.template_id, out.halting_detail);
                self.run_default(req, out, warnings, key, contract, &why)
            }
        }
    }

    /// `on_empty: use_default`: runs the default template; the trace keeps both pipelines.
    fn run_default(
        &self,
        req: &AttentionRequest,
        out: RunOutcome,
        mut warnings: Vec<String>,
        key: &str,
        contract: Option<&PromptContract>,
        why: &str,
    ) -> Result<AssembledContext, AttentionError> {
        let d = self.default_template();
        warnings
            .push(format!("{why}: running the default template {} (on_empty: use_default)", d.template.template_id));
        let dplan =
            self.plan_for(&d, StageOrigin::Default, contract, "default", "on_empty: use_default".into(), warnings)?;
        let mut trace = out.trace;
        let mut res = self.execute(req, &dplan, key, contract)?;
        trace.append(&mut res.pipeline_trace);
        res.pipeline_trace = trace;
        res.halting.reason = on_empty_reason("use_default");
        res.halting.detail = format!("{}; default template: {}", out.halting_detail, res.halting.detail);
        Ok(res)
    }

    fn finish(&self, plan: &Plan, out: RunOutcome, warnings: Vec<String>, reason: HaltReason) -> AssembledContext {
        let header = &self.env.config.fragment_header;
        let mut text = String::new();
        for f in &out.fragments {
            text.push_str(
                &header
                    .replace("{source}", f.source.as_str())
                    .replace("{source_id}", &f.source_id)
                    .replace("{stage}", &f.stage),
            );
            text.push('\n');
            text.push_str(&f.content);
            text.push('\n');
        }
        let tokens = out.fragments.iter().map(|f| f.token_estimate).sum();
        let retrieval = out.candidates.finish(&out.fragments);
        AssembledContext {
            context_hash: crate::hashing::sha256_hex(text.as_bytes()),
            context_text: text,
            fragments: out.fragments,
            template_id: plan.template_id.clone(),
            template_version: plan.version.clone(),
            pipeline_trace: out.trace,
            budget_used: BudgetUsed { tokens, queries: out.queries, elapsed_ms: out.elapsed_ms },
            halting: HaltingRecord { reason, detail: out.halting_detail, reruns: out.reruns },
            warnings,
            cache: CacheStatus::Miss,
            retrieval,
        }
    }
}

fn on_empty_reason(action: &str) -> HaltReason {
    HaltReason::Fallback { trigger: "on_empty".into(), action: action.into() }
}

#[allow(dead_code)]
fn assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<AttentionService>();
}
