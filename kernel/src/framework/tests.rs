use proptest::prelude::*;

use super::*;
use crate::gates::GateId;
use crate::plane::Tier;
use crate::registry::RegistryKind;
use crate::schema::SchemaSet;

fn framework(globs: &[&str]) -> FrameworkManifest {
    FrameworkManifest {
        framework_id: "FMWK-900".into(),
        title: "t".into(),
        status: Status::Active,
        version: "1.0.0".into(),
        ring: None,
        plane_id: None,
        created_at: None,
        assets: vec![],
        expected_specs: vec![],
        invariants: vec![],
        path_authorizations: globs.iter().map(|s| s.to_string()).collect(),
        required_gates: vec![],
        dependencies: vec![],
    }
}

fn schemas() -> SchemaSet {
    SchemaSet::embedded().expect("embedded schemas")
}

#[test]
fn star_does_not_cross_separators() {
    let f = framework(&["HOT/schemas/*.json", "HOT/FMWK-9_X/**"]);
    assert!(path_authorized(&f, "HOT/schemas/a.schema.json"));
    assert!(path_authorized(&f, "./HOT/schemas/a.schema.json"));
    assert!(!path_authorized(&f, "HOT/schemas/sub/a.json"));
    assert!(path_authorized(&f, "HOT/FMWK-9_X/deep/er/x.md"));
    assert!(!path_authorized(&f, "HOT/schemas/../config/a.json"));
    assert!(!path_authorized(&f, "/HOT/schemas/a.json"));
    assert!(!path_authorized(&f, "HOT//schemas/a.json"));
    assert!(!path_authorized(&f, "HOT\\schemas\\a.json"));
    assert!(!path_authorized(&f, "hot/schemas/a.json"), "matching is case-sensitive");
}

#[test]
fn invalid_glob_is_reported_with_framework_and_index() {
    let f = framework(&["HOT/ok/*", "HOT/[bad"]);
    match PathAuthorizer::new(&f) {
        Err(FrameworkError::InvalidGlob { framework_id, index, pattern, .. }) => {
            assert_eq!((framework_id.as_str(), index, pattern.as_str()), ("FMWK-900", 1, "HOT/[bad"));
        }
        other => panic!("expected InvalidGlob, got {other:?}"),
    }
    assert!(!path_authorized(&f, "HOT/ok/x"), "a framework with an invalid glob authorises nothing");
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9_-]{1,8}(\\.[a-z]{1,4})?".prop_map(|s| s),
        1 => Just("..".to_string()),
        1 => Just(".".to_string()),
        1 => Just(String::new()),
    ]
}

proptest! {
    /// A path that does not normalise (`..`, `.`, empty component) never matches, even `**`.
    #[test]
    fn unnormalised_paths_never_match(segs in proptest::collection::vec(segment(), 1..6)) {
        let path = format!("HOT/{}", segs.join("/"));
        let f = framework(&["HOT/**", "HOT/*", "**"]);
        let plain = segs.iter().all(|s| s != ".." && s != "." && !s.is_empty());
        prop_assert_eq!(path_authorized(&f, &path), plain);
    }

    /// `dir/*.ext` matches exactly the direct children of `dir` with that extension.
    #[test]
    fn single_star_matches_direct_children_only(segs in proptest::collection::vec("[a-z0-9]{1,6}", 1..4), ext in "(yaml|md)") {
        let f = framework(&["HOT/d/*.yaml"]);
        let path = format!("HOT/d/{}.{ext}", segs.join("/"));
        prop_assert_eq!(path_authorized(&f, &path), segs.len() == 1 && ext == "yaml");
    }
}

#[test]
fn builtin_policy_vocabulary_and_registries_decode() {
    let s = schemas();
    let p: GovernancePolicy = s
        .load_str(GOVERNANCE_POLICY_SCHEMA, std::path::Path::new("p.yaml"), DEFAULT_GOVERNANCE_POLICY_YAML)
        .expect("policy");
    assert!(p.install_gates_for(3).contains(&GateId::G1));
    let v: Vocabulary =
        s.load_str(VOCABULARY_SCHEMA, std::path::Path::new("v.yaml"), DEFAULT_VOCABULARY_YAML).expect("vocabulary");
    let r: RegistriesConfig =
        s.load_str(REGISTRIES_SCHEMA, std::path::Path::new("r.yaml"), DEFAULT_REGISTRIES_YAML).expect("registries");
    // Tiers are the kernel's tiers.
    let tiers: Vec<&str> = Tier::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(v.tiers, tiers);
    // The catalogue agrees with the registry module's columns for every registry it knows.
    for kind in RegistryKind::ALL {
        let spec = r.get(kind.file_name()).unwrap_or_else(|| panic!("{} not in registries.yaml", kind.file_name()));
        assert_eq!(spec.columns, kind.columns(), "{}", kind.file_name());
    }
    assert_eq!(r.registries.len(), RegistryKind::ALL.len());
}

