//! `ledger_query`: reads entries of `<TIER>/<ledger>` through the store's indexed queries,
//! always restricted to the request's tenant. Each query (one per tier read) counts against
//! `max_queries`; entries count against `max_context_tokens` as they are added.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Producer, StageCtx, StageRun};
use crate::attention::context::{BudgetLimit, FragmentSource, StageStatus};
use crate::attention::pipeline::tier_scope;
use crate::ledger::{LedgerEntry, LedgerQuery, Order, Provenance};
use crate::plane::Tier;

/// Config of `ledger_query`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerQueryConfig {
    /// One event type (combined with `event_types`); at least one type is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// Several event types (any matches).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_types: Vec<String>,
    /// Tier whose ledger is read; default: the tiers of the last `tier_select`, else the
    /// request's tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
    /// Ledger name inside the tier; default `attention_config.default_ledger`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<String>,
    /// Maximum entries returned (count, ≥ 1, required).
    pub max_entries: u64,
    /// `session` (request's session), `work_order` (request's work order), `last:N` (the N
    /// most recent) or a duration `Nms|Ns|Nm|Nh|Nd` (entries newer than now − duration, wall
    /// time of the service clock). Default: the most recent `max_entries`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recency: Option<String>,
    /// Provenance fields that must be equal (`agent_id`, `framework_id`, …; never `tenant_id`,
    /// which is always the request's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub filters: BTreeMap<String, String>,
}

/// Parsed recency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recency {
    Session,
    WorkOrder,
    Last(u64),
    Within(jiff::SignedDuration),
}

pub(crate) fn parse_recency(s: &str) -> Option<Recency> {
    match s {
        "session" => return Some(Recency::Session),
        "work_order" => return Some(Recency::WorkOrder),
        _ => {}
    }
    if let Some(n) = s.strip_prefix("last:") {
        return n.parse().ok().filter(|&n| n > 0).map(Recency::Last);
    }
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().ok()?;
    let d = match unit {
        "ms" => jiff::SignedDuration::from_millis(n),
        "s" => jiff::SignedDuration::from_secs(n),
        "m" => jiff::SignedDuration::from_secs(n.checked_mul(60)?),
        "h" => jiff::SignedDuration::from_secs(n.checked_mul(3600)?),
        "d" => jiff::SignedDuration::from_secs(n.checked_mul(86_400)?),
        _ => return None,
    };
    Some(Recency::Within(d))
}

