//! [`PromptRouter::route`], phase by phase: validate → authorize → select → reserve → dispatch
//! → settle. A phase that refuses logs `PROMPT_REJECTED` (see [`PromptRouter::reject`]) and
//! returns [`RouterError::Rejected`]; after the reservation, the settle phase logs
//! `PROMPT_RECEIVED` (settled) or `PROMPT_FAILED` (released).

use serde_json::{Map, Value, json};

use super::degrade::DegradeProfile;
use super::degrade_ops::SharedState;
use super::dispatch::{Dispatch, DispatchLog};
use super::{LogContent, NotLogged, PromptRequest, PromptResponse, PromptRouter, RejectCode, RouterError, denial_code};
use crate::auth::{Action, Principal};
use crate::budget::{PriceVersion, Refusal, RefusalKind, Reservation, ReserveRequest, ScopeKey};
use crate::contract::{PROMPT_CONTRACT_SCHEMA, PromptContract};
use crate::hashing::sha256_hex;
use crate::ledger::{LedgerEntry, NewEntry, Provenance, event};
use crate::policy;
use crate::providers::{ProviderError, ProviderResponse};

/// One request being routed: the request and the id its ledger entries carry.
struct InFlight<'r> {
    req: &'r PromptRequest,
    request_id: String,
}

/// What the validate phase established.
struct Validated {
    /// The contract's output schema, compiled.
    output_schema: Option<jsonschema::Validator>,
    /// The budget scopes of the request's provenance, tenant first.
    scopes: Vec<ScopeKey>,
    /// The rendered prompt.
    prompt: String,
}

/// What the select phase chose.
struct Selected<'p> {
    /// The price-book version in force.
    prices: &'p PriceVersion,
    /// `(provider, model)` in the order they are tried.
    candidates: Vec<(String, String)>,
    /// The providers left out, with the reason code.
    skipped: Vec<Value>,
    /// Router-clock time of the choice.
    now_ms: u64,
    /// `max_tokens` asked of the provider (the contract's, capped by a degrade profile).
    max_tokens: u64,
    /// The degrade profile routed under, if any.
    degrade: Option<String>,
}

/// The reservation and its `PROMPT_SENT` entry.
struct Reserved {
    reservation: Reservation,
    sent: LedgerEntry,
}

/// What the settle phase records from.
struct Settling<'a> {
    f: &'a InFlight<'a>,
    sel: &'a Selected<'a>,
    reserved: Reserved,
    /// The request's provenance with `parent_event_id` = the `PROMPT_SENT` id.
    parent: Provenance,
    latency_ms: u64,
}

impl PromptRouter {
    /// Routes one prompt. Every outcome leaves ledger entries (see the module docs); refusals
    /// return [`RouterError::Rejected`], provider failures [`RouterError::Failed`].
    pub fn route(&self, req: PromptRequest) -> Result<PromptResponse, RouterError> {
        let f = InFlight { req: &req, request_id: uuid::Uuid::now_v7().to_string() };
        let Validated { output_schema, scopes, prompt } = self.validate(&f)?;
        let now = self.clock.now_ms();
        let principal = self.authorize_prompt(&f, &scopes[0].tenant, now)?;
        self.guard_work_order(&req, &f.request_id, &principal)?;
        let shared = self.shared_state(now)?;
        let profile = self.active_profile(&shared);
        self.refuse_degraded(&f, profile)?;
        let sel = self.select(&f, now, &shared, profile)?;
        let reserved = self.reserve(&f, scopes, &prompt, &principal, &sel)?;
        let start = self.clock.now_ms();
        let d = self.dispatch(&sel.candidates, &prompt, sel.max_tokens, req.contract.boundary.temperature);
        let latency_ms = self.clock.now_ms().saturating_sub(start);
        let mut parent = req.provenance.clone();
        parent.parent_event_id = Some(reserved.sent.id.clone());
        let s = Settling { f: &f, sel: &sel, reserved, parent, latency_ms };
        let out = self.settle(s, d, output_schema.as_ref());
        if matches!(out, Err(RouterError::Failed { .. })) {
            self.after_failure();
        }
        out
    }