#[test]
fn genesis_exemption_needs_layer_and_empty_registry() {
    let p: GovernancePolicy = schemas()
        .load_str(GOVERNANCE_POLICY_SCHEMA, std::path::Path::new("p.yaml"), DEFAULT_GOVERNANCE_POLICY_YAML)
        .expect("policy");
    for layer in 0..6u32 {
        for registered in [0usize, 1, 4] {
            let want =
                p.genesis.layers.contains(&layer) && (registered == 0 || !p.genesis.only_while_no_framework_registered);
            assert_eq!(p.genesis_applies(layer, registered), want, "layer {layer} registered {registered}");
            for c in [GenesisCheck::FrameworkRegistered, GenesisCheck::PathAuthorized] {
                assert_eq!(p.is_exempt(layer, registered, c), want && p.genesis.exempt_checks.contains(&c));
            }
        }
    }
    // The shipped policy: layer 0 on an empty plane is genesis, layer 2 never is.
    assert!(p.genesis_applies(0, 0));
    assert!(!p.genesis_applies(2, 0));
    assert!(!p.genesis_applies(0, 1));
}

#[test]
fn overlapping_layer_overrides_are_refused() {
    let text = DEFAULT_GOVERNANCE_POLICY_YAML.replace(
        "layer_overrides: []",
        "layer_overrides:\n  - layers: [0, 1]\n    install_gates: [G0A]\n  - layers: [1]\n    install_gates: [G0B]",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("governance_policy.yaml");
    crate::fsx::write(&path, &text).expect("write");
    let err = GovernancePolicy::load(&schemas(), &path).expect_err("overlap");
    assert!(err.to_string().contains("layer 1 appears in layer_overrides[0] and layer_overrides[1]"), "{err}");
    // Without the overlap, the override wins for its layers.
    let ok = text.replace("  - layers: [1]\n    install_gates: [G0B]", "  - layers: [2]\n    install_gates: [G0B]");
    crate::fsx::write(&path, &ok).expect("write");
    let p = GovernancePolicy::load(&schemas(), &path).expect("policy");
    assert_eq!(p.install_gates_for(1), &[GateId::G0a]);
    assert_eq!(p.install_gates_for(2), &[GateId::G0b]);
    assert_eq!(p.install_gates_for(3), p.install_gates.as_slice());
}

#[test]
fn vocabulary_check_names_the_known_terms() {
    let v: Vocabulary = schemas()
        .load_str(VOCABULARY_SCHEMA, std::path::Path::new("v.yaml"), DEFAULT_VOCABULARY_YAML)
        .expect("vocabulary");
    assert!(v.check(Term::AgentClass, "ADMIN").is_ok());
    let err = v.check(Term::AgentClass, "admin").expect_err("case-sensitive");
    let msg = err.to_string();
    assert!(msg.contains("\"admin\" is not a known agent class") && msg.contains("KERNEL.syntactic"), "{msg}");
    let mut p = crate::ledger::Provenance { tier: Some("ho2".into()), ..Default::default() };
    assert!(v.check_provenance(&p).is_ok());
    p.tier = Some("HO9".into());
    assert!(matches!(v.check_provenance(&p), Err(FrameworkError::UnknownTerm { kind: Term::Tier, .. })));
}

#[test]
fn expected_specs_missing_and_wrong_framework() {
    let mut f = framework(&[]);
    f.expected_specs = vec!["SPEC-A-001".into(), "SPEC-B-001".into(), "SPEC-C-001".into()];
    let spec = |id: &str, fw: &str| SpecPack {
        spec_id: id.into(),
        title: "t".into(),
        framework_id: fw.into(),
        status: Status::Active,
        version: "1.0.0".into(),
        plane_id: None,
        created_at: None,
        assets: vec![],
        interfaces: vec![],
        invariants: vec![],
        acceptance: Acceptance::default(),
        dependencies: vec![],
    };
    let specs = [spec("SPEC-A-001", "FMWK-900"), spec("SPEC-B-001", "FMWK-901")];
    let issues = check_expected_specs(&f, &specs);
    assert_eq!(
        issues,
        vec![
            SpecLinkIssue::WrongFramework {
                framework_id: "FMWK-900".into(),
                spec_id: "SPEC-B-001".into(),
                names: "FMWK-901".into()
            },
            SpecLinkIssue::Missing { framework_id: "FMWK-900".into(), spec_id: "SPEC-C-001".into() },
        ]
    );
}

proptest! {
    /// Registry rows do not depend on the order manifests were found in.
    #[test]
    fn derived_rows_are_sorted_and_order_independent(
        ids in proptest::collection::btree_set("[0-9]{3}", 0..8),
        seed in any::<u64>(),
    ) {
        let mut fws: Vec<(String, FrameworkManifest)> = ids
            .iter()
            .map(|n| {
                let mut f = framework(&[]);
                f.framework_id = format!("FMWK-{n}");
                f.created_at = Some(format!("2026-01-01T00:00:{}Z", &n[1..]));
                (format!("HOT/FMWK-{n}/manifest.yaml"), f)
            })
            .collect();
        let (a, _) = derive_rows(&fws, &[]);
        // Deterministic shuffle from the seed.
        let len = fws.len();
        for i in (1..len).rev() {
            let j = ((seed.rotate_left(i as u32) ^ i as u64) % (i as u64 + 1)) as usize;
            fws.swap(i, j);
        }
        let (b, _) = derive_rows(&fws, &[]);
        prop_assert_eq!(&a, &b);
        let got: Vec<&str> = a.iter().map(|r| r.framework_id.as_str()).collect();
        let want: Vec<String> = ids.iter().map(|n| format!("FMWK-{n}")).collect();
        prop_assert_eq!(got, want.iter().map(String::as_str).collect::<Vec<_>>());
        for r in &a {
            prop_assert_eq!(&r.created_at, &format!("2026-01-01T00:00:{}Z", &r.framework_id[6..]));
        }
    }
}