impl LedgerQueryConfig {
    /// The event types asked for.
    pub fn types(&self) -> Vec<String> {
        let mut v: Vec<String> = self.event_type.iter().cloned().chain(self.event_types.iter().cloned()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Pure checks.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.types().is_empty() {
            out.push(("/event_type".into(), "give event_type or event_types".into()));
        }
        if self.max_entries == 0 {
            out.push(("/max_entries".into(), "must be at least 1".into()));
        }
        if let Some(r) = &self.recency
            && parse_recency(r).is_none()
        {
            out.push(("/recency".into(), format!("{r:?} is not session, work_order, last:N or a duration like 24h")));
        }
        for k in self.filters.keys() {
            if k == "tenant_id" {
                out.push((format!("/filters/{k}"), "tenant_id is always the request's tenant".into()));
            } else if !Provenance::FIELDS.contains(&k.as_str()) {
                out.push((
                    format!("/filters/{k}"),
                    format!("unknown provenance field (expected one of {})", Provenance::FIELDS.join(", ")),
                ));
            }
        }
        if let Some(l) = &self.ledger
            && (l.is_empty()
                || !l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'))
        {
            out.push(("/ledger".into(), "must match [a-z0-9_-]+".into()));
        }
        out
    }

    /// The store query (before tier selection) for `ctx`'s request, or why none can run.
    fn query(&self, ctx: &StageCtx<'_>) -> Result<LedgerQuery, String> {
        let req = ctx.request;
        let mut q = LedgerQuery { event_types: self.types(), order: Order::Desc, ..LedgerQuery::default() };
        let mut prov = Provenance { tenant_id: Some(req.tenant_id.clone()), ..Provenance::default() };
        for (k, v) in &self.filters {
            set_field(&mut prov, k, v.clone());
        }
        let mut limit = self.max_entries;
        match self.recency.as_deref().and_then(parse_recency) {
            Some(Recency::Session) => {
                prov.session_id =
                    Some(req.session_id.clone().ok_or("recency session but the request has no session_id")?);
            }
            Some(Recency::WorkOrder) => {
                prov.work_order_id =
                    Some(req.work_order_id.clone().ok_or("recency work_order but the request has no work_order_id")?);
            }
            Some(Recency::Last(n)) => limit = limit.min(n),
            Some(Recency::Within(d)) => {
                let since = ctx.env.clock.wall_now().checked_sub(d).map_err(|e| format!("recency: {e}"))?;
                q.since = Some(format!("{since:.9}"));
            }
            None => {}
        }
        q.provenance = prov;
        q.limit = Some(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(q)
    }

    pub(crate) fn run(&self, ctx: &mut StageCtx<'_>) -> StageRun {
        let q = match self.query(ctx) {
            Ok(q) => q,
            Err(why) => {
                ctx.warn(&why);
                return StageRun::new(StageStatus::Empty).detail(why);
            }
        };
        let tiers = match self.tier {
            Some(t) => vec![t],
            None => tier_scope(ctx),
        };
        let ledger = self.ledger.clone().unwrap_or_else(|| ctx.env.config.default_ledger.clone());
        let parallel = ctx.state.strategy == super::TierStrategy::AllParallel && self.tier.is_none();
        let mut p = Producer::default();
        let mut found: Vec<(Tier, LedgerEntry)> = Vec::new();
        for tier in tiers {
            if !parallel && found.len() as u64 >= self.max_entries {
                break;
            }
            if let Err(limit) = ctx.budget.take_query() {
                p.hit = Some(limit);
                break;
            }
            let name = format!("{}/{ledger}", tier.dir_name());
            match ctx.env.ledger(&name) {
                Ok(Some(store)) => match store.query(&q) {
                    Ok(entries) => found.extend(entries.into_iter().map(|e| (tier, e))),
                    Err(e) => {
                        p.errors += 1;
                        ctx.warn(format_args!("ledger {name} query failed: {e}"));
                    }
                },
                Ok(None) => p.notes.push(format!("ledger {name} does not exist")),
                Err(e) => {
                    p.errors += 1;
                    ctx.warn(format_args!("ledger {name}: {e}"));
                }
            }
        }
        if parallel {
            // Newest first across tiers; ties by tier then seq for determinism.
            found.sort_by(|a, b| b.1.timestamp.cmp(&a.1.timestamp).then(a.0.cmp(&b.0)).then(b.1.seq.cmp(&a.1.seq)));
        }
        found.truncate(usize::try_from(self.max_entries).unwrap_or(usize::MAX));
        if p.hit.is_none() {
            for (tier, e) in found {
                if let Err(limit) = ctx.check_time() {
                    p.hit = Some(limit);
                    break;
                }
                let id = format!("{}/{ledger}#{}", tier.dir_name(), e.seq);
                let content = render_entry(&e);
                let f = ctx.fragment(FragmentSource::Ledger, id, content, None, Some(e.timestamp.clone()));
                if let Err(limit) = ctx.add(&mut p, f) {
                    p.hit = Some(limit);
                    break;
                }
            }
        }
        if let Some(BudgetLimit::Queries) = p.hit {
            p.notes.push("max_queries reached".into());
        }
        p.finish()
    }
}

fn set_field(p: &mut Provenance, k: &str, v: String) {
    let slot = match k {
        "agent_id" => &mut p.agent_id,
        "agent_class" => &mut p.agent_class,
        "framework_id" => &mut p.framework_id,
        "package_id" => &mut p.package_id,
        "work_order_id" => &mut p.work_order_id,
        "session_id" => &mut p.session_id,
        "trace_id" => &mut p.trace_id,
        "span_id" => &mut p.span_id,
        "parent_event_id" => &mut p.parent_event_id,
        "tier" => &mut p.tier,
        _ => return,
    };
    *slot = Some(v);
}

/// The text of a ledger entry in context: canonical JSON of its meaningful fields.
pub(crate) fn render_entry(e: &LedgerEntry) -> String {
    let v = serde_json::json!({
        "seq": e.seq,
        "timestamp": e.timestamp,
        "event_type": e.event_type,
        "decision": e.decision,
        "reason": e.reason,
        "agent_id": e.agent_id,
        "session_id": e.session_id,
        "work_order_id": e.work_order_id,
        "metadata": e.metadata,
    });
    String::from_utf8_lossy(&crate::ledger::canonical::to_vec(&v)).into_owned()
}
