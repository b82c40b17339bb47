//! The README's main command, through the library it renders: a fresh root, then a second run
//! on the same root (installs are no-ops, a new session is routed, everything stays green).
#![allow(clippy::disallowed_methods)]

use cp_installer::{QuickstartOptions, quickstart, quickstart_secret_path};
use cp_kernel::event;

#[test]
fn quickstart_twice_on_one_root() {
    let dir = tempfile::tempdir().unwrap();
    let opts = QuickstartOptions::new(dir.path().join("cp-root"));
    let mut steps = Vec::new();
    let first = quickstart(&opts, &mut |e| steps.push(format!("{e:?}"))).expect("first run");
    assert!(first.all_green(), "{:?} {:?}", first.gates, first.verification);
    assert_eq!(first.packages.len(), 12);
    assert!(first.packages.iter().all(|p| p.action == "installed" && p.trust == "pinned"), "{:?}", first.packages);
    assert_eq!(first.template_id, "ATT-ROUTING-001", "framework_id match beats agent_class");
    assert!(!first.fragments.is_empty());
    assert_eq!(first.response["output_valid"], true);
    let count =
        |r: &cp_installer::QuickstartReport, t: &str| r.ledger_entries.iter().filter(|e| e.event_type == t).count();
    assert_eq!(
        (count(&first, event::INSTALLED), count(&first, event::PROMPT_SENT), count(&first, event::PROMPT_RECEIVED)),
        (12, 1, 1)
    );
    assert!(steps.iter().any(|s| s.contains("Started")) && steps.iter().any(|s| s.contains("route")));
    // The secret lives in the plane's operator area (HOT/plane/, not governed), mode 0600, and
    // nothing is written beside the plane (the user's working tree).
    let secret = quickstart_secret_path(&opts.root);
    assert!(secret.is_file() && secret.starts_with(opts.root.join("HOT/plane")), "{}", secret.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let beside: Vec<_> =
        std::fs::read_dir(opts.root.parent().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(beside.iter().all(|n| !n.to_string_lossy().contains("auth-secret")), "{beside:?}");

    let second = quickstart(&opts, &mut |_| {}).expect("second run");
    assert!(second.all_green());
    assert!(second.packages.iter().all(|p| p.action == "already_installed"), "{:?}", second.packages);
    assert_eq!(count(&second, event::INSTALLED), 0);
    assert_eq!(count(&second, event::PROMPT_RECEIVED), 1);
    assert_ne!(first.session_id, second.session_id);
    // The first run's answer is now context of the second (the contract asks for recent answers).
    assert!(second.fragments.len() > first.fragments.len(), "{:?} vs {:?}", second.fragments, first.fragments);
}
