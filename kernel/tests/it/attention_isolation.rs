//! Run-time isolation of invalid templates (issue 8 §2): an invalid template on the plane is
//! skipped (with a warning) for requests it does not apply to, and fails the requests it would
//! have matched; `invalid_templates` lists every invalid file with located issues for the gates.

use cp_kernel::SchemaSet;
use cp_kernel::Tier;
use cp_kernel::testkit::TempPlane;
use cp_kernel::{AgentClass, AttentionError, invalid_templates};

use crate::attention::{STRUCTURE, install, kreq, req, service, simple, tpl, write};

const K: &str = "{agent_class: [KERNEL.syntactic]}";

/// A schema-invalid template (`max_queries: -1`) applying to `applies`.
fn invalid(tp: &TempPlane, id: &str, applies: &str) {
    let y =
        tpl(id, applies, STRUCTURE, (1000, 10, 1000), ("fail", "fail")).replace("max_queries: 10", "max_queries: -1");
    install(tp, id, &y);
}

fn warned_about(w: &[String], file: &str) -> bool {
    w.iter().any(|w| w.contains(file) && w.contains("invalid") && w.contains("skipped"))
}

#[test]
fn invalid_template_for_another_class_does_not_stop_assembly() {
    let tp = TempPlane::new();
    write(&tp, "HOT/a.md", "alpha");
    simple(
        &tp,
        "ATT-K",
        K,
        &format!(
            "  - stage: f\n    type: file_read\n    config: {{paths: [HOT/a.md], max_size_bytes: 100}}\n{STRUCTURE}"
        ),
    );
    invalid(&tp, "ATT-BAD", "{agent_class: [ADMIN]}");
    let s = service(&tp);
    let c = s.assemble(&kreq()).unwrap();
    assert_eq!(c.template_id, "ATT-K");
    assert_eq!(c.fragments.len(), 1);
    assert!(warned_about(&c.warnings, "ATT-BAD.yaml"), "{:?}", c.warnings);
    assert!(warned_about(&s.explain(&kreq()).unwrap().warnings, "ATT-BAD.yaml"));
    // The agents it applies to fail closed, naming the file, the field and the line.
    let e = s.assemble(&req(AgentClass::Admin, None, Tier::Hot)).unwrap_err();
    assert!(matches!(e, AttentionError::InvalidTemplateMatch { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("ATT-BAD.yaml") && msg.contains("/budget/max_queries") && msg.contains(":11:"), "{msg}");
    assert!(s.explain(&req(AgentClass::Admin, None, Tier::Hot)).is_err());
}

#[test]
fn invalid_template_less_specific_than_the_match_is_skipped() {
    let tp = TempPlane::new();
    simple(&tp, "ATT-K", K, STRUCTURE);
    invalid(&tp, "ATT-TIER", "{tier: [ho1]}");
    let c = service(&tp).assemble(&kreq()).unwrap();
    assert_eq!(c.template_id, "ATT-K", "agent_class beats tier: the invalid template would not have won");
    assert!(warned_about(&c.warnings, "ATT-TIER.yaml"), "{:?}", c.warnings);
}

#[test]
fn invalid_template_as_specific_as_the_match_fails_closed() {
    let tp = TempPlane::new();
    simple(&tp, "ATT-K", K, STRUCTURE);
    invalid(&tp, "ATT-K2", K);
    let e = service(&tp).assemble(&kreq()).unwrap_err();
    assert!(e.to_string().contains("ATT-K2.yaml"), "{e}");
}

#[test]
fn invalid_template_more_specific_than_the_match_fails_closed() {
    let tp = TempPlane::new();
    simple(&tp, "ATT-K", K, STRUCTURE);
    invalid(&tp, "ATT-F3", "{framework_id: [FMWK-003]}");
    let s = service(&tp);
    assert_eq!(s.assemble(&kreq()).unwrap().template_id, "ATT-K", "no framework_id: ATT-F3 does not apply");
    let e = s.assemble(&req(AgentClass::KernelSyntactic, Some("FMWK-003"), Tier::Ho1)).unwrap_err();
    assert!(e.to_string().contains("ATT-F3.yaml"), "{e}");
}

#[test]
fn unparseable_template_blocks_only_the_default_fallback() {
    let tp = TempPlane::new();
    simple(&tp, "ATT-K", K, STRUCTURE);
    install(&tp, "ATT-BROKEN", "template_id: ATT-BROKEN\napplies_to: {agent_class: [ADMIN\npipeline: [\n");
    let s = service(&tp);
    // A request a valid template claims proceeds (with the warning) ...
    let c = s.assemble(&kreq()).unwrap();
    assert_eq!(c.template_id, "ATT-K");
    assert!(warned_about(&c.warnings, "ATT-BROKEN.yaml"), "{:?}", c.warnings);
    // ... a request that would fall back to the default template fails closed: the broken file
    // might have been meant for it.
    let e = s.assemble(&req(AgentClass::Resident, None, Tier::Ho2)).unwrap_err();
    assert!(matches!(e, AttentionError::InvalidTemplateMatch { .. }), "{e:?}");
    assert!(e.to_string().contains("ATT-BROKEN.yaml") && e.to_string().contains("selector"), "{e}");
}

#[test]
fn override_naming_an_invalid_template_fails_closed_with_its_issues() {
    let tp = TempPlane::new();
    simple(&tp, "ATT-K", K, STRUCTURE);
    invalid(&tp, "ATT-BAD", "{agent_class: [ADMIN]}");
    install(&tp, "ATT-GARBLED", ": : :\n");
    let s = service(&tp);
    for id in ["ATT-BAD", "ATT-GARBLED"] {
        let mut r = kreq();
        r.template_override = Some(id.into());
        let e = s.assemble(&r).unwrap_err();
        assert!(matches!(e, AttentionError::InvalidTemplateMatch { .. }), "{id}: {e:?}");
        assert!(e.to_string().contains(&format!("{id}.yaml")), "{e}");
    }
    let mut r = kreq();
    r.template_override = Some("ATT-NOWHERE".into());
    assert!(matches!(s.assemble(&r).unwrap_err(), AttentionError::UnknownTemplate { .. }));
}

#[test]
fn duplicate_template_ids_are_isolated_like_invalid_templates() {
    let tp = TempPlane::new();
    simple(&tp, "ATT-K", K, STRUCTURE);
    let admin = tpl("ATT-A", "{agent_class: [ADMIN]}", STRUCTURE, (1000, 10, 1000), ("fail", "fail"));
    install(&tp, "ATT-A", &admin);
    install(&tp, "ATT-A-copy", &admin);
    let s = service(&tp);
    assert_eq!(s.assemble(&kreq()).unwrap().template_id, "ATT-K");
    let e = s.assemble(&req(AgentClass::Admin, None, Tier::Hot)).unwrap_err();
    assert!(e.to_string().contains("ATT-A-copy.yaml") && e.to_string().contains("also declared"), "{e}");
}

#[test]
fn invalid_templates_lists_every_invalid_file_with_located_issues() {
    let tp = TempPlane::new();
    simple(&tp, "ATT-K", K, STRUCTURE);
    invalid(&tp, "ATT-BAD", "{agent_class: [ADMIN]}");
    install(&tp, "ATT-BROKEN", "template_id: [\n");
    write(&tp, "HO2/attention_templates/ATT-HO2.yaml", "template_id: ATT-HO2\n");
    let schemas = SchemaSet::for_plane(&tp.plane).unwrap();
    let list = invalid_templates(&tp.plane, &schemas).unwrap();
    let files: Vec<String> = list.iter().map(|t| t.path.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(files, ["ATT-BAD.yaml", "ATT-BROKEN.yaml", "ATT-HO2.yaml"]);
    let bad = &list[0];
    assert_eq!(bad.template_id.as_deref(), Some("ATT-BAD"));
    let i = bad.issues.iter().find(|i| i.field == "/budget/max_queries").unwrap();
    assert_eq!((i.line, i.column.is_some()), (Some(11), true));
    assert!(list[1].issues[0].line.is_some(), "a parse error has its line: {:?}", list[1].issues);
    assert!(list[2].issues.iter().any(|i| i.message.contains("pipeline")), "{:?}", list[2].issues);
    // The valid plane has none; the service reports the same list.
    assert_eq!(service(&tp).invalid_templates(), list);
}
