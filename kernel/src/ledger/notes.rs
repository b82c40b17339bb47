//! Operator notes: the only entries `cpctl ledger append` may write.
//!
//! Owns: the check of a free-form note against the plane's [`OperatorNotes`] policy (layout
//! `ledger.operator_notes`). Never does: write an entry.
//!
//! A note is refused when
//! * its event type does not match `event_type_pattern` (which also bounds its length and keeps
//!   control characters such as newline and ESC out) — `LEDGER_EVENT_TYPE_INVALID`;
//! * its event type is one the kernel writes itself ([`super::event::ALL`]) or starts with a
//!   reserved prefix (budget, install, auth, prompt, checkpoint, policy, …): those are written by
//!   their owning components only (the budgeter, the installer, the router, …), so a note can
//!   never raise a budget or fake an install — `LEDGER_EVENT_TYPE_RESERVED`;
//! * a text field carries a control character (the `reason` may hold newlines and tabs) or its
//!   metadata names the `principal` that the command records itself — `LEDGER_NOTE_INVALID`.

use serde_json::{Value, json};

use super::{NewEntry, event};
use crate::plane::OperatorNotes;

/// Metadata key under which `cpctl ledger append` records who wrote the note.
pub const PRINCIPAL_KEY: &str = "principal";

/// Characters of an offending value shown in a refusal.
const SHOWN_CHARS: usize = 64;

/// Why a note was refused: a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}; nothing was written")]
pub struct NoteRefused {
    /// `LEDGER_EVENT_TYPE_INVALID`, `LEDGER_EVENT_TYPE_RESERVED` or `LEDGER_NOTE_INVALID`.
    pub code: &'static str,
    /// What is wrong.
    pub message: String,
}

fn refused(code: &'static str, message: String) -> NoteRefused {
    NoteRefused { code, message }
}

/// `s` cut to a few characters, control characters escaped (`Debug`).
fn shown(s: &str) -> String {
    let cut: String = s.chars().take(SHOWN_CHARS).collect();
    if cut.len() < s.len() { format!("{cut:?}… ({} bytes)", s.len()) } else { format!("{cut:?}") }
}

/// Checks a note against `policy` (see the module docs).
pub fn check_operator_note(policy: &OperatorNotes, e: &NewEntry) -> Result<(), NoteRefused> {
    let et = &e.event_type;
    let schema = json!({"type": "string", "pattern": policy.event_type_pattern});
    let validator = jsonschema::validator_for(&schema).map_err(|err| {
        refused(
            "LEDGER_EVENT_TYPE_INVALID",
            format!("the layout's ledger.operator_notes.event_type_pattern is not a valid pattern: {err}"),
        )
    })?;
    if !validator.is_valid(&Value::String(et.clone())) {
        return Err(refused(
            "LEDGER_EVENT_TYPE_INVALID",
            format!(
                "event type {} does not match {} (layout ledger.operator_notes)",
                shown(et),
                policy.event_type_pattern
            ),
        ));
    }
    let prefix = policy.reserved_prefixes.iter().find(|p| et.starts_with(p.as_str()));
    if event::ALL.contains(&et.as_str()) || prefix.is_some() {
        let why = prefix.map_or_else(|| "the kernel writes it".to_string(), |p| format!("prefix {p} is reserved"));
        return Err(refused(
            "LEDGER_EVENT_TYPE_RESERVED",
            format!(
                "event type {et} is written only by the component that owns it ({why}); \
                 `ledger append` writes free-form operator notes"
            ),
        ));
    }
    let p = &e.provenance;
    let fields = [
        ("decision", e.decision.as_deref()),
        ("submission_id", e.submission_id.as_deref()),
        ("tenant_id", p.tenant_id.as_deref()),
        ("agent_id", p.agent_id.as_deref()),
        ("agent_class", p.agent_class.as_deref()),
        ("framework_id", p.framework_id.as_deref()),
        ("package_id", p.package_id.as_deref()),
        ("work_order_id", p.work_order_id.as_deref()),
        ("session_id", p.session_id.as_deref()),
        ("trace_id", p.trace_id.as_deref()),
        ("span_id", p.span_id.as_deref()),
        ("parent_event_id", p.parent_event_id.as_deref()),
        ("tier", p.tier.as_deref()),
    ];
    for (name, v) in fields {
        if let Some(v) = v
            && v.chars().any(char::is_control)
        {
            return Err(refused("LEDGER_NOTE_INVALID", format!("{name} {} contains a control character", shown(v))));
        }
    }
    if let Some(r) = &e.reason
        && r.chars().any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(refused(
            "LEDGER_NOTE_INVALID",
            format!("reason {} contains a control character other than newline or tab", shown(r)),
        ));
    }
    if e.metadata.contains_key(PRINCIPAL_KEY) {
        return Err(refused(
            "LEDGER_NOTE_INVALID",
            format!("metadata.{PRINCIPAL_KEY} is recorded by the command itself and may not be given"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plane::Layout;

    fn policy() -> OperatorNotes {
        Layout::default_layout().ledger.operator_notes()
    }

    fn code(et: &str) -> Option<&'static str> {
        check_operator_note(&policy(), &NewEntry::new(et)).err().map(|e| e.code)
    }

    #[test]
    fn notes_pass_and_reserved_or_malformed_types_are_refused() {
        for ok in ["NOTE", "OPERATOR_NOTE", "A", "CRASH_TEST", "X9"] {
            assert_eq!(code(ok), None, "{ok}");
        }
        for reserved in event::ALL.iter().copied().chain(["BUDGET_RAISED", "INSTALL_X", "AUTH_X", "POLICY_X"]) {
            assert_eq!(code(reserved), Some("LEDGER_EVENT_TYPE_RESERVED"), "{reserved}");
        }
        let long = "N".repeat(65);
        for bad in ["", "note", "NOTE\n", "NO\u{1b}[31mTE", "1NOTE", "NO TE", long.as_str()] {
            assert_eq!(code(bad), Some("LEDGER_EVENT_TYPE_INVALID"), "{bad:?}");
        }
    }

    #[test]
    fn control_characters_and_a_given_principal_are_refused() {
        let p = policy();
        let e = NewEntry::new("NOTE").reason("two\nlines\tok");
        assert!(check_operator_note(&p, &e).is_ok());
        let e = NewEntry::new("NOTE").reason("esc \u{1b}[2J");
        assert_eq!(check_operator_note(&p, &e).unwrap_err().code, "LEDGER_NOTE_INVALID");
        let e = NewEntry::new("NOTE").decision("ALLOW\n");
        assert_eq!(check_operator_note(&p, &e).unwrap_err().code, "LEDGER_NOTE_INVALID");
        let e = NewEntry::new("NOTE").meta(PRINCIPAL_KEY, "root");
        assert_eq!(check_operator_note(&p, &e).unwrap_err().code, "LEDGER_NOTE_INVALID");
    }
}
