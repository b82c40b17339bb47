//! The seams between the framework module's governed config files and their readers: the
//! attention service and the router follow the plane's vocabulary; every event type the kernel
//! writes is in it. (The installer's side of the seams is tested in the installer crate.)

use cp_kernel::testkit::TempPlane;

/// A vocabulary without `RESIDENT` and without the `ho1` tier.
fn restricted_vocabulary() -> String {
    cp_kernel::DEFAULT_VOCABULARY_YAML.replace("  - RESIDENT\n", "").replace("  - ho1\n", "")
}

#[test]
fn attention_refuses_agent_class_and_tier_outside_the_plane_vocabulary() {
    use cp_kernel::{AgentClass, AttentionError, AttentionService, Tier};
    let tp = TempPlane::new();
    let v = restricted_vocabulary();
    assert!(!v.contains("RESIDENT"));
    crate::attention::write(&tp, "HOT/config/vocabulary.yaml", &v);
    crate::attention::simple(&tp, "ATT-ANY-001", "{}", crate::attention::STRUCTURE);
    let svc = AttentionService::builder(&tp.plane).build().unwrap();
    // Allowed class and tier pass the check.
    svc.assemble(&crate::attention::req(AgentClass::Admin, None, Tier::Ho2)).unwrap();
    let e = svc.assemble(&crate::attention::req(AgentClass::Resident, None, Tier::Ho2)).unwrap_err();
    let AttentionError::NotInVocabulary { field, value, allowed } = &e else { panic!("{e:?}") };
    assert_eq!((*field, value.as_str()), ("agent_class", "RESIDENT"));
    assert_eq!(allowed, &["KERNEL.syntactic", "KERNEL.semantic", "ADMIN"]);
    let e = svc.explain(&crate::attention::req(AgentClass::Admin, None, Tier::Ho1)).unwrap_err();
    let AttentionError::NotInVocabulary { field, value, allowed } = &e else { panic!("{e:?}") };
    assert_eq!((*field, value.as_str(), allowed.len()), ("tier", "ho1", 2));
    assert!(e.to_string().contains("tier"), "{e}");
}

#[test]
fn router_rejects_provenance_outside_the_plane_vocabulary_as_invalid_input() {
    use crate::router_support::{Fx, request};
    use cp_kernel::{RejectCode, RouterError};
    let fx = Fx::new();
    let tok = fx.token("t1", &["agent"]);
    for (field, value) in [("agent_class", "KERNEL.imaginary"), ("tier", "ho9")] {
        let mut req = request("t1", &tok);
        match field {
            "agent_class" => req.provenance.agent_class = Some(value.into()),
            _ => req.provenance.tier = Some(value.into()),
        }
        let skip = fx.entries().len();
        let err = fx.router.route(req).unwrap_err();
        let RouterError::Rejected { code, message, entry_id, .. } = &err else { panic!("{err:?}") };
        assert_eq!(*code, RejectCode::InvalidInput);
        assert!(message.contains(value), "{message}");
        assert_eq!(fx.types_after(skip), ["PROMPT_REJECTED"]);
        let e = fx.entries().into_iter().find(|e| &e.id == entry_id).unwrap();
        assert_eq!(e.metadata["code"], "INVALID_INPUT");
    }
    // A known tier routes.
    let mut ok = request("t1", &tok);
    ok.provenance.tier = Some("ho2".into());
    fx.router.route(ok).unwrap();
}

#[test]
fn vocabulary_event_types_list_every_kernel_event_constant() {
    use cp_kernel::{Term, Vocabulary};
    let schemas = cp_kernel::SchemaSet::embedded().unwrap();
    let tp = TempPlane::new();
    let v = Vocabulary::for_plane(&tp.plane, &schemas).unwrap();
    for e in cp_kernel::event::ALL {
        assert!(v.contains(Term::EventType, e), "{e} missing from vocabulary event_types");
    }
    assert!(cp_kernel::event::ALL.contains(&cp_kernel::event::TRUST_KEY_ADDED));
}
