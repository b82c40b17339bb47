//! `aef info`: what a set of AEF streams contains — sessions, entries per type, time range,
//! agents, models, token totals per model, tool calls per tool. Reads entries as JSON without
//! validating them (use `validate` for that). Memory: per session tracked (at most
//! `Limits::max_sessions`) and per distinct name (at most `Limits::max_types` each).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::entry::Tokens;
use crate::input::{Input, InputError, Line};
use crate::limits::Limits;
use crate::session::USAGE_REPORT_TYPE;

/// What is known of one session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SessionInfo {
    /// The agent of its `session.start`.
    pub agent: Option<String>,
    /// The model of its `session.start`.
    pub model: Option<String>,
    /// Entries seen.
    pub entries: u64,
    /// Earliest `ts`.
    pub first_ts: Option<i64>,
    /// Latest `ts`.
    pub last_ts: Option<i64>,
    /// Status of its `session.end`, if seen.
    pub status: Option<String>,
    /// Tokens over its messages and usage reports.
    pub tokens: Tokens,
}

/// The answer of `aef info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Info {
    /// Entries read.
    pub entries: u64,
    /// Lines that were not JSON objects (skipped).
    pub unreadable_lines: u64,
    /// Entries per type.
    pub by_type: BTreeMap<String, u64>,
    /// Sessions by id.
    pub sessions: BTreeMap<String, SessionInfo>,
    /// Entries of sessions beyond the tracking limit.
    pub untracked_session_entries: u64,
    /// Earliest `ts` over all entries.
    pub first_ts: Option<i64>,
    /// Latest `ts` over all entries.
    pub last_ts: Option<i64>,
    /// Sessions per agent.
    pub agents: BTreeMap<String, u64>,
    /// Messages per model (`(unknown)` when neither the message nor its session names one).
    pub models: BTreeMap<String, u64>,
    /// Tokens per model (messages and usage reports; `(unknown)` when no model is named).
    pub tokens_by_model: BTreeMap<String, Tokens>,
    /// Tokens over everything.
    pub tokens: Tokens,
    /// `tool.call` entries per tool.
    pub tool_calls: BTreeMap<String, u64>,
    /// Names that did not fit in the maps above.
    pub other_names: u64,
}

/// Accumulates [`Info`] over entries.
#[derive(Debug, Default)]
pub struct InfoCollector {
    info: Info,
    limits: Limits,
}

impl InfoCollector {
    /// A collector with the given bounds.
    pub fn new(limits: Limits) -> InfoCollector {
        InfoCollector { info: Info::default(), limits }
    }

    /// Reads every line of an input.
    pub fn add_input(&mut self, input: Input) -> Result<(), InputError> {
        let mut lines = input.lines(self.limits.max_line_bytes);
        while let Some((_, line)) = lines.next_line()? {
            match line {
                Line::Text(t) if t.iter().all(u8::is_ascii_whitespace) => {}
                Line::Text(t) => match serde_json::from_slice::<Value>(t) {
                    Ok(v @ Value::Object(_)) => self.add(&v),
                    _ => self.info.unreadable_lines += 1,
                },
                Line::TooLong { .. } => self.info.unreadable_lines += 1,
            }
        }
        Ok(())
    }