    /// Phase 2b: the active degrade profile refuses the request's agent class (logged as
    /// `PROMPT_REJECTED` `DEGRADED` with `policy_id` `router.degrade`).
    fn refuse_degraded(&self, f: &InFlight, profile: Option<&DegradeProfile>) -> Result<(), RouterError> {
        let Some(p) = profile else { return Ok(()) };
        let class = f.req.provenance.agent_class.as_deref().unwrap_or("");
        if !p.actions.refuse_agent_classes.iter().any(|c| c == class) {
            return Ok(());
        }
        let m = format!("degrade profile {} refuses agent class {class:?}", p.name);
        let extra = json!({"degrade_profile": p.name, "agent_class": class, "policy_id": super::DEGRADE_POLICY_ID,
                           "actor": super::DEGRADE_SYSTEM_ACTOR})
        .as_object()
        .cloned()
        .unwrap_or_default();
        Err(self.reject(RejectCode::Degraded, m, f.req, &f.request_id, extra))
    }

    /// Phase 1: the contract (schema and limits), the input, the provenance, the rendered prompt.
    fn validate(&self, f: &InFlight) -> Result<Validated, RouterError> {
        let req = f.req;
        let reject = |code: RejectCode, m: String| self.reject(code, m, req, &f.request_id, Map::new());
        let (input_v, output_schema) =
            self.validate_contract(&req.contract).map_err(|m| reject(RejectCode::ContractInvalid, m))?;
        let errors: Vec<String> =
            input_v.iter_errors(&req.input).map(|e| format!("{}: {e}", e.instance_path())).collect();
        if !errors.is_empty() {
            let m = format!("input does not satisfy the contract's input_schema: {}", errors.join("; "));
            return Err(reject(RejectCode::InvalidInput, m));
        }
        let scopes = ScopeKey::chain(&req.provenance)
            .ok_or_else(|| reject(RejectCode::InvalidInput, "provenance.tenant_id is required".into()))?;
        self.vocabulary
            .check_provenance(&req.provenance)
            .map_err(|e| reject(RejectCode::InvalidInput, format!("provenance: {e}")))?;
        let prompt = render(&req.contract.prompt_template, &req.context.context_text, &req.input)
            .map_err(|(code, m)| reject(code, m))?;
        Ok(Validated { output_schema, scopes, prompt })
    }

    /// Phase 2: the token may `route` on the request's tenant.
    fn authorize_prompt(&self, f: &InFlight, tenant: &str, now: u64) -> Result<Principal, RouterError> {
        self.auth.authorize(&f.req.auth_token, Action::Route, tenant, now).map_err(|d| {
            let code = denial_code(&d);
            let extra = json!({"action": "route", "principal": d.principal}).as_object().cloned().unwrap_or_default();
            self.reject(code, d.message, f.req, &f.request_id, extra)
        })
    }

