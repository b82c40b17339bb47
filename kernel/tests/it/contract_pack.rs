//! Issue 17: prompt contracts in the Control Plane v2 form (`prompt_pack_id`, the template in
//! the governed file `<tier>/prompt_packs/<id>.txt`) load, validate (exactly one of
//! `prompt_template` and `prompt_pack_id`) and route through the mock, recording the pack's id
//! and hash in `PROMPT_SENT`.

use cp_kernel::{
    OwnershipRow, PromptContract, RegistryKind, RequestFile, SchemaSet, append_rows, registry_path, sha256_hex,
    sha256_prefixed,
};
use serde_json::{Value, json};

use crate::router_support::*;

const PACK: &str = "[PRM-CLASSIFY-001] Classify: {{input.text}}\nContext:\n{{context}}\n";

fn v2_contract() -> Value {
    json!({
        "contract_id": "PRC-CLASSIFY-001", "version": "1.0.0", "prompt_pack_id": "PRM-CLASSIFY-001",
        "input_schema": {"type": "object", "required": ["text"], "properties": {"text": {"type": "string"}}},
        "boundary": {"max_tokens": 64, "temperature": 0.0}
    })
}

fn own(fx: &Fx, rel: &str, data: &[u8]) {
    let row = OwnershipRow {
        file_path: rel.into(),
        package_id: "PKG-HO1-001".into(),
        sha256: sha256_prefixed(data),
        classification: "prompt_pack".into(),
        installed_date: "2026-02-10".into(),
        replaced_date: String::new(),
        superseded_by: String::new(),
    };
    append_rows(&registry_path(&fx.tp.plane, RegistryKind::FileOwnership), RegistryKind::FileOwnership, &[row])
        .unwrap();
}

/// Writes the contract and its pack into HO1 (both owned unless `own_pack` is false) and a
/// request naming the contract; returns the request path.
fn setup(fx: &Fx, own_pack: bool) -> std::path::PathBuf {
    let root = fx.tp.plane.root();
    let contract = serde_json::to_vec(&v2_contract()).unwrap();
    for (rel, data) in [
        ("HO1/contracts/classify.json", contract.as_slice()),
        ("HO1/prompt_packs/PRM-CLASSIFY-001.txt", PACK.as_bytes()),
    ] {
        std::fs::create_dir_all(root.join(rel).parent().unwrap()).unwrap();
        std::fs::write(root.join(rel), data).unwrap();
        if own_pack || rel.starts_with("HO1/contracts") {
            own(fx, rel, data);
        }
    }
    let req = json!({"contract": "HO1/contracts/classify.json", "context": "twelve packages",
                     "input": {"text": "hello"}, "provenance": {"tenant_id": "acme", "session_id": "s1"}});
    let path = fx.tp.dir.path().join("req.json");
    std::fs::write(&path, serde_json::to_vec(&req).unwrap()).unwrap();
    path
}

#[test]
fn a_v2_contract_with_a_prompt_pack_routes_and_records_the_pack() {
    let fx = Fx::new();
    let req = setup(&fx, true);
    let doc = RequestFile::read(&fx.tp.plane, &req).unwrap();
    let tok = fx.token("acme", &["agent"]);
    let routed = fx.router.authorize_route_request(&fx.tp.plane, doc, Some(tok)).unwrap();
    assert_eq!(routed.prompt.contract.prompt_template, PACK);
    let before = fx.entries().len();
    fx.router.route(routed.prompt.clone()).unwrap();
    let sent = fx.entries().into_iter().skip(before).find(|e| e.event_type == "PROMPT_SENT").unwrap();
    assert_eq!(sent.metadata["prompt_pack_id"], "PRM-CLASSIFY-001");
    assert_eq!(sent.metadata["prompt_pack_sha256"], json!(sha256_prefixed(PACK.as_bytes())));
    assert_eq!(sent.metadata["contract_id"], "PRC-CLASSIFY-001");
    let rendered = "[PRM-CLASSIFY-001] Classify: hello\nContext:\ntwelve packages\n";
    assert_eq!(sent.metadata["prompt_hash"], json!(sha256_hex(rendered.as_bytes())));
    assert!(fx.types_after(before).contains(&"PROMPT_RECEIVED".to_string()), "{:?}", fx.types_after(before));
}

#[test]
fn an_ungoverned_or_edited_pack_is_refused() {
    let fx = Fx::new();
    let req = setup(&fx, false);
    let doc = RequestFile::read(&fx.tp.plane, &req).unwrap();
    let e = fx.router.authorize_route_request(&fx.tp.plane, doc, Some(fx.token("acme", &["agent"]))).unwrap_err();
    assert!(e.to_string().contains("HO1/prompt_packs/PRM-CLASSIFY-001.txt is not a governed file"), "{e}");
    own(&fx, "HO1/prompt_packs/PRM-CLASSIFY-001.txt", PACK.as_bytes());
    std::fs::write(fx.tp.plane.root().join("HO1/prompt_packs/PRM-CLASSIFY-001.txt"), "edited {{context}}").unwrap();
    let doc = RequestFile::read(&fx.tp.plane, &req).unwrap();
    let e = fx.router.authorize_route_request(&fx.tp.plane, doc, Some(fx.token("acme", &["agent"]))).unwrap_err();
    assert!(e.to_string().contains("but PKG-HO1-001 installed sha256:"), "{e}");
}

#[test]
fn the_schema_takes_exactly_one_of_template_and_pack() {
    let schemas = SchemaSet::embedded().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.json");
    let mut both = v2_contract();
    both["prompt_template"] = json!("{{context}}");
    let mut neither = v2_contract();
    neither.as_object_mut().unwrap().remove("prompt_pack_id");
    let mut inline = neither.clone();
    inline["prompt_template"] = json!("{{context}}");
    for (doc, ok) in [(v2_contract(), true), (inline, true), (both, false), (neither, false)] {
        std::fs::write(&f, serde_json::to_vec(&doc).unwrap()).unwrap();
        assert_eq!(PromptContract::load(&schemas, &f).is_ok(), ok, "{doc}");
    }
    let mut bad_id = v2_contract();
    bad_id["prompt_pack_id"] = json!("classify");
    std::fs::write(&f, serde_json::to_vec(&bad_id).unwrap()).unwrap();
    assert!(PromptContract::load(&schemas, &f).is_err());
}
