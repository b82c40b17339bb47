//! The ledger entry and its hash.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::canonical;

/// Version of the entry format written by this kernel.
pub const SCHEMA_VERSION: &str = "1.0";

/// `previous_hash` of entry 0.
pub const GENESIS_PREVIOUS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Declares a struct with the provenance fields (one list, shared by [`Provenance`] and
/// [`LedgerEntry`]) between the fields in the first and the second brace group.
macro_rules! with_provenance {
    ($(#[$meta:meta])* pub struct $name:ident { $($head:tt)* } { $($tail:tt)* }) => {
        $(#[$meta])*
        pub struct $name {
            $($head)*
            /// Tenant the entry belongs to.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub tenant_id: Option<String>,
            /// Agent that caused the entry.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub agent_id: Option<String>,
            /// Class of that agent (`KERNEL.syntactic`, `KERNEL.semantic`, `ADMIN`, `RESIDENT`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub agent_class: Option<String>,
            /// Framework the agent or package belongs to.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub framework_id: Option<String>,
            /// Package concerned.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub package_id: Option<String>,
            /// Work order being executed.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub work_order_id: Option<String>,
            /// Session scope.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub session_id: Option<String>,
            /// Distributed trace id.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub trace_id: Option<String>,
            /// Span id within the trace.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub span_id: Option<String>,
            /// `id` of the entry this one answers (e.g. RECEIVED → SENT).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub parent_event_id: Option<String>,
            /// Tier (`hot`, `ho2`, `ho1`).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub tier: Option<String>,
            $($tail)*
        }
    };
}

with_provenance! {
    /// First-class provenance of an entry; every field is optional and indexed by the stores.
    #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Provenance {} {}
}

impl Provenance {
    /// Names of the provenance fields, in declaration order.
    pub const FIELDS: [&'static str; 11] = [
        "tenant_id",
        "agent_id",
        "agent_class",
        "framework_id",
        "package_id",
        "work_order_id",
        "session_id",
        "trace_id",
        "span_id",
        "parent_event_id",
        "tier",
    ];

    /// The value of a provenance field by name.
    pub fn get(&self, field: &str) -> Option<&str> {
        let v = match field {
            "tenant_id" => &self.tenant_id,
            "agent_id" => &self.agent_id,
            "agent_class" => &self.agent_class,
            "framework_id" => &self.framework_id,
            "package_id" => &self.package_id,
            "work_order_id" => &self.work_order_id,
            "session_id" => &self.session_id,
            "trace_id" => &self.trace_id,
            "span_id" => &self.span_id,
            "parent_event_id" => &self.parent_event_id,
            "tier" => &self.tier,
            _ => return None,
        };
        v.as_deref()
    }
}

/// An entry to append: what the caller decides. The store assigns `seq`, `id` (UUIDv7),
/// `timestamp`, `previous_hash` and `entry_hash`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewEntry {
    /// Event type (see [`super::event`]).
    pub event_type: String,
    /// Submission the entry concerns (Python-compatible field).
    pub submission_id: Option<String>,
    /// Decision taken (`ALLOW`, `DENY`, `PASS`, …).
    pub decision: Option<String>,
    /// Human-readable reason.
    pub reason: Option<String>,
    /// Event-specific data (a JSON object).
    pub metadata: Map<String, Value>,
    /// Provenance fields.
    pub provenance: Provenance,
}

impl NewEntry {
    /// A new entry of `event_type` with everything else empty.
    pub fn new(event_type: impl Into<String>) -> Self {
        Self { event_type: event_type.into(), ..Self::default() }
    }

    /// Sets the decision.
    pub fn decision(mut self, d: impl Into<String>) -> Self {
        self.decision = Some(d.into());
        self
    }

    /// Sets the reason.
    pub fn reason(mut self, r: impl Into<String>) -> Self {
        self.reason = Some(r.into());
        self
    }

    /// Sets the submission id.
    pub fn submission(mut self, s: impl Into<String>) -> Self {
        self.submission_id = Some(s.into());
        self
    }

    /// Adds one metadata key.
    pub fn meta(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the provenance.
    pub fn provenance(mut self, p: Provenance) -> Self {
        self.provenance = p;
        self
    }

    /// Renders the metadata as canonical JSON now, so that sealing the entry later (under a
    /// store's write lock) only writes the chain fields around those bytes.
    pub fn prepare(self) -> PreparedEntry {
        let mut metadata_json = Vec::with_capacity(256);
        canonical::write_object(&self.metadata, &mut metadata_json);
        PreparedEntry { entry: self, metadata_json }
    }
}

/// A [`NewEntry`] whose metadata is already rendered as canonical JSON (RFC 8785), built by
/// [`NewEntry::prepare`]. Appending it ([`super::LedgerStore::append_prepared`]) seals the same
/// bytes as appending the entry itself, with the rendering done before the store's write lock
/// is taken rather than inside it. It cannot be changed, so the rendered bytes always say what
/// the entry's metadata says.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedEntry {
    entry: NewEntry,
    metadata_json: Vec<u8>,
}

impl PreparedEntry {
    /// The entry.
    pub fn entry(&self) -> &NewEntry {
        &self.entry
    }

    /// The entry, giving up the rendering.
    pub fn into_entry(self) -> NewEntry {
        self.entry
    }
}

impl From<NewEntry> for PreparedEntry {
    fn from(e: NewEntry) -> Self {
        e.prepare()
    }
}

with_provenance! {
    /// A stored ledger entry.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct LedgerEntry {
        /// 0-based dense position in its ledger.
        pub seq: u64,
        /// UUIDv7 (time-ordered) identifier.
        pub id: String,
        /// RFC 3339 UTC time of the append, e.g. `2026-11-22T05:03:04.123456789Z`.
        pub timestamp: String,
        /// Entry format version ([`SCHEMA_VERSION`]).
        pub schema_version: String,
        /// Event type.
        pub event_type: String,
        /// Submission id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub submission_id: Option<String>,
        /// Decision.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub decision: Option<String>,
        /// Reason.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub reason: Option<String>,
        /// Event-specific data.
        #[serde(default)]
        pub metadata: Map<String, Value>,
    } {
        /// `entry_hash` of the previous entry (64 zeros for entry 0).
        pub previous_hash: String,
        /// `SHA-256(0x00 ‖ JCS(entry without entry_hash))`, 64 lowercase hex.
        pub entry_hash: String,
    }
}

impl LedgerEntry {
    /// Builds the entry that `new` becomes at position `seq` after `previous_hash`, hashing it.
    /// Returns the entry and the canonical bytes that were hashed.
    pub fn seal(new: NewEntry, seq: u64, id: String, timestamp: String, previous_hash: String) -> (Self, Vec<u8>) {
        Self::seal_prepared(new.prepare(), seq, id, timestamp, previous_hash)
    }

    /// [`LedgerEntry::seal`] of an entry whose metadata is rendered already.
    pub fn seal_prepared(
        prepared: PreparedEntry,
        seq: u64,
        id: String,
        timestamp: String,
        previous_hash: String,
    ) -> (Self, Vec<u8>) {
        let PreparedEntry { entry: new, metadata_json } = prepared;
        let p = new.provenance;
        let mut e = LedgerEntry {
            seq,
            id,
            timestamp,
            schema_version: SCHEMA_VERSION.to_string(),
            event_type: new.event_type,
            submission_id: new.submission_id,
            decision: new.decision,
            reason: new.reason,
            metadata: new.metadata,
            tenant_id: p.tenant_id,
            agent_id: p.agent_id,
            agent_class: p.agent_class,
            framework_id: p.framework_id,
            package_id: p.package_id,
            work_order_id: p.work_order_id,
            session_id: p.session_id,
            trace_id: p.trace_id,
            span_id: p.span_id,
            parent_event_id: p.parent_event_id,
            tier: p.tier,
            previous_hash,
            entry_hash: String::new(),
        };
        let mut body = Vec::with_capacity(metadata_json.len() + 512);
        e.write_body_around(&mut body, &mut |out| out.extend_from_slice(&metadata_json));
        e.entry_hash = compute_entry_hash(&body);
        (e, body)
    }

    /// The canonical JSON (RFC 8785) of this entry without `entry_hash`: the bytes that are hashed.
    pub fn canonical_body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        self.write_canonical_body(&mut out);
        out
    }

    /// Writes the canonical body directly: the members in JCS order (all keys are ASCII, so
    /// UTF-16 order is byte order), absent optional fields omitted — byte-for-byte what
    /// `canonical::to_vec` gives for the serialized entry without `entry_hash` (tested), without
    /// building an intermediate `serde_json::Value`.
    fn write_canonical_body(&self, out: &mut Vec<u8>) {
        self.write_body_around(out, &mut |out| canonical::write_object(&self.metadata, out));
    }

    /// The canonical body with the metadata's canonical JSON written by `metadata`.
    fn write_body_around(&self, out: &mut Vec<u8>, metadata: &mut dyn FnMut(&mut Vec<u8>)) {
        let mut first = true;
        let mut key = |out: &mut Vec<u8>, k: &str| {
            out.push(if first { b'{' } else { b',' });
            first = false;
            canonical::write_string(k, out);
            out.push(b':');
        };
        let opt = |out: &mut Vec<u8>, key: &mut dyn FnMut(&mut Vec<u8>, &str), k: &str, v: &Option<String>| {
            if let Some(v) = v {
                key(out, k);
                canonical::write_string(v, out);
            }
        };
        opt(out, &mut key, "agent_class", &self.agent_class);
        opt(out, &mut key, "agent_id", &self.agent_id);
        opt(out, &mut key, "decision", &self.decision);
        key(out, "event_type");
        canonical::write_string(&self.event_type, out);
        opt(out, &mut key, "framework_id", &self.framework_id);
        key(out, "id");
        canonical::write_string(&self.id, out);
        key(out, "metadata");
        metadata(out);
        opt(out, &mut key, "package_id", &self.package_id);
        opt(out, &mut key, "parent_event_id", &self.parent_event_id);
        key(out, "previous_hash");
        canonical::write_string(&self.previous_hash, out);
        opt(out, &mut key, "reason", &self.reason);
        key(out, "schema_version");
        canonical::write_string(&self.schema_version, out);
        key(out, "seq");
        canonical::write_es_number(self.seq as f64, out);
        opt(out, &mut key, "session_id", &self.session_id);
        opt(out, &mut key, "span_id", &self.span_id);
        opt(out, &mut key, "submission_id", &self.submission_id);
        opt(out, &mut key, "tenant_id", &self.tenant_id);
        opt(out, &mut key, "tier", &self.tier);
        key(out, "timestamp");
        canonical::write_string(&self.timestamp, out);
        opt(out, &mut key, "trace_id", &self.trace_id);
        opt(out, &mut key, "work_order_id", &self.work_order_id);
        out.push(b'}');
    }

    /// The canonical body through the generic path (serialize → drop `entry_hash` → JCS): the
    /// reference that [`LedgerEntry::canonical_body`] is tested against.
    pub fn canonical_body_generic(&self) -> Vec<u8> {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.remove("entry_hash");
        }
        canonical::to_vec(&v)
    }

    /// The provenance fields of this entry.
    pub fn provenance(&self) -> Provenance {
        Provenance {
            tenant_id: self.tenant_id.clone(),
            agent_id: self.agent_id.clone(),
            agent_class: self.agent_class.clone(),
            framework_id: self.framework_id.clone(),
            package_id: self.package_id.clone(),
            work_order_id: self.work_order_id.clone(),
            session_id: self.session_id.clone(),
            trace_id: self.trace_id.clone(),
            span_id: self.span_id.clone(),
            parent_event_id: self.parent_event_id.clone(),
            tier: self.tier.clone(),
        }
    }
}