    /// Phase 3: the price-book version in force, and the providers in fallback order whose
    /// circuit is not open and that have a price for the model.
    fn select(
        &self,
        f: &InFlight,
        now: u64,
        shared: &SharedState,
        profile: Option<&DegradeProfile>,
    ) -> Result<Selected<'_>, RouterError> {
        let Some(prices) = self.price_book.version_at(now) else {
            let m = format!("no price-book version is in force at {now} ms");
            return Err(self.reject(RejectCode::NoPrice, m, f.req, &f.request_id, Map::new()));
        };
        let actions = profile.map(|p| &p.actions);
        let first = actions.and_then(|a| a.provider.clone()).unwrap_or_else(|| self.config.default_provider.clone());
        let mut order = vec![first.clone()];
        for p in std::iter::once(&self.config.default_provider).chain(&self.config.fallback_providers) {
            if !order.contains(p) {
                order.push(p.clone());
            }
        }
        let mut candidates: Vec<(String, String)> = Vec::new();
        let mut skipped = Vec::new();
        for name in &order {
            let Some(slot) = self.providers.get(name) else { continue };
            let shared_open = shared.breakers.get(name).is_some_and(|b| b.state(now) == super::BreakerState::Open);
            if slot.breaker.state(now) == super::BreakerState::Open || shared_open {
                skipped.push(json!({"provider": name, "code": RejectCode::CircuitOpen.as_str()}));
                continue;
            }
            let degraded_model = actions.and_then(|a| a.model.clone()).filter(|_| *name == first);
            let model = degraded_model
                .or_else(|| f.req.contract.boundary.model.clone())
                .unwrap_or_else(|| slot.config.default_model.clone());
            if prices.price(name, &model).is_none() {
                skipped.push(json!({"provider": name, "model": model, "code": RejectCode::NoPrice.as_str()}));
                continue;
            }
            candidates.push((name.clone(), model));
        }
        if candidates.is_empty() {
            let all_open = skipped.iter().all(|s| s["code"] == RejectCode::CircuitOpen.as_str());
            let code = if all_open { RejectCode::CircuitOpen } else { RejectCode::NoPrice };
            let extra = json!({"skipped": skipped, "price_book_version": prices.version})
                .as_object()
                .cloned()
                .unwrap_or_default();
            let m = format!("no provider available: {}", Value::Array(skipped.clone()));
            return Err(self.reject(code, m, f.req, &f.request_id, extra));
        }
        let max_tokens = f.req.contract.boundary.max_tokens;
        let max_tokens = actions.and_then(|a| a.max_tokens).map_or(max_tokens, |cap| max_tokens.min(cap));
        Ok(Selected { prices, candidates, skipped, now_ms: now, max_tokens, degrade: profile.map(|p| p.name.clone()) })
    }

    /// Phase 4: reserve an upper bound of the usage — the input bound (prompt bytes + overhead,
    /// budget_config.input_bound) plus the output cap, which is exactly the max_tokens the
    /// provider is asked for — at the dearest candidate's rate, logged with `PROMPT_SENT` in one
    /// transaction (or refused and logged as `PROMPT_REJECTED`).
    fn reserve(
        &self,
        f: &InFlight,
        scopes: Vec<ScopeKey>,
        prompt: &str,
        principal: &Principal,
        sel: &Selected,
    ) -> Result<Reserved, RouterError> {
        let in_bound = self.budgeter.input_token_bound(prompt.len());
        let max_out = sel.max_tokens;
        let micros = sel
            .candidates
            .iter()
            .filter_map(|(p, m)| sel.prices.price(p, m))
            .map(|p| p.max_cost_micros(in_bound, max_out))
            .max()
            .unwrap_or(0);
        let rreq = ReserveRequest {
            reservation_id: f.request_id.clone(),
            scopes,
            provider: sel.candidates[0].0.clone(),
            tokens: in_bound.saturating_add(max_out),
            micros,
            now_ms: sel.now_ms,
            price_book_version: sel.prices.version.clone(),
        };
        let sent = self.prompt_sent(f, prompt, principal, sel, in_bound);
        let outcome = self.budgeter.reserve(&rreq, sent, &mut |r| {
            policy::stamp(
                self.refusal_entry(f, r),
                policy::of_reject_code(refusal_code(r.kind).as_str()),
                &principal.principal,
            )
        })?;
        let reservation = match outcome.decision {
            Ok(r) => r,
            Err(refusal) => {
                let entry = outcome.entries.iter().rev().find(|e| e.event_type == event::PROMPT_REJECTED);
                return Err(match entry {
                    Some(e) => self.rejected(refusal_code(refusal.kind), refusal.message, e),
                    None => RouterError::NotLogged { what: NotLogged::Refusal },
                });
            }
        };
        let Some(sent) = outcome.entries.iter().find(|e| e.event_type == event::PROMPT_SENT).cloned() else {
            return Err(RouterError::NotLogged { what: NotLogged::PromptSent });
        };
        Ok(Reserved { reservation, sent })
    }

    /// The `PROMPT_SENT` entry of a request about to be reserved.
    fn prompt_sent(
        &self,
        f: &InFlight,
        prompt: &str,
        principal: &Principal,
        sel: &Selected,
        in_bound: u64,
    ) -> NewEntry {
        let req = f.req;
        let (provider, model) = &sel.candidates[0];
        let mut sent = NewEntry::new(event::PROMPT_SENT)
            .submission(&f.request_id)
            .decision("ALLOW")
            .provenance(req.provenance.clone())
            .meta("request_id", f.request_id.clone())
            .meta("contract_id", req.contract.contract_id.clone())
            .meta("contract_version", req.contract.version.clone())
            .meta("context_hash", req.context.context_hash.clone())
            .meta("template_id", req.context.template_id.clone())
            .meta("attention", req.context.trace_summary.clone())
            .meta("retrieval", serde_json::to_value(&req.context.retrieval).unwrap_or(Value::Null))
            .meta("prompt_hash", sha256_hex(prompt.as_bytes()))
            .meta("log_content", log_content_str(self.config.log_content))
            .meta("provider", provider.clone())
            .meta("model", model.clone())
            .meta("max_tokens", sel.max_tokens)
            .meta("temperature", req.contract.boundary.temperature)
            .meta("input_tokens_estimate", self.budgeter.estimate_tokens(prompt.chars().count()))
            .meta("input_tokens_bound", in_bound)
            .meta("principal", principal.principal.clone())
            .meta("dev_mode", principal.dev_mode)
            .meta(policy::POLICY_ID_KEY, policy::BUDGET_HARD_LIMIT)
            .meta(policy::ACTOR_KEY, principal.principal.clone());
        if self.config.log_content == LogContent::Full {
            sent = sent.meta("prompt_text", prompt.to_string());
        }
        if !sel.skipped.is_empty() {
            sent = sent.meta("skipped_providers", Value::Array(sel.skipped.clone()));
        }
        if let Some(p) = &sel.degrade {
            sent = sent.meta("degrade_profile", p.clone());
        }
        if let Some(r) = &req.context.replay {
            let mut r = r.clone();
            if self.config.log_content == LogContent::Full
                && let Some(m) = r.as_object_mut()
            {
                m.insert("input".into(), req.input.clone());
            }
            sent = sent.meta("replay", r);
        }
        if let (Some(id), Some(hash)) = (&req.contract.prompt_pack_id, req.contract.prompt_pack_sha256()) {
            sent = sent.meta("prompt_pack_id", id.clone()).meta("prompt_pack_sha256", hash);
        }
        sent
    }

    /// The `PROMPT_REJECTED` entry of a reservation refused by a limit.
    fn refusal_entry(&self, f: &InFlight, r: &Refusal) -> NewEntry {
        NewEntry::new(event::PROMPT_REJECTED)
            .submission(&f.request_id)
            .decision("DENY")
            .reason(r.message.clone())
            .provenance(f.req.provenance.clone())
            .meta("request_id", f.request_id.clone())
            .meta("code", refusal_code(r.kind).as_str())
            .meta("contract_id", f.req.contract.contract_id.clone())
            .meta("scope", r.scope.clone())
    }

    /// Phase 6: settle the reservation with `PROMPT_RECEIVED`, or release it with `PROMPT_FAILED`.
    fn settle(
        &self,
        s: Settling,
        d: Dispatch,
        output_schema: Option<&jsonschema::Validator>,
    ) -> Result<PromptResponse, RouterError> {
        match d.result {
            Ok((used, resp)) => self.settle_received(s, d.log, used, resp, output_schema),
            Err(err) => Err(self.settle_failed(s, d.log, err)),
        }
    }

    fn settle_received(
        &self,
        s: Settling,
        log: DispatchLog,
        used: String,
        resp: ProviderResponse,
        output_schema: Option<&jsonschema::Validator>,
    ) -> Result<PromptResponse, RouterError> {
        let request_id = &s.f.request_id;
        let pv = s.sel.prices;
        let model_used =
            s.sel.candidates.iter().find(|(p, _)| *p == used).map_or(resp.model.clone(), |(_, m)| m.clone());
        let cost = pv.price(&used, &model_used).map_or(0, |p| {
            p.cost_micros(resp.usage.input_tokens, resp.usage.cached_input_tokens, resp.usage.output_tokens)
        });
        let (output, output_errors) = validate_output(&resp.text, output_schema);
        let output_valid = output_errors.is_empty();
        let tokens = resp.usage.input_tokens.saturating_add(resp.usage.output_tokens);
        let mut rec = NewEntry::new(event::PROMPT_RECEIVED)
            .submission(request_id)
            .decision(if output_valid { "ACCEPT" } else { "INVALID_OUTPUT" })
            .provenance(s.parent)
            .meta("request_id", request_id.clone())
            .meta("provider", used.clone())
            .meta("model", resp.model.clone())
            .meta("attempts", Value::Array(log.attempts))
            .meta("attempt_count", log.count)
            .meta("input_tokens", resp.usage.input_tokens)
            .meta("output_tokens", resp.usage.output_tokens)
            .meta("cached_input_tokens", resp.usage.cached_input_tokens)
            .meta("cost_micros", cost)
            .meta("currency", self.price_book.currency.clone())
            .meta("price_book_version", pv.version.clone())
            .meta("latency_ms", s.latency_ms)
            .meta("settled_at_ms", self.clock.now_ms())
            .meta("finish_reason", resp.finish_reason.clone())
            .meta("output_validation", json!({"valid": output_valid, "errors": output_errors}));
        if let Some(over) = overrun(&s.reserved.reservation, tokens, cost) {
            tracing::warn!(request_id = %request_id, overrun = %over, "settled usage exceeds the reservation");
            rec = rec.meta("overrun", over);
        }
        match self.config.log_content {
            LogContent::Full => {
                rec =
                    rec.meta("response_hash", sha256_hex(resp.text.as_bytes())).meta("response_text", resp.text.clone())
            }
            LogContent::Hash => rec = rec.meta("response_hash", sha256_hex(resp.text.as_bytes())),
            LogContent::None => {}
        }
        let received = self.budgeter.settle(&s.reserved.reservation, tokens, cost, rec)?;
        Ok(PromptResponse {
            request_id: request_id.clone(),
            text: resp.text,
            output,
            output_valid,
            output_errors,
            provider: used,
            model: resp.model,
            usage: resp.usage,
            cost_micros: cost,
            price_book_version: pv.version.clone(),
            latency_ms: s.latency_ms,
            finish_reason: resp.finish_reason,
            attempts: log.count,
            sent: (&s.reserved.sent).into(),
            received: (&received).into(),
        })
    }

    fn settle_failed(&self, s: Settling, log: DispatchLog, err: ProviderError) -> RouterError {
        let deadline_ms = self.config.dispatch_deadline_ms;
        let (reason, message) = if log.deadline_reached {
            let why = format!(
                "dispatch deadline of {deadline_ms} ms reached after {} ms and {} attempt(s)",
                log.elapsed_ms, log.count
            );
            (format!("{why}; last error: {err}"), format!("{why}; last error: {}", err.message))
        } else {
            (err.to_string(), err.message.clone())
        };
        let failed = NewEntry::new(event::PROMPT_FAILED)
            .submission(&s.f.request_id)
            .decision("FAIL")
            .reason(reason)
            .provenance(s.parent)
            .meta("request_id", s.f.request_id.clone())
            .meta("error_code", err.code.as_str())
            .meta("attempts", Value::Array(log.attempts))
            .meta("attempt_count", log.count)
            .meta("latency_ms", s.latency_ms)
            .meta("settled_at_ms", self.clock.now_ms())
            .meta(
                "deadline",
                json!({"deadline_ms": deadline_ms, "elapsed_ms": log.elapsed_ms, "reached": log.deadline_reached}),
            );
        match self.budgeter.release(&s.reserved.reservation.reservation_id, failed) {
            Ok(entry) => RouterError::Failed {
                code: err.code,
                message,
                attempts: log.count,
                ledger: self.config.ledger.clone(),
                entry_id: entry.id,
                seq: entry.seq,
            },
            Err(e) => e.into(),
        }
    }

    /// Logs a refusal as `PROMPT_REJECTED` (with `extra` metadata) and returns its error.
    pub(super) fn reject(
        &self,
        code: RejectCode,
        message: String,
        req: &PromptRequest,
        request_id: &str,
        extra: Map<String, Value>,
    ) -> RouterError {
        let mut e = NewEntry::new(event::PROMPT_REJECTED)
            .submission(request_id)
            .decision("DENY")
            .reason(message.clone())
            .provenance(req.provenance.clone())
            .meta("request_id", request_id)
            .meta("code", code.as_str())
            .meta("contract_id", req.contract.contract_id.clone());
        e.metadata.extend(extra);
        let actor = policy::principal_of(&e);
        let e = policy::stamp(e, policy::of_reject_code(code.as_str()), &actor);
        match self.budgeter.append(vec![e]).map(|v| v.into_iter().next()) {
            Ok(Some(entry)) => self.rejected(code, message, &entry),
            Ok(None) => RouterError::NotLogged { what: NotLogged::Rejection },
            Err(err) => RouterError::Budget(err),
        }
    }

    fn validate_contract(
        &self,
        c: &PromptContract,
    ) -> Result<(jsonschema::Validator, Option<jsonschema::Validator>), String> {
        let mut v = serde_json::to_value(c).map_err(|e| e.to_string())?;
        // Absent optional fields serialize as null; the schema describes them as absent.
        if let Some(m) = v.as_object_mut() {
            m.retain(|_, x| !x.is_null());
            // A pack contract's template is the resolved pack text, not part of the document.
            if c.prompt_pack_id.is_some() {
                if c.prompt_template.is_empty() {
                    return Err(format!(
                        "prompt_pack_id {} is not resolved (load the contract from the plane)",
                        c.prompt_pack_id.as_deref().unwrap_or_default()
                    ));
                }
                m.remove("prompt_template");
            }
            if let Some(b) = m.get_mut("boundary").and_then(Value::as_object_mut) {
                b.retain(|_, x| !x.is_null());
            }
        }
        self.schemas.validate(PROMPT_CONTRACT_SCHEMA, &v).map_err(|e| e.to_string())?;
        let l = &self.config.limits;
        if c.boundary.max_tokens == 0 || c.boundary.max_tokens > l.max_tokens_ceiling {
            return Err(format!("boundary.max_tokens {} outside 1..={}", c.boundary.max_tokens, l.max_tokens_ceiling));
        }
        let t = c.boundary.temperature;
        if !(t >= l.temperature_min && t <= l.temperature_max) {
            return Err(format!("boundary.temperature {t} outside {}..={}", l.temperature_min, l.temperature_max));
        }
        let input = jsonschema::validator_for(&c.input_schema).map_err(|e| format!("input_schema: {e}"))?;
        let output = match &c.output_schema {
            Some(s) => Some(jsonschema::validator_for(s).map_err(|e| format!("output_schema: {e}"))?),
            None => None,
        };
        Ok((input, output))
    }
}

