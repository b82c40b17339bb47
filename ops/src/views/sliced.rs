//! Per-hour aggregates kept for every filter the API accepts — none, one workflow, one agent,
//! or both — so that a filtered window query reads whole hours from their aggregate, as an
//! unfiltered one does, instead of visiting every run of the window (a filtered overview over
//! 1 M runs took ~1 s that way).

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use super::Filter;

/// Hour start → aggregate.
pub(crate) type Hours<T> = BTreeMap<i64, T>;

/// The per-hour aggregates `T` of every slice of the data a [`Filter`] can select.
#[derive(Debug)]
pub(crate) struct Sliced<T> {
    all: Hours<T>,
    workflow: HashMap<String, Hours<T>>,
    agent: HashMap<String, Hours<T>>,
    pair: HashMap<String, HashMap<String, Hours<T>>>,
}

impl<T> Default for Sliced<T> {
    fn default() -> Self {
        Self { all: BTreeMap::new(), workflow: HashMap::new(), agent: HashMap::new(), pair: HashMap::new() }
    }
}

impl<T: Default> Sliced<T> {
    /// Applies `f` to hour `hour` of every slice holding data of `workflow` and `agent`; an
    /// hour for which `f` returns false (nothing left in it) is removed.
    pub(crate) fn update(&mut self, workflow: &str, agent: &str, hour: i64, f: &mut dyn FnMut(&mut T) -> bool) {
        touch(&mut self.all, hour, f);
        slot(&mut self.workflow, workflow, |h| touch(h, hour, f));
        slot(&mut self.agent, agent, |h| touch(h, hour, f));
        slot(&mut self.pair, workflow, |m| slot(m, agent, |h| touch(h, hour, f)));
    }
}

impl<T> Sliced<T> {
    /// The hours of the slice `f` selects (`None`: no data of it was ever seen).
    pub(crate) fn hours(&self, f: &Filter) -> Option<&Hours<T>> {
        match (f.workflow_id.as_deref(), f.agent_id.as_deref()) {
            (None, None) => Some(&self.all),
            (Some(w), None) => self.workflow.get(w),
            (None, Some(a)) => self.agent.get(a),
            (Some(w), Some(a)) => self.pair.get(w).and_then(|m| m.get(a)),
        }
    }

    /// The hours in `hours` of the slice `f` selects, oldest first.
    pub(crate) fn range(&self, f: &Filter, hours: Range<i64>) -> impl Iterator<Item = (&i64, &T)> {
        self.hours(f).into_iter().flat_map(move |h| h.range(hours.clone()))
    }
}

/// Runs `f` on hour `hour` of `h` (created empty), dropping it when `f` says it is empty.
fn touch<T: Default>(h: &mut Hours<T>, hour: i64, f: &mut dyn FnMut(&mut T) -> bool) {
    let v = h.entry(hour).or_default();
    if !f(v) {
        h.remove(&hour);
    }
}

/// Runs `f` on the value of `key` in `m` (created empty; the key is copied only then).
fn slot<V: Default>(m: &mut HashMap<String, V>, key: &str, f: impl FnOnce(&mut V)) {
    match m.get_mut(key) {
        Some(v) => f(v),
        None => {
            let mut v = V::default();
            f(&mut v);
            m.insert(key.to_string(), v);
        }
    }
}
