//! Trace and span ids. A span id is derived from the ledger entry id (and the span's role within
//! that entry), so exporting the same ledger twice yields the same ids and a collector can
//! dedupe; a trace id is the orchestrator's `trace_id` when it passed a valid one, else derived
//! from the tenant and session (or, without a session, the request).

use sha2::{Digest, Sha256};

/// 16-byte trace id.
pub type TraceId = [u8; 16];
/// 8-byte span id.
pub type SpanId = [u8; 8];

fn digest(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.finalize().into()
}

/// The span id of `role` (`root`, `llm`, `stage:0`, …) of the entry with id `entry_id`; never
/// all zeros.
pub fn span_id(entry_id: &str, role: &str) -> SpanId {
    let d = digest(&["cp.span", entry_id, role]);
    let mut id = [0u8; 8];
    id.copy_from_slice(&d[..8]);
    if id == [0u8; 8] {
        id[7] = 1;
    }
    id
}

/// The trace id derived from a tenant and a session (or request) key; never all zeros.
pub fn derived_trace_id(tenant: &str, key: &str) -> TraceId {
    let d = digest(&["cp.trace", tenant, key]);
    let mut id = [0u8; 16];
    id.copy_from_slice(&d[..16]);
    if id == [0u8; 16] {
        id[15] = 1;
    }
    id
}

/// `s` as a W3C trace id: 32 lowercase hex digits, not all zeros.
pub fn parse_trace_id(s: &str) -> Option<TraceId> {
    parse_hex::<16>(s)
}

/// `s` as a W3C span id: 16 lowercase hex digits, not all zeros.
pub fn parse_span_id(s: &str) -> Option<SpanId> {
    parse_hex::<8>(s)
}

fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N * 2 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    let mut out = [0u8; N];
    const_hex::decode_to_slice(s, &mut out).ok()?;
    (out != [0u8; N]).then_some(out)
}