/// The reason code of a reservation refused by a limit.
fn refusal_code(kind: RefusalKind) -> RejectCode {
    match kind {
        RefusalKind::BudgetExhausted => RejectCode::BudgetExhausted,
        RefusalKind::RateLimited => RejectCode::RateLimited,
    }
}

/// The `overrun` record of `PROMPT_RECEIVED`: for each dimension whose settled amount exceeds the
/// reservation — `tokens` (input + output) and `micros` (cost) — `{reserved, actual, excess}`;
/// a dimension within its reservation is absent, and `None` when neither exceeds.
fn overrun(reservation: &Reservation, tokens: u64, micros: u64) -> Option<Value> {
    let mut over = Map::new();
    for (dim, reserved, actual) in [("tokens", reservation.tokens, tokens), ("micros", reservation.micros, micros)] {
        if actual > reserved {
            over.insert(dim.into(), json!({"reserved": reserved, "actual": actual, "excess": actual - reserved}));
        }
    }
    (!over.is_empty()).then_some(Value::Object(over))
}

fn log_content_str(l: LogContent) -> &'static str {
    match l {
        LogContent::Full => "full",
        LogContent::Hash => "hash",
        LogContent::None => "none",
    }
}

/// Renders a contract's `prompt_template`: `{{context}}` → the context text, `{{input.KEY}}` →
/// the input's top-level value (strings as-is, others as JSON). Any other placeholder makes the
/// contract invalid; a missing input key makes the input invalid.
pub fn render(template: &str, context: &str, input: &Value) -> Result<String, (RejectCode, String)> {
    let mut out = String::with_capacity(template.len() + context.len());
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            return Err((RejectCode::ContractInvalid, "prompt_template has an unclosed {{".into()));
        };
        let name = after[..j].trim();
        if name == "context" {
            out.push_str(context);
        } else if let Some(key) = name.strip_prefix("input.") {
            match input.get(key) {
                Some(Value::String(s)) => out.push_str(s),
                Some(v) => out.push_str(&v.to_string()),
                None => {
                    return Err((
                        RejectCode::InvalidInput,
                        format!("input has no key {key:?} used by the prompt_template"),
                    ));
                }
            }
        } else {
            return Err((
                RejectCode::ContractInvalid,
                format!("prompt_template has an unknown placeholder {{{{{name}}}}}"),
            ));
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn validate_output(text: &str, schema: Option<&jsonschema::Validator>) -> (Option<Value>, Vec<String>) {
    let parsed: Option<Value> = serde_json::from_str(text.trim()).ok();
    let Some(v) = schema else { return (parsed, Vec::new()) };
    match &parsed {
        None => (None, vec!["output is not JSON".to_string()]),
        Some(p) => {
            let errs = crate::phase_report::output_error_paths(v, p);
            (parsed, errs)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_substitutes_and_refuses() {
        let input = json!({"q": "why", "n": 3});
        assert_eq!(render("C={{context}} Q={{ input.q }} N={{input.n}}", "ctx", &input).unwrap(), "C=ctx Q=why N=3");
        assert_eq!(render("{{input.zz}}", "", &input).unwrap_err().0, RejectCode::InvalidInput);
        assert_eq!(render("{{other}}", "", &input).unwrap_err().0, RejectCode::ContractInvalid);
        assert_eq!(render("{{context", "", &input).unwrap_err().0, RejectCode::ContractInvalid);
    }

    #[test]
    fn output_validation_is_full_json_schema() {
        let schema = jsonschema::validator_for(&json!({"type": "object", "required": ["a"],
            "properties": {"a": {"type": "string", "pattern": "^x"}}}))
        .unwrap();
        assert!(validate_output(r#"{"a": "xy"}"#, Some(&schema)).1.is_empty());
        assert_eq!(
            validate_output(r#"{"a": "yy"}"#, Some(&schema)).1.len(),
            1,
            "pattern is checked, not only required"
        );
        assert_eq!(validate_output("not json", Some(&schema)).1.len(), 1);
        assert!(validate_output("not json", None).1.is_empty());
    }
}
