//! Building one session's entries in order: sequence numbers, and the `session.end` summary
//! computed from what was recorded. Adapters and exporters (the kernel's `cpctl aef export`) use
//! it so every producer numbers and sums the same way. Owns no I/O (see `writer`).

use crate::entry::{Body, Entry, SessionEnd, Status, Summary, Tokens};

/// The extension type that carries token usage a source reported apart from any message.
pub const USAGE_REPORT_TYPE: &str = "aef.usage.report";

/// Records the entries of one session: assigns `seq` from 0 and keeps the running summary.
///
/// Exporting a session (the kernel's `cpctl aef export`) is a loop over its events:
///
/// ```
/// use aef::{Body, Content, EntryWriter, Extension, Message, Role, SessionRecorder, SessionStart, Status, Tokens, Validator};
///
/// let mut out = EntryWriter::new(Vec::new());
/// let mut rec = SessionRecorder::new("sess-1");
/// let start = SessionStart { agent: "cp-kernel".into(), ..SessionStart::default() };
/// out.write(&rec.entry("sess-1:start", 1_000, None, Body::SessionStart(start)))?;
/// let reply = Message {
///     role: Role::Assistant,
///     content: Content::Text("done".into()),
///     tokens: Some(Tokens { input: 1200, output: 80, cached: Some(1000), cache_write: None, reasoning: None }),
///     model: Some("m".into()),
///     subagent: None,
/// };
/// out.write(&rec.entry("p1", 2_000, Some("sess-1:start".into()), Body::Message(reply)))?;
/// let mut cost = serde_json::Map::new();
/// cost.insert("usd".into(), 0.0123.into());
/// out.write(&rec.entry("p1:cost", 2_000, Some("p1".into()), Body::Extension(Extension { type_name: "cp.prompt.cost".into(), fields: cost })))?;
/// let end = rec.end("sess-1:end", 3_000, Status::Complete);
/// out.write(&end)?;
///
/// let text = String::from_utf8(out.into_inner()).unwrap();
/// let v = Validator::new(false)?;
/// assert!(text.lines().all(|l| v.check_line(l.as_bytes()).is_valid()));
/// assert_eq!(rec.summary().tokens.input, 1200);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SessionRecorder {
    sid: String,
    next_seq: u64,
    summary: Summary,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
}

impl SessionRecorder {
    /// A recorder for session `sid` (an empty id becomes `unknown`).
    pub fn new(sid: impl Into<String>) -> SessionRecorder {
        let mut sid = sid.into();
        if sid.is_empty() {
            sid = "unknown".into();
        }
        SessionRecorder { sid, next_seq: 0, summary: Summary::default(), first_ts: None, last_ts: None }
    }

    /// The session id.
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// How many entries were recorded.
    pub fn recorded(&self) -> u64 {
        self.next_seq
    }

    /// The summary so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Makes the next entry of the session: its `seq` is the number of entries before it. An
    /// empty `id` becomes `<sid>:seq<n>`, an empty `pid` none, a negative `ts` 0, so what a
    /// recorder makes always has valid base fields.
    pub fn entry(&mut self, id: impl Into<String>, ts: i64, pid: Option<String>, body: Body) -> Entry {
        let ts = ts.max(0);
        self.count(ts, &body);
        let mut id = id.into();
        if id.is_empty() {
            id = format!("{}:seq{}", self.sid, self.next_seq);
        }
        let pid = pid.filter(|p| !p.is_empty());
        let e = Entry::new(id, ts, self.sid.clone(), body).with_pid(pid).with_seq(self.next_seq);
        self.next_seq += 1;
        e
    }

    /// Makes the `session.end` entry with the summary of everything recorded.
    pub fn end(&mut self, id: impl Into<String>, ts: i64, status: Status) -> Entry {
        let ts = ts.max(self.last_ts.unwrap_or(ts));
        self.observe_ts(ts);
        let mut summary = self.summary.clone();
        summary.duration_ms = match (self.first_ts, self.last_ts) {
            (Some(a), Some(b)) => u64::try_from(b.saturating_sub(a)).unwrap_or(0),
            _ => 0,
        };
        self.entry(id, ts, None, Body::SessionEnd(SessionEnd { status, summary: Some(summary) }))
    }

    fn observe_ts(&mut self, ts: i64) {
        self.first_ts = Some(self.first_ts.map_or(ts, |f| f.min(ts)));
        self.last_ts = Some(self.last_ts.map_or(ts, |l| l.max(ts)));
    }

    fn count(&mut self, ts: i64, body: &Body) {
        self.observe_ts(ts);
        match body {
            Body::Message(m) => {
                self.summary.messages += 1;
                if let Some(t) = &m.tokens {
                    self.summary.tokens.add(t);
                }
            }
            Body::ToolCall(_) => self.summary.tool_calls += 1,
            Body::Error(_) => self.summary.errors += 1,
            Body::Extension(x) if x.type_name == USAGE_REPORT_TYPE => {
                if let Some(t) = x.fields.get("tokens").and_then(Tokens::from_value) {
                    self.summary.tokens.add(&t);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Content, Message, Role, ToolCall};

    fn msg(tokens: Option<Tokens>) -> Body {
        Body::Message(Message {
            role: Role::Assistant,
            content: Content::Text("x".into()),
            tokens,
            model: None,
            subagent: None,
        })
    }

    #[test]
    fn seq_is_dense_and_end_sums_tokens_and_duration() {
        let mut r = SessionRecorder::new("s");
        let a = r.entry("a", 1000, None, msg(Some(Tokens { input: 10, output: 5, ..Tokens::default() })));
        let b = r.entry(
            "b",
            1500,
            Some("a".into()),
            Body::ToolCall(ToolCall { tool: "t".into(), args: Default::default(), call_id: None, subagent: None }),
        );
        let c =
            r.entry("c", 3000, None, msg(Some(Tokens { input: 1, output: 1, cached: Some(1), ..Tokens::default() })));
        assert_eq!((a.seq, b.seq, c.seq), (Some(0), Some(1), Some(2)));
        let end = r.end("end", 2000, Status::Complete);
        assert_eq!(end.seq, Some(3));
        assert_eq!(end.ts, 3000, "end is never before the last entry");
        let Body::SessionEnd(SessionEnd { summary: Some(s), .. }) = end.body else { panic!("not an end") };
        assert_eq!(s.messages, 2);
        assert_eq!(s.tool_calls, 1);
        assert_eq!(s.duration_ms, 2000);
        assert_eq!(s.tokens, Tokens { input: 11, output: 6, cached: Some(1), cache_write: None, reasoning: None });
    }
}
