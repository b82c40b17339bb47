//! Issue 9 §1, cross-tenant context leak: the tenant of every assembly and route is the verified
//! token's. Every field of a request that can carry a tenant or a session is tried with another
//! tenant's value, through `cpctl route` and `cpctl attention assemble`: each is refused (exit
//! 2, `ACCESS_DENIED`), logged as an `ACCESS_DENIED` entry of the caller's tenant, and the
//! victim's text appears in no entry of any other tenant (`log_content: full`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cp_kernel::testkit::{TempPlane, router_test_configs, test_contract, test_secret, write_router_configs};
use cp_kernel::{LedgerQuery, LedgerSet, NewEntry, PromptRouter, Provenance, RouterOptions};
use serde_json::{Value, json};

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const VICTIM_TEXT: &str = "VICTIM-PAYROLL-7f3a";
const ACME_TEXT: &str = "ACME-ROADMAP-19c2";

/// A template reading the request session's `HO1/notes` entries for every KERNEL.semantic agent.
const TEMPLATE: &str = "template_id: ATT-SESSION\nversion: \"1.0.0\"\napplies_to: {agent_class: [KERNEL.semantic]}\n\
pipeline:\n  - stage: notes\n    type: ledger_query\n    config: {event_type: NOTE, tier: ho1, ledger: notes, max_entries: 50, recency: session}\n\
budget:\n  max_context_tokens: 100000\n  max_queries: 100\n  timeout_ms: 100000\n\
fallback:\n  on_timeout: return_partial\n  on_empty: proceed_empty\n";

struct Fx {
    tp: TempPlane,
    acme: String,
    victim: String,
}

fn fixture() -> Fx {
    let tp = TempPlane::new();
    let (mut r, b, p) = router_test_configs();
    r["log_content"] = json!("full");
    write_router_configs(&tp, &r, &b, &p);
    let t = tp.plane.root().join("HOT/attention_templates/ATT-SESSION.yaml");
    std::fs::create_dir_all(t.parent().unwrap()).unwrap();
    std::fs::write(&t, TEMPLATE).unwrap();
    let notes = LedgerSet::new(&tp.plane).open("HO1/notes").unwrap();
    for (tenant, session, text) in [("victim", "vs", VICTIM_TEXT), ("acme", "as", ACME_TEXT)] {
        let prov =
            Provenance { tenant_id: Some(tenant.into()), session_id: Some(session.into()), ..Provenance::default() };
        notes.append(NewEntry::new("NOTE").reason(text).provenance(prov)).unwrap();
    }
    // Tokens go to child processes on the real clock: issued relative to now.
    let router = PromptRouter::open(&tp.plane, RouterOptions::new().auth_secret(test_secret())).unwrap();
    let (acme, _) = router.issue_token("alice", &["agent".into()], "acme", Some(3600)).unwrap();
    let (victim, _) = router.issue_token("vic", &["agent".into()], "victim", Some(3600)).unwrap();
    drop(router);
    std::fs::write(tp.dir.path().join("contract.json"), serde_json::to_vec(&test_contract()).unwrap()).unwrap();
    Fx { tp, acme, victim }
}

fn cpctl(fx: &Fx, token: &str, args: &[&str], request: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cpctl"))
        .arg("--root")
        .arg(fx.tp.plane.root())
        .args(args)
        .arg("--request")
        .arg(request)
        .env("CP_AUTH_SECRET", SECRET)
        .env("CP_AUTH_TOKEN", token)
        .env_remove("CP_AUTH_SECRET_FILE")
        .env_remove("CP_OPENAI_BASE_URL")
        .output()
        .unwrap()
}

fn write(fx: &Fx, name: &str, v: &Value) -> PathBuf {
    let p = fx.tp.dir.path().join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    p
}

fn route_request() -> Value {
    json!({"contract": "contract.json", "input": {"question": "what is planned?"},
           "provenance": {"session_id": "as", "agent_id": "a1"},
           "attention": {"agent_id": "a1", "agent_class": "KERNEL.semantic", "tier": "ho1"}})
}

fn assemble_request() -> Value {
    json!({"agent_id": "a1", "agent_class": "KERNEL.semantic", "tier": "ho1", "session_id": "as"})
}

fn all_entries(fx: &Fx) -> Vec<cp_kernel::LedgerEntry> {
    let set = LedgerSet::new(&fx.tp.plane);
    set.list()
        .unwrap()
        .into_iter()
        .flat_map(|n| set.open(&n.to_string()).unwrap().query(&LedgerQuery::default()).unwrap())
        .collect()
}

