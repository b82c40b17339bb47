//! Per-task cost decomposition: what one work order cost, from its ledger entries — prompts,
//! tokens and cost by provider and model, and the `COST_ADJUSTED` corrections.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::ledger::{LedgerEntry, event};

/// Cost of one provider and model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CostLine {
    /// Provider.
    pub provider: String,
    /// Model the provider reported.
    pub model: String,
    /// Prompts received.
    pub prompts: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Cached input tokens (part of `input_tokens`).
    pub cached_input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Settled cost in micro-units.
    pub cost_micros: u64,
}

/// One compensating entry of the work order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkOrderAdjustment {
    /// Ledger seq of the `COST_ADJUSTED` entry.
    pub seq: u64,
    /// The request corrected.
    pub request_id: String,
    /// Signed micro-units.
    pub delta_micros: i64,
    /// Signed tokens.
    pub delta_tokens: i64,
    /// Why.
    pub reason: String,
    /// Who.
    pub actor: String,
}

/// What a work order cost.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CostReport {
    /// Tenant.
    pub tenant: String,
    /// Work order.
    pub work_order: String,
    /// `PROMPT_SENT` entries.
    pub prompts_sent: u64,
    /// `PROMPT_RECEIVED` entries.
    pub prompts_received: u64,
    /// `PROMPT_FAILED` entries.
    pub prompts_failed: u64,
    /// `PROMPT_REJECTED` entries.
    pub prompts_rejected: u64,
    /// Input tokens received.
    pub input_tokens: u64,
    /// Output tokens received.
    pub output_tokens: u64,
    /// Settled cost in micro-units (before adjustments).
    pub settled_micros: u64,
    /// Net of the adjustments in micro-units.
    pub adjusted_micros: i64,
    /// `settled_micros + adjusted_micros`.
    pub total_micros: i128,
    /// Currency of the price book (from the received entries; empty when none).
    pub currency: String,
    /// By provider and model.
    pub by_model: Vec<CostLine>,
    /// Every adjustment, in ledger order.
    pub adjustments: Vec<WorkOrderAdjustment>,
}

fn u(e: &LedgerEntry, k: &str) -> u64 {
    e.metadata.get(k).and_then(Value::as_u64).unwrap_or(0)
}

fn i(e: &LedgerEntry, k: &str) -> i64 {
    e.metadata.get(k).and_then(Value::as_i64).unwrap_or(0)
}

fn s(e: &LedgerEntry, k: &str) -> String {
    e.metadata.get(k).and_then(Value::as_str).unwrap_or("").to_string()
}

/// The cost of work order `work_order` of `tenant` in `entries` (entries of other tenants and
/// work orders are ignored).
pub fn work_order_cost(entries: &[LedgerEntry], tenant: &str, work_order: &str) -> CostReport {
    let mut r = CostReport { tenant: tenant.into(), work_order: work_order.into(), ..CostReport::default() };
    let mut lines: BTreeMap<(String, String), CostLine> = BTreeMap::new();
    let mine = entries
        .iter()
        .filter(|e| e.tenant_id.as_deref() == Some(tenant) && e.work_order_id.as_deref() == Some(work_order));
    for e in mine {
        match e.event_type.as_str() {
            event::PROMPT_SENT => r.prompts_sent += 1,
            event::PROMPT_FAILED => r.prompts_failed += 1,
            event::PROMPT_REJECTED => r.prompts_rejected += 1,
            event::PROMPT_RECEIVED => add_received(&mut r, &mut lines, e),
            event::COST_ADJUSTED => {
                let a = WorkOrderAdjustment {
                    seq: e.seq,
                    request_id: s(e, "request_id"),
                    delta_micros: i(e, "delta_micros"),
                    delta_tokens: i(e, "delta_tokens"),
                    reason: e.reason.clone().unwrap_or_default(),
                    actor: s(e, "actor"),
                };
                r.adjusted_micros = r.adjusted_micros.saturating_add(a.delta_micros);
                r.adjustments.push(a);
            }
            _ => {}
        }
    }
    r.by_model = lines.into_values().collect();
    r.total_micros = i128::from(r.settled_micros) + i128::from(r.adjusted_micros);
    r
}

fn add_received(r: &mut CostReport, lines: &mut BTreeMap<(String, String), CostLine>, e: &LedgerEntry) {
    let (provider, model) = (s(e, "provider"), s(e, "model"));
    let l = lines.entry((provider.clone(), model.clone())).or_insert_with(|| CostLine {
        provider,
        model,
        ..CostLine::default()
    });
    l.prompts += 1;
    l.input_tokens += u(e, "input_tokens");
    l.cached_input_tokens += u(e, "cached_input_tokens");
    l.output_tokens += u(e, "output_tokens");
    l.cost_micros += u(e, "cost_micros");
    r.prompts_received += 1;
    r.input_tokens += u(e, "input_tokens");
    r.output_tokens += u(e, "output_tokens");
    r.settled_micros += u(e, "cost_micros");
    if r.currency.is_empty() {
        r.currency = s(e, "currency");
    }
}
