//! The in-memory context cache: TTL and size from `attention_config.cache`. Entries past their
//! TTL are kept (until evicted) so that `on_timeout: use_cached` can still serve them, marked
//! stale. Nothing is persisted.
//!
//! The key is the SHA-256 of the canonical JSON of the template (id, version, and the merged
//! pipeline exactly as it will run), **every field of the request** and the prompt contract's
//! hash. All request fields, not only those today's stages read: `horizontal_search` queries
//! interpolate `{agent_id}` and the other request fields, and a `custom` handler receives the
//! whole request, so no subset can be proven safe. Two agents sharing a session and a work
//! order therefore never share an entry (issue 8).

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::context::AssembledContext;
use super::request::AttentionRequest;

/// Cache key of `req` under the template `template_id`/`version` whose merged pipeline is
/// `pipeline` (each stage's name, type, enabled flag and typed config).
pub(crate) fn cache_key(
    template_id: &str,
    version: &str,
    pipeline: &[serde_json::Value],
    req: &AttentionRequest,
    contract_hash: &str,
) -> String {
    let parts = serde_json::json!({
        "template_id": template_id,
        "version": version,
        "pipeline": pipeline,
        "request": req,
        "contract_hash": contract_hash,
    });
    crate::hashing::sha256_hex(&crate::ledger::canonical::to_vec(&parts))
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