    /// Counts one entry.
    pub fn add(&mut self, e: &Value) {
        let max = self.limits.max_types;
        let info = &mut self.info;
        info.entries += 1;
        let t = e.get("type").and_then(Value::as_str).unwrap_or("(none)");
        info.other_names += u64::from(!bump(&mut info.by_type, t, max));
        let ts = e.get("ts").and_then(Value::as_i64);
        if let Some(ts) = ts {
            info.first_ts = Some(info.first_ts.map_or(ts, |f| f.min(ts)));
            info.last_ts = Some(info.last_ts.map_or(ts, |l| l.max(ts)));
        }
        let sid = e.get("sid").and_then(Value::as_str).unwrap_or("(none)");
        if !info.sessions.contains_key(sid) && info.sessions.len() >= self.limits.max_sessions {
            info.untracked_session_entries += 1;
            return;
        }
        let s = info.sessions.entry(sid.to_string()).or_default();
        s.entries += 1;
        if let Some(ts) = ts {
            s.first_ts = Some(s.first_ts.map_or(ts, |f| f.min(ts)));
            s.last_ts = Some(s.last_ts.map_or(ts, |l| l.max(ts)));
        }
        let str_of = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
        let tokens = match t {
            "session.start" => {
                s.agent = str_of("agent");
                s.model = str_of("model");
                if let Some(a) = &s.agent {
                    info.other_names += u64::from(!bump(&mut info.agents, a, max));
                }
                None
            }
            "session.end" => {
                s.status = str_of("status");
                None
            }
            "tool.call" => {
                let tool = str_of("tool").unwrap_or_else(|| "(none)".into());
                info.other_names += u64::from(!bump(&mut info.tool_calls, &tool, max));
                None
            }
            "message" => {
                let model = str_of("model").or_else(|| s.model.clone()).unwrap_or_else(|| "(unknown)".into());
                info.other_names += u64::from(!bump(&mut info.models, &model, max));
                e.get("tokens").and_then(Tokens::from_value)
            }
            USAGE_REPORT_TYPE => e.get("tokens").and_then(Tokens::from_value),
            _ => None,
        };
        let Some(tokens) = tokens else { return };
        s.tokens.add(&tokens);
        info.tokens.add(&tokens);
        let model = str_of("model").or_else(|| s.model.clone()).unwrap_or_else(|| "(unknown)".into());
        if info.tokens_by_model.contains_key(&model) || info.tokens_by_model.len() < max {
            info.tokens_by_model.entry(model).or_default().add(&tokens);
        } else {
            info.other_names += 1;
        }
    }

    /// The result.
    pub fn finish(self) -> Info {
        self.info
    }
}

/// Adds one to `name` unless the map is full; answers whether it was counted.
fn bump(map: &mut BTreeMap<String, u64>, name: &str, max: usize) -> bool {
    if let Some(n) = map.get_mut(name) {
        *n += 1;
        return true;
    }
    if map.len() >= max {
        return false;
    }
    map.insert(name.to_string(), 1);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_tokens_per_model_and_tools() {
        let mut c = InfoCollector::new(Limits::default());
        c.add(&json!({"v":1,"id":"s","ts":10,"type":"session.start","sid":"a","agent":"x","model":"m0"}));
        c.add(&json!({"v":1,"id":"1","ts":20,"type":"message","sid":"a","role":"assistant","content":"","model":"m1","tokens":{"input":5,"output":2}}));
        c.add(&json!({"v":1,"id":"2","ts":30,"type":"message","sid":"a","role":"assistant","content":"","tokens":{"input":1,"output":1}}));
        c.add(&json!({"v":1,"id":"3","ts":40,"type":"tool.call","sid":"a","tool":"Read","args":{}}));
        c.add(&json!({"v":1,"id":"4","ts":50,"type":"aef.usage.report","sid":"a","tokens":{"input":0,"output":3}}));
        let i = c.finish();
        assert_eq!(i.entries, 5);
        assert_eq!(i.tokens_by_model["m1"].input, 5);
        assert_eq!(i.tokens_by_model["m0"].output, 4);
        assert_eq!(i.tool_calls["Read"], 1);
        assert_eq!(i.tokens.output, 6);
        assert_eq!((i.first_ts, i.last_ts), (Some(10), Some(50)));
        assert_eq!(i.agents["x"], 1);
        assert_eq!((i.models["m1"], i.models["m0"]), (1, 1));
    }

    #[test]
    fn session_tracking_is_bounded() {
        let mut c = InfoCollector::new(Limits { max_sessions: 1, ..Limits::default() });
        c.add(&json!({"type":"message","sid":"a"}));
        c.add(&json!({"type":"message","sid":"b"}));
        let i = c.finish();
        assert_eq!(i.sessions.len(), 1);
        assert_eq!(i.untracked_session_entries, 1);
    }
}
