//! `cpctl budget reconcile` and `cpctl budget adjust`: the budget recomputed from the ledger and
//! compared with what the budgeter serves (differences exit 2), and compensating entries.

use cp_kernel::{AdjustRequest, PromptRouter, ReconcileReport, ScopeKey};

use crate::common::{CmdResult, Outcome, Settings, render};

/// `cpctl budget reconcile [--scope S]`.
pub(crate) fn reconcile(s: &Settings, router: &PromptRouter, scope: Option<&str>) -> CmdResult {
    let scope: Option<ScopeKey> = scope.map(str::parse).transpose()?;
    let r = router.reconcile(scope.as_ref())?;
    render(s, &r, text)?;
    Ok(if r.is_clean() { Outcome::Ok } else { Outcome::Refused })
}

fn text(r: &ReconcileReport) -> String {
    let at = r.at_seq.map_or_else(|| "an empty ledger".to_string(), |s| format!("seq {s}"));
    if r.is_clean() {
        return format!("reconciled {} scope(s) at {at}: no difference", r.scopes_checked);
    }
    let mut out = format!("reconciled {} scope(s) at {at}: {} difference(s)\n", r.scopes_checked, r.differences.len());
    let num = |v: Option<i128>| v.map_or_else(|| "unlimited".to_string(), |n| n.to_string());
    for d in &r.differences {
        out.push_str(&format!(
            "  {} {}: ledger {}, budgeter {}{}\n",
            d.scope,
            d.field,
            num(d.ledger),
            num(d.served),
            d.delta.map(|x| format!(" (off by {x})")).unwrap_or_default()
        ));
    }
    for seq in &r.malformed {
        out.push_str(&format!("  seq {seq}: budget record does not decode\n"));
    }
    out.trim_end().to_string()
}

/// `cpctl budget adjust`: appends a `COST_ADJUSTED` entry.
pub(crate) fn adjust(s: &Settings, router: &PromptRouter, token: &str, req: &AdjustRequest) -> CmdResult {
    let e = router.adjust_cost(token, req).map_err(crate::budget::refusal)?;
    render(s, &e, |e| {
        format!(
            "COST_ADJUSTED seq {}: request {} by {} micros / {} tokens",
            e.seq, req.request_id, req.delta_micros, req.delta_tokens
        )
    })?;
    Ok(Outcome::Ok)
}
