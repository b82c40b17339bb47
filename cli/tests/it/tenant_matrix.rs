//! Tenant sovereignty (issue 14 §3), as real processes: every read surface × {own tenant,
//! other tenant, no token, expired token}. Own: exit 0 and nothing of the other tenant in the
//! output. Other tenant: exit 2 and an `ACCESS_DENIED` naming the principal, the tenant asked
//! and the tenant held. No token / expired token: exit 2 and an `ACCESS_DENIED` (`AUTH_DENIED`).
//! Operator mode reads a named tenant and is recorded (`OPERATOR_READ`).
//! (`cpctl attention assemble` and `cpctl route` are covered the same way by `tenant_scope`.)

use std::process::Command;

use cp_kernel::testkit::{TempPlane, test_secret};
use cp_kernel::{
    LedgerEntry, LedgerQuery, LedgerSet, PromptRouter, RouterOptions, SHIPPED_WORK_ORDERS_CONFIG, TokenClaims,
    WorkOrder, event, issue_token,
};

use crate::otel_cli::routed_plane;
use crate::support::SECRET;

/// The other tenant's session (`routed_plane`: `other` routed in `s9`).
const OTHER_SESSION: &str = "s9";

struct Fx {
    tp: TempPlane,
    own: String,
    expired: String,
}

fn fixture() -> Fx {
    let tp = routed_plane();
    std::fs::write(tp.plane.root().join("HOT/config/work_orders.yaml"), SHIPPED_WORK_ORDERS_CONFIG).unwrap();
    let router = PromptRouter::open(&tp.plane, RouterOptions::new().auth_secret(test_secret())).unwrap();
    let wos = router.work_orders(&tp.plane).unwrap();
    for t in ["acme", "other"] {
        let op = router.work_order_principal(&router.issue_token("ops", &["operator".into()], t, None).unwrap().0);
        wos.create(&op.unwrap(), WorkOrder::new(format!("WO-{t}"), t, "matrix")).unwrap();
    }
    let own = router.issue_token("aud", &["auditor".into()], "acme", Some(3600)).unwrap().0;
    // Expired an hour ago, relative to now (the child processes read the real clock).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let claims = TokenClaims {
        principal: "aud".into(),
        roles: vec!["auditor".into()],
        tenant: "acme".into(),
        issued_at_ms: now - 7_200_000,
        expires_at_ms: now - 3_600_000,
        token_id: "expired-1".into(),
    };
    let expired = issue_token(&test_secret(), &claims);
    Fx { tp, own, expired }
}

/// A read surface: the command for `tenant` (the one asked, `None` = the token's) and `token`.
type Surface = fn(&Fx, Option<&str>) -> Vec<String>;

fn tenant_args(t: Option<&str>) -> Vec<String> {
    t.map(|t| vec!["--tenant".to_string(), t.to_string()]).unwrap_or_default()
}

fn surfaces() -> Vec<(&'static str, Surface)> {
    vec![
        ("ledger query", |_, t| [vec!["--json".into(), "ledger".into(), "query".into()], tenant_args(t)].concat()),
        ("otel export", |fx, t| {
            let out = fx.tp.dir.path().join("m.jsonl").display().to_string();
            [vec!["otel".into(), "export".into(), "--out".into(), out], tenant_args(t)].concat()
        }),
        ("report", |fx, t| {
            let out = fx.tp.dir.path().join("m.html").display().to_string();
            let args = ["report", "--format", "html", "--since", "2000-01-01T00:00:00Z", "--out"];
            [args.iter().map(|s| s.to_string()).collect(), vec![out], tenant_args(t)].concat()
        }),
        ("aef export", |_, t| [vec!["aef".into(), "export".into()], tenant_args(t)].concat()),
        ("wo show", |_, t| vec!["--json".into(), "wo".into(), "show".into(), format!("WO-{}", t.unwrap_or("acme"))]),
    ]
}

fn run(fx: &Fx, args: &[String], token: Option<&str>) -> (Option<i32>, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cpctl"));
    c.arg("--root").arg(fx.tp.plane.root()).args(args);
    c.env("CP_AUTH_SECRET", SECRET).env_remove("CP_AUTH_SECRET_FILE").env_remove("CP_AUTH_TOKEN");
    if let Some(t) = token {
        c.args(["--token", t]);
    }
    let out = c.output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("panicked"), "{text}");
    (out.status.code(), text)
}

fn denials(fx: &Fx) -> Vec<LedgerEntry> {
    let store = LedgerSet::new(&fx.tp.plane).open("HO1/prompts").unwrap();
    store.query(&LedgerQuery { event_types: vec![event::ACCESS_DENIED.into()], ..LedgerQuery::default() }).unwrap()
}