/// The victim's text is in no entry but the victim's own.
fn assert_no_leak(fx: &Fx, case: &str) {
    for e in all_entries(fx) {
        if e.tenant_id.as_deref() != Some("victim") {
            let text = serde_json::to_string(&e).unwrap();
            assert!(!text.contains(VICTIM_TEXT), "{case}: victim text in {} seq {}: {text}", e.event_type, e.seq);
        }
    }
}

fn assert_refused(fx: &Fx, case: &str, out: &Output, field: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{case}: {stderr}");
    assert!(stderr.contains("ACCESS_DENIED") && stderr.contains(field), "{case}: {stderr}");
    assert!(!stdout.contains(VICTIM_TEXT) && !stderr.contains(VICTIM_TEXT), "{case}");
    let prompts = LedgerSet::new(&fx.tp.plane).open("HO1/prompts").unwrap();
    let last = prompts.query(&LedgerQuery::default()).unwrap().pop().unwrap();
    assert_eq!(last.event_type, "ACCESS_DENIED", "{case}");
    assert_eq!(last.tenant_id.as_deref(), Some("acme"), "{case}: logged under the caller's tenant");
    assert_eq!(last.session_id, None, "{case}: a refusal never claims the named session");
    assert_eq!(last.metadata["code"], "ACCESS_DENIED", "{case}");
    assert_eq!(last.metadata["principal"], "alice", "{case}");
    assert_eq!(last.metadata["named"]["field"], field, "{case}");
    assert_no_leak(fx, case);
}

/// Sets `value` at the JSON `pointer` (creating objects on the way).
fn set(doc: &mut Value, pointer: &str, value: &str) {
    let mut at = doc;
    for key in pointer.trim_start_matches('/').split('/') {
        at = at.as_object_mut().unwrap().entry(key.to_string()).or_insert(json!({}));
    }
    *at = json!(value);
}

#[test]
fn every_tenant_or_session_field_naming_another_tenant_is_refused_logged_and_leaks_nothing() {
    let fx = fixture();
    // Controls: the pipeline does read session notes, so a refusal below is what keeps the
    // victim's text out (the victim reaches its own text; acme reaches its own).
    let req = write(&fx, "own.json", &assemble_request());
    let out = cpctl(&fx, &fx.acme, &["--json", "attention", "assemble"], &req);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let ctx: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(ctx["context_text"].as_str().unwrap().contains(ACME_TEXT));
    let mut own_victim = assemble_request();
    own_victim["session_id"] = json!("vs");
    let req = write(&fx, "victim_own.json", &own_victim);
    let out = cpctl(&fx, &fx.victim, &["--json", "attention", "assemble"], &req);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(VICTIM_TEXT));
    let req = write(&fx, "route_own.json", &route_request());
    let out = cpctl(&fx, &fx.acme, &["--json", "route"], &req);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("provider"));

    // The matrix: (command, field, value).
    let route_fields = [
        ("/attention/tenant_id", "victim"),
        ("/attention/session_id", "vs"),
        ("/provenance/tenant_id", "victim"),
        ("/provenance/session_id", "vs"),
        ("/input/tenant_id", "victim"),
    ];
    for (field, value) in route_fields {
        let mut doc = route_request();
        set(&mut doc, field, value);
        let req = write(&fx, "route_bad.json", &doc);
        let out = cpctl(&fx, &fx.acme, &["route"], &req);
        assert_refused(&fx, &format!("route {field}"), &out, field);
    }
    // A plain-context route (no attention) naming another tenant's session or tenant.
    for (field, value) in [("/provenance/session_id", "vs"), ("/provenance/tenant_id", "victim")] {
        let mut doc = route_request();
        doc.as_object_mut().unwrap().remove("attention");
        doc["context"] = json!("plain");
        set(&mut doc, field, value);
        let req = write(&fx, "route_plain.json", &doc);
        let out = cpctl(&fx, &fx.acme, &["route"], &req);
        assert_refused(&fx, &format!("plain route {field}"), &out, field);
    }
    for (field, value) in [("/tenant_id", "victim"), ("/session_id", "vs")] {
        let mut doc = assemble_request();
        set(&mut doc, field, value);
        let req = write(&fx, "assemble_bad.json", &doc);
        let out = cpctl(&fx, &fx.acme, &["attention", "assemble"], &req);
        assert_refused(&fx, &format!("assemble {field}"), &out, field);
    }
    // The file's own token cannot widen anything either: no token → AUTH_DENIED, logged.
    let req = write(&fx, "no_token.json", &assemble_request());
    let out = cpctl(&fx, "", &["attention", "assemble"], &req);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AUTH_DENIED"));
    assert_no_leak(&fx, "final");
}
