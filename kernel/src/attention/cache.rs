//! The in-memory context cache: key = (template id and version, agent class, framework id,
//! tier, tenant, work order, session, prompt-contract hash); TTL and size from
//! `attention_config.cache`. Entries past their TTL are kept (until evicted) so that
//! `on_timeout: use_cached` can still serve them, marked stale. Nothing is persisted.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::context::AssembledContext;
use super::request::AttentionRequest;

/// Cache key of a request under a template.
pub(crate) fn cache_key(template_id: &str, version: &str, req: &AttentionRequest, contract_hash: &str) -> String {
    let parts = serde_json::json!([
        template_id,
        version,
        req.agent_class.as_str(),
        req.framework_id,
        req.tier.as_str(),
        req.tenant_id,
        req.work_order_id,
        req.session_id,
        contract_hash,
    ]);
    crate::hashing::sha256_hex(parts.to_string().as_bytes())
}

struct Slot {
    stored_ms: u64,
    order: u64,
    context: AssembledContext,
}

/// The cache.
pub(crate) struct ContextCache {
    ttl_ms: u64,
    max_entries: usize,
    slots: Mutex<(u64, BTreeMap<String, Slot>)>,
}

impl ContextCache {
    pub(crate) fn new(ttl_ms: u64, max_entries: usize) -> Self {
        Self { ttl_ms, max_entries, slots: Mutex::new((0, BTreeMap::new())) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, BTreeMap<String, Slot>)> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The context for `key` if stored less than the TTL ago.
    pub(crate) fn fresh(&self, key: &str, now_ms: u64) -> Option<AssembledContext> {
        let g = self.lock();
        g.1.get(key).filter(|s| now_ms.saturating_sub(s.stored_ms) < self.ttl_ms).map(|s| s.context.clone())
    }

    /// The context for `key` whatever its age.
    pub(crate) fn any(&self, key: &str) -> Option<AssembledContext> {
        self.lock().1.get(key).map(|s| s.context.clone())
    }

    pub(crate) fn put(&self, key: String, now_ms: u64, context: AssembledContext) {
        if self.max_entries == 0 {
            return;
        }
        let mut g = self.lock();
        g.0 += 1;
        let order = g.0;
        g.1.insert(key, Slot { stored_ms: now_ms, order, context });
        while g.1.len() > self.max_entries {
            let oldest = g.1.iter().min_by_key(|(_, s)| s.order).map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    g.1.remove(&k);
                }
                None => break,
            }
        }
    }
}