/// The `OPERATOR_READ` entries of local reads without a token (credential `local-files`).
fn local_reads(fx: &Fx) -> Vec<LedgerEntry> {
    let store = LedgerSet::new(&fx.tp.plane).open("HO1/prompts").unwrap();
    let all =
        store.query(&LedgerQuery { event_types: vec![event::OPERATOR_READ.into()], ..LedgerQuery::default() }).unwrap();
    all.into_iter().filter(|e| e.metadata["credential"] == "local-files").collect()
}

/// Runs a denied case and returns the one `ACCESS_DENIED` it logged.
fn denied(fx: &Fx, name: &str, case: &str, args: &[String], token: Option<&str>) -> LedgerEntry {
    let before = denials(fx).len();
    let (code, text) = run(fx, args, token);
    assert_eq!(code, Some(2), "{name} / {case}: {text}");
    let after = denials(fx);
    assert_eq!(after.len(), before + 1, "{name} / {case}: one ACCESS_DENIED");
    after.last().cloned().unwrap()
}

#[test]
fn every_read_surface_by_own_other_missing_and_expired_identity() {
    let fx = fixture();
    for (name, surface) in surfaces() {
        // Own tenant: read, and nothing of the other tenant comes out.
        let (code, text) = run(&fx, &surface(&fx, None), Some(&fx.own));
        assert_eq!(code, Some(0), "{name} / own: {text}");
        assert!(!text.contains(OTHER_SESSION) && !text.contains("WO-other"), "{name} / own leaks: {text}");
        for f in ["m.jsonl", "m.html"] {
            let p = fx.tp.dir.path().join(f);
            if p.exists() {
                assert!(!std::fs::read_to_string(&p).unwrap().contains(OTHER_SESSION), "{name}: {f} leaks");
            }
        }
        // Another tenant: denied with principal, tenant asked, tenant held.
        let e = denied(&fx, name, "other", &surface(&fx, Some("other")), Some(&fx.own));
        assert_eq!(e.metadata["principal"], "aud", "{name}");
        assert_eq!(e.metadata["tenant_asked"], "other", "{name}: {e:?}");
        assert_eq!(e.metadata["tenant_held"], "acme", "{name}: {e:?}");
        assert_eq!(e.metadata["policy_id"], "tenant.sovereignty", "{name}");
        // No token, an expired token: denied as unauthenticated — except that `ledger query`
        // without a token is the local operator's raw view of every ledger, which says so and
        // records it.
        if name == "ledger query" {
            let before = local_reads(&fx).len();
            let (code, text) = run(&fx, &["ledger".to_string(), "query".to_string()], None);
            assert_eq!(code, Some(0), "{text}");
            assert!(text.contains("as the local operator") && text.contains("recorded as OPERATOR_READ"), "{text}");
            let reads = local_reads(&fx);
            assert_eq!(reads.len(), before + 1, "one OPERATOR_READ per local read: {text}");
            let m = &reads.last().unwrap().metadata;
            assert_eq!((m["tenant_asked"].as_str(), m["surface"].as_str()), (Some("*"), Some("ledger.query")), "{m:?}");
            assert_eq!(m["policy_id"], "tenant.sovereignty", "{m:?}");
        }
        for (case, tok) in [("none", None), ("expired", Some(fx.expired.as_str()))] {
            if name == "ledger query" && case == "none" {
                continue;
            }
            let e = denied(&fx, name, case, &surface(&fx, None), tok);
            assert_eq!(e.metadata["code"], "AUTH_DENIED", "{name} / {case}: {e:?}");
            if case == "expired" {
                assert!(e.reason.as_deref().unwrap_or("").contains("expired"), "{name}: {e:?}");
            }
        }
    }
}

#[test]
fn operator_mode_reads_a_named_tenant_and_says_so_and_records_it() {
    let fx = fixture();
    let out = fx.tp.dir.path().join("op.jsonl").display().to_string();
    let args: Vec<String> =
        ["otel", "export", "--tenant", "other", "--operator", "--out", &out].map(String::from).to_vec();
    let (code, text) = run(&fx, &args, None);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("operator mode"), "said on stderr: {text}");
    let store = LedgerSet::new(&fx.tp.plane).open("HO1/prompts").unwrap();
    let reads =
        store.query(&LedgerQuery { event_types: vec![event::OPERATOR_READ.into()], ..LedgerQuery::default() }).unwrap();
    assert_eq!(reads.len(), 1);
    assert_eq!(
        (reads[0].metadata["surface"].as_str(), reads[0].metadata["tenant_asked"].as_str()),
        (Some("otel.export"), Some("other"))
    );
    assert!(reads[0].metadata["actor"].as_str().unwrap().starts_with("operator:"));
    // Without the plane's secret there is no operator mode.
    let mut c = Command::new(env!("CARGO_BIN_EXE_cpctl"));
    c.arg("--root").arg(fx.tp.plane.root()).args(&args).env_remove("CP_AUTH_SECRET").env_remove("CP_AUTH_SECRET_FILE");
    assert_eq!(c.output().unwrap().status.code(), Some(2));
}
