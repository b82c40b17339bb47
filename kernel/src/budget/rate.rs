//! Fixed-window rate limits, rebuilt from the `reserve` entries of the ledger (their `at_ms` is
//! the router clock), so limits hold across router instances and processes.

use std::collections::BTreeMap;

use super::config::{RateLimitRule, RateTarget};
use super::{BudgetOp, Refusal, RefusalKind, ScopeKey, ScopeKind};
use crate::ledger::LedgerEntry;

/// Requests and tokens per (rule, key) in the current window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateState {
    windows: BTreeMap<(usize, String), (u64, u64, u64)>,
}

fn keys(rule: &RateLimitRule, scopes: &[String], provider: &str) -> Vec<String> {
    match rule.applies_to {
        RateTarget::Provider => {
            if rule.provider.as_deref().is_none_or(|p| p == provider) {
                vec![format!("provider/{provider}")]
            } else {
                Vec::new()
            }
        }
        t => {
            let kind = match t {
                RateTarget::Tenant => ScopeKind::Tenant,
                RateTarget::Session => ScopeKind::Session,
                RateTarget::WorkOrder => ScopeKind::WorkOrder,
                _ => ScopeKind::Agent,
            };
            scopes.iter().filter(|s| s.parse::<ScopeKey>().is_ok_and(|k| k.kind == kind)).cloned().collect()
        }
    }
}

impl RateState {
    /// Counts a `reserve` entry.
    pub fn apply(&mut self, e: &LedgerEntry, rules: &[RateLimitRule]) {
        let Some(Ok(BudgetOp::Reserve(r))) = BudgetOp::of(e) else { return };
        let (at, tokens, provider, scopes) = (r.at_ms, r.tokens, r.provider.as_str(), r.scopes.as_slice());
        for (i, rule) in rules.iter().enumerate() {
            let idx = at / rule.window_ms.max(1);
            for k in keys(rule, scopes, provider) {
                let w = self.windows.entry((i, k)).or_insert((idx, 0, 0));
                if w.0 < idx {
                    *w = (idx, 0, 0);
                }
                if w.0 == idx {
                    w.1 += 1;
                    w.2 = w.2.saturating_add(tokens);
                }
            }
        }
    }

    /// Whether one more request of `tokens` at `now_ms` would exceed a rule.
    pub fn check(
        &self,
        rules: &[RateLimitRule],
        scopes: &[ScopeKey],
        provider: &str,
        tokens: u64,
        now_ms: u64,
    ) -> Option<Refusal> {
        let scopes: Vec<String> = scopes.iter().map(ToString::to_string).collect();
        for (i, rule) in rules.iter().enumerate() {
            let idx = now_ms / rule.window_ms.max(1);
            for k in keys(rule, &scopes, provider) {
                let (reqs, toks) = match self.windows.get(&(i, k.clone())) {
                    Some(&(w, r, t)) if w == idx => (r, t),
                    _ => (0, 0),
                };
                let req_over = rule.max_requests.is_some_and(|m| reqs + 1 > m);
                let tok_over = rule.max_tokens.is_some_and(|m| toks.saturating_add(tokens) > m);
                if req_over || tok_over {
                    return Some(Refusal {
                        kind: RefusalKind::RateLimited,
                        scope: k.clone(),
                        message: format!(
                            "{k}: {reqs} requests / {toks} tokens in the current {} ms window; this request needs 1 request / {tokens} tokens (limits {} requests, {} tokens)",
                            rule.window_ms,
                            super::limit_text(rule.max_requests),
                            super::limit_text(rule.max_tokens)
                        ),
                    });
                }
            }
        }
        None
    }
}