/// `hex(SHA-256(0x00 ‖ body))`.
pub fn compute_entry_hash(body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(body);
    const_hex::encode(h.finalize())
}

#[cfg(test)]
mod body_tests {
    use super::*;
    use proptest::prelude::*;

    fn opt() -> impl Strategy<Value = Option<String>> {
        proptest::option::of("[\\PC\u{0}-\u{1f}\u{7f}-\u{10ffff}]{0,12}")
    }

    proptest! {
        #[test]
        fn direct_body_equals_generic_jcs(
            seq in 0u64..(1u64 << 53),
            ev in "[A-Z][A-Z0-9_]{0,20}",
            strs in proptest::collection::vec(opt(), 14),
            meta in proptest::collection::btree_map("[\\PC]{0,6}", prop_oneof![
                any::<i64>().prop_map(serde_json::Value::from),
                any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
                "[\\PC]{0,8}".prop_map(serde_json::Value::from),
                any::<bool>().prop_map(serde_json::Value::from),
            ], 0..5),
        ) {
            let new = NewEntry {
                event_type: ev,
                submission_id: strs[0].clone(),
                decision: strs[1].clone(),
                reason: strs[2].clone(),
                metadata: meta.into_iter().collect(),
                provenance: Provenance {
                    tenant_id: strs[3].clone(),
                    agent_id: strs[4].clone(),
                    agent_class: strs[5].clone(),
                    framework_id: strs[6].clone(),
                    package_id: strs[7].clone(),
                    work_order_id: strs[8].clone(),
                    session_id: strs[9].clone(),
                    trace_id: strs[10].clone(),
                    span_id: strs[11].clone(),
                    parent_event_id: strs[12].clone(),
                    tier: strs[13].clone(),
                },
            };
            let (e, body) = LedgerEntry::seal(new, seq, "01890000-0000-7000-8000-000000000000".into(),
                "2026-11-22T05:03:04.000000000Z".into(), GENESIS_PREVIOUS_HASH.into());
            let generic = e.canonical_body_generic();
            prop_assert_eq!(String::from_utf8_lossy(&body), String::from_utf8_lossy(&generic));
        }
    }
}
