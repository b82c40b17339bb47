//! The work-order lifecycle config (`HOT/config/work_orders.yaml`, schema `work_orders`),
//! shipped by `PKG-PROMPT-ROUTER-001`.

use serde::{Deserialize, Serialize};

/// Schema name of the lifecycle config.
pub const WORK_ORDERS_CONFIG_SCHEMA: &str = "work_orders";
/// Schema name of a work-order document.
pub const WORK_ORDER_SCHEMA: &str = "work_order";
/// Plane-relative path of the lifecycle config.
pub const WORK_ORDERS_CONFIG_PATH: &str = "HOT/config/work_orders.yaml";
/// Package that ships the lifecycle config.
pub const WORK_ORDERS_PACKAGE: &str = "PKG-PROMPT-ROUTER-001";
/// The lifecycle config shipped by `PKG-PROMPT-ROUTER-001` (compiled in for tests and tools
/// that build a plane from scratch; the plane's installed copy is what the kernel reads).
pub const SHIPPED_WORK_ORDERS_CONFIG: &str =
    include_str!("../../../packages/PKG-PROMPT-ROUTER-001/HOT/config/work_orders.yaml");

/// The lifecycle of a work order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleConfig {
    /// Document format version (`"1.0"`).
    pub schema_version: String,
    /// Every state a work order can be in.
    pub states: Vec<String>,
    /// State of a new work order (default `planned`).
    pub initial_state: String,
    /// States no transition leaves (default `completed`, `failed`).
    pub terminal_states: Vec<String>,
    /// Token roles allowed to create a work order (default `operator`).
    pub create_roles: Vec<String>,
    /// The legal transitions; any other is refused.
    pub transitions: Vec<TransitionRule>,
}

/// One legal transition and who may make it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionRule {
    /// What it means (`dispatch`, `start`, `complete`, `fail`, `reject`, `revise`).
    pub name: String,
    /// State it leaves.
    pub from: String,
    /// State it enters.
    pub to: String,
    /// Token roles allowed to make it.
    pub roles: Vec<String>,
}

impl LifecycleConfig {
    /// Checks what the schema cannot: every state named is declared, the initial state is not
    /// terminal, no transition leaves a terminal state, no `(from, to)` pair is listed twice.
    /// Returns every problem as `(field path, what is wrong)`.
    pub fn validate(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let known = |path: String, s: &str, out: &mut Vec<(String, String)>| {
            if !self.states.iter().any(|x| x == s) {
                out.push((path, format!("state {s:?} is not one of states {:?}", self.states)));
            }
        };
        known("/initial_state".into(), &self.initial_state, &mut out);
        for (i, t) in self.terminal_states.iter().enumerate() {
            known(format!("/terminal_states/{i}"), t, &mut out);
        }
        if self.is_terminal(&self.initial_state) {
            out.push(("/initial_state".into(), "the initial state is terminal".into()));
        }
        for (i, t) in self.transitions.iter().enumerate() {
            known(format!("/transitions/{i}/from"), &t.from, &mut out);
            known(format!("/transitions/{i}/to"), &t.to, &mut out);
            if self.is_terminal(&t.from) {
                out.push((
                    format!("/transitions/{i}/from"),
                    format!("{:?} is terminal: no transition leaves it", t.from),
                ));
            }
            if self.transitions[..i].iter().any(|o| o.from == t.from && o.to == t.to) {
                out.push((format!("/transitions/{i}"), format!("{} → {} is listed twice", t.from, t.to)));
            }
        }
        out
    }

    /// Whether `state` is terminal.
    pub fn is_terminal(&self, state: &str) -> bool {
        self.terminal_states.iter().any(|t| t == state)
    }

    /// Whether `state` is declared.
    pub fn has_state(&self, state: &str) -> bool {
        self.states.iter().any(|s| s == state)
    }

    /// The rule for `from → to`, if that transition is legal.
    pub fn rule(&self, from: &str, to: &str) -> Option<&TransitionRule> {
        self.transitions.iter().find(|t| t.from == from && t.to == to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> LifecycleConfig {
        let s = crate::schema::SchemaSet::embedded().unwrap();
        s.load_str(WORK_ORDERS_CONFIG_SCHEMA, std::path::Path::new("work_orders.yaml"), SHIPPED_WORK_ORDERS_CONFIG)
            .unwrap()
    }

    #[test]
    fn the_shipped_lifecycle_validates_and_models_the_protocol() {
        let c = shipped();
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        assert_eq!(c.initial_state, "planned");
        for (from, to) in [
            ("planned", "dispatched"),
            ("dispatched", "executing"),
            ("executing", "completed"),
            ("executing", "failed"),
            ("dispatched", "planned"),
            ("executing", "planned"),
        ] {
            assert!(c.rule(from, to).is_some(), "{from} → {to}");
        }
        assert!(c.rule("planned", "completed").is_none());
    }

    #[test]
    fn validate_names_each_bad_field() {
        let mut c = shipped();
        c.initial_state = "completed".into();
        c.transitions.push(TransitionRule {
            name: "x".into(),
            from: "failed".into(),
            to: "nowhere".into(),
            roles: vec!["operator".into()],
        });
        c.transitions.push(c.transitions[0].clone());
        let paths: Vec<String> = c.validate().into_iter().map(|(p, _)| p).collect();
        assert_eq!(paths, ["/initial_state", "/transitions/6/to", "/transitions/6/from", "/transitions/7"]);
    }
}
