//! Scale-out on PostgreSQL with real processes: four kernel hosts (each its own plane
//! directory, one shared PostgreSQL ledger) route concurrently under one hard budget; hosts are
//! SIGKILLed mid-append and mid-route; `budget recover` releases what the killed routes left.
//!
//! Needs `CP_TEST_POSTGRES_URL` (else `skipped: no PostgreSQL`; a failure under
//! `CP_REQUIRE_SERVICES=1`). Each test uses a schema of its own, dropped at the end.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use cp_kernel::testkit::pg::PgSchema;
use cp_kernel::testkit::{
    TempPlane, check_chain, router_test_configs, test_contract, test_secret, write_router_configs,
};
use cp_kernel::{BudgetState, LedgerQuery, LedgerSet, LedgerStore, LimitConfig, PromptRouter, RouterOptions, ScopeKey};
use serde_json::json;

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const HOSTS: usize = 4;

fn cpctl(tp: &TempPlane) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cpctl"));
    c.arg("--root")
        .arg(tp.plane.root())
        .env("CP_AUTH_SECRET", SECRET)
        .env_remove("CP_AUTH_SECRET_FILE")
        .env_remove("CP_AUTH_TOKEN")
        .env_remove(cp_kernel::LEDGER_URL_ENV);
    c
}

/// Four host planes on one schema, router configs installed in each, a request file in each,
/// and a token accepted by all of them; `limit` micros allocated to tenant `acme`.
fn hosts(fx: &PgSchema, limit: u64) -> (Vec<TempPlane>, String) {
    let hosts: Vec<TempPlane> = (0..HOSTS).map(|_| fx.temp_plane()).collect();
    let (r, b, p) = router_test_configs();
    for h in &hosts {
        write_router_configs(h, &r, &b, &p);
        let dir = h.dir.path();
        std::fs::write(dir.join("contract.json"), serde_json::to_vec(&test_contract()).unwrap()).unwrap();
        let req = json!({"contract": "contract.json", "context": "twelve packages", "input": {"question": "how many?"},
                         "provenance": {"tenant_id": "acme", "session_id": "s1"}});
        std::fs::write(dir.join("req.json"), serde_json::to_vec(&req).unwrap()).unwrap();
    }
    // Issued on the real clock (relative to now): the children read the real clock.
    let router = PromptRouter::open(&hosts[0].plane, RouterOptions::new().auth_secret(test_secret())).unwrap();
    let (tok, _) = router.issue_token("ops", &["operator".into()], "acme", Some(86_400)).unwrap();
    let limit = LimitConfig { max_tokens: None, max_cost_micros: Some(limit), warn_threshold_pct: 100 };
    router.allocate(&tok, &ScopeKey::tenant("acme"), limit).unwrap();
    (hosts, tok)
}

fn route(h: &TempPlane, tok: &str) -> Command {
    let mut c = cpctl(h);
    c.args(["route", "--json", "--request"]).arg(h.dir.path().join("req.json")).arg("--token").arg(tok);
    c
}

#[test]
fn four_hosts_one_hard_budget_never_overspend() {
    let Some(fx) = PgSchema::new() else { return };
    const LIMIT: u64 = 500;
    let (hosts, tok) = hosts(&fx, LIMIT);
    let per_host = 4;
    let children: Vec<_> = (0..HOSTS * per_host)
        .map(|i| route(&hosts[i % HOSTS], &tok).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap())
        .collect();
    let (mut ok, mut refused) = (0, 0);
    for c in children {
        let out = c.wait_with_output().unwrap();
        match out.status.code() {
            Some(0) => ok += 1,
            Some(2) => {
                let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                assert_eq!(v["error"]["code"], "BUDGET_EXHAUSTED", "{v}");
                refused += 1;
            }
            other => panic!("exit {other:?}: {}", String::from_utf8_lossy(&out.stderr)),
        }
    }
    assert!(ok >= 1 && refused >= 1, "ok {ok}, refused {refused}: the budget must bind for this test to mean anything");
    // Every host sees the same ledger: one dense chain, spend within the limit, sums agree.
    let store = LedgerSet::new(&hosts[3].plane).open("HO1/prompts").unwrap();
    let n = check_chain(&*store);
    let entries = store.query(&LedgerQuery::default()).unwrap();
    assert_eq!(entries.len() as u64, n);
    let state = BudgetState::from_entries(&entries);
    let t = &state.scopes["tenant/acme"];
    assert!(t.spent_micros <= LIMIT, "overspent: {} > {LIMIT}", t.spent_micros);
    let sum: u64 = entries
        .iter()
        .filter(|e| e.event_type == "PROMPT_RECEIVED")
        .map(|e| e.metadata["cost_micros"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, t.spent_micros);
    assert_eq!(entries.iter().filter(|e| e.event_type == "PROMPT_RECEIVED").count(), ok);
    assert_eq!(entries.iter().filter(|e| e.event_type == "PROMPT_REJECTED").count(), refused);
    // `budget show` on another host agrees with the ledger.
    let out =
        cpctl(&hosts[1]).args(["budget", "show", "--tenant", "acme", "--json", "--token", &tok]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["scopes"]["tenant/acme"]["spent_micros"], t.spent_micros);
    let out = cpctl(&hosts[2]).args(["ledger", "verify", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

/// xorshift64*, seeded from the clock; the seed is printed so a failure can be replayed.
struct Rng(u64);
impl Rng {
    fn new() -> Self {
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
        eprintln!("crash test seed {seed}");
        Self(seed)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

#[test]
fn hosts_killed_mid_append_lose_no_acknowledged_entry() {
    let Some(fx) = PgSchema::new() else { return };
    let hosts: Vec<TempPlane> = (0..2).map(|_| fx.temp_plane()).collect();
    let mut rng = Rng::new();
    let mut acked = Vec::new();
    for trial in 0..30 {
        // A second host appends to the same ledger all along; the killed one is the first.
        let mut other = cpctl(&hosts[1])
            .args(["ledger", "append", "--ledger", "HOT/crash", "--event-type", "OTHER_HOST", "--repeat", "20"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut child = cpctl(&hosts[0])
            .args(["ledger", "append", "--ledger", "HOT/crash", "--event-type", "CRASH_TEST"])
            .args(["--session", "s1", "--repeat", "1000000", "--print-seq"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut printed = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if printed.is_empty() {
                    let _ = tx.send(());
                }
                printed.push(line.trim().parse::<u64>().unwrap());
            }
            printed
        });
        let _ = rx.recv_timeout(Duration::from_secs(20));
        std::thread::sleep(Duration::from_micros(rng.below(20_000)));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(other.wait().unwrap().success(), "trial {trial}: the other host failed");
        let printed = reader.join().unwrap();
        assert!(!printed.is_empty(), "trial {trial}: child printed nothing");
        acked.extend(printed);
    }
    let store = LedgerSet::new(&hosts[1].plane).open("HOT/crash").unwrap();
    let n = check_chain(&*store);
    for seq in &acked {
        let e = store.get(*seq).unwrap().unwrap_or_else(|| panic!("acknowledged seq {seq} lost (ledger has {n})"));
        assert_eq!(e.event_type, "CRASH_TEST");
    }
    let others = store.query(&LedgerQuery { event_types: vec!["OTHER_HOST".into()], ..Default::default() }).unwrap();
    assert_eq!(others.len(), 30 * 20);
}

/// A loopback "provider" that accepts connections and never answers: a route sent to it stays
/// between PROMPT_SENT and PROMPT_RECEIVED until it is killed. Returns its base URL.
fn hanging_provider() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming() {
            held.push(s);
        }
    });
    url
}

fn count(store: &dyn cp_kernel::LedgerStore, event_type: &str) -> usize {
    store.query(&LedgerQuery { event_types: vec![event_type.into()], ..Default::default() }).unwrap().len()
}

#[test]
fn hosts_killed_mid_route_leave_reservations_that_budget_recover_releases() {
    let Some(fx) = PgSchema::new() else { return };
    let (hosts, tok) = hosts(&fx, 1_000_000);
    let hang = hanging_provider();
    for h in &hosts {
        let mut contract = test_contract();
        contract.boundary.model = Some("gpt-4o-mini".into());
        std::fs::write(h.dir.path().join("contract-openai.json"), serde_json::to_vec(&contract).unwrap()).unwrap();
        let req = json!({"contract": "contract-openai.json", "context": "c", "input": {"question": "q"},
                         "provenance": {"tenant_id": "acme", "session_id": "s2"}});
        std::fs::write(h.dir.path().join("req-openai.json"), serde_json::to_vec(&req).unwrap()).unwrap();
    }
    let store = LedgerSet::new(&hosts[0].plane).open("HO1/prompts").unwrap();
    let mut rng = Rng::new();
    let mut hung = 0;
    for trial in 0..30 {
        let h = &hosts[trial % HOSTS];
        if trial % 2 == 0 {
            // Mid-dispatch, for certain: the provider never answers; killed once PROMPT_SENT is in.
            let before = count(&*store, "PROMPT_SENT");
            let mut c = cpctl(h)
                .args(["route", "--json", "--provider", "openai", "--request"])
                .arg(h.dir.path().join("req-openai.json"))
                .args(["--token", &tok])
                .env("CP_OPENAI_BASE_URL", &hang)
                .env("CP_OPENAI_API_KEY", "test-key")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let t0 = std::time::Instant::now();
            while count(&*store, "PROMPT_SENT") == before {
                assert!(t0.elapsed() < Duration::from_secs(30), "trial {trial}: no PROMPT_SENT");
                assert!(c.try_wait().unwrap().is_none(), "trial {trial}: route ended before dispatch");
                std::thread::sleep(Duration::from_millis(5));
            }
            hung += 1;
            c.kill().unwrap();
            c.wait().unwrap();
        } else {
            // At a random moment of a route to the mock provider.
            let mut c = route(h, &tok).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
            std::thread::sleep(Duration::from_millis(rng.below(150)));
            c.kill().ok();
            c.wait().unwrap();
        }
    }
    check_chain(&*store);
    let out = cpctl(&hosts[2]).args(["ledger", "check", "--dangling", "--json"]).output().unwrap();
    assert_ne!(out.status.code(), Some(0), "dangling reservations must be reported before recover");
    let out = cpctl(&hosts[1]).args(["budget", "recover", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let recovered: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(recovered.len() >= hung, "{} recovered, {hung} routes killed mid-dispatch", recovered.len());
    let out = cpctl(&hosts[2]).args(["ledger", "check", "--dangling", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let entries = store.query(&LedgerQuery::default()).unwrap();
    let state = BudgetState::from_entries(&entries);
    let t = &state.scopes["tenant/acme"];
    assert_eq!((t.reserved_micros, t.reserved_tokens), (0, 0), "reservations left after recover");
    let out = cpctl(&hosts[3]).args(["ledger", "verify", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn hosts_ride_out_the_server_dropping_their_connections() {
    let Some(fx) = PgSchema::new() else { return };
    let hosts: Vec<TempPlane> = (0..2).map(|_| fx.temp_plane()).collect();
    const PER_HOST: usize = 300;
    let mut children: Vec<_> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            cpctl(h)
                .args(["ledger", "append", "--ledger", "HOT/net", "--event-type", "NET_TEST"])
                .args(["--agent", &format!("host-{i}"), "--repeat", &PER_HOST.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // As a server restart does to them: every connection of the hosts is closed, repeatedly.
    let mut admin = fx.client();
    let mut kills = 0;
    let mut rounds = 0;
    while rounds < 8 && children.iter_mut().any(|c| c.try_wait().unwrap().is_none()) {
        rounds += 1;
        kills += admin
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1",
                &[&format!("cp-kernel ledger {}", fx.schema)],
            )
            .unwrap()
            .get::<_, i64>(0);
        std::thread::sleep(Duration::from_millis(150));
    }
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    eprintln!("{kills} connections terminated");
    assert!(kills > 0);
    let store = LedgerSet::new(&hosts[0].plane).open("HOT/net").unwrap();
    // Nothing lost, nothing doubled.
    assert_eq!(check_chain(&*store), 2 * PER_HOST as u64);
    for i in 0..2 {
        let mut q = LedgerQuery::default();
        q.provenance.agent_id = Some(format!("host-{i}"));
        assert_eq!(store.query(&q).unwrap().len(), PER_HOST);
    }
}

/// Every stored record of a ledger: (seq, body, entry_hash).
fn raw(store: &dyn cp_kernel::LedgerStore) -> Vec<(u64, Vec<u8>, String)> {
    let mut out = Vec::new();
    store
        .scan_raw(&mut |r| {
            out.push((r.position, r.body.to_vec(), r.entry_hash.to_string()));
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    out
}

#[test]
fn ledger_copy_to_postgres_and_back_keeps_every_byte_and_hash() {
    let Some(fx) = PgSchema::new() else { return };
    let a = TempPlane::new();
    let out = cpctl(&a)
        .args(["ledger", "append", "--ledger", "HOT/crash", "--event-type", "COPY_TEST", "--session", "s1"])
        .args(["--meta-json", r#"{"text":"é ü 中","n":1.5}"#, "--repeat", "2500"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let original = raw(&*LedgerSet::new(&a.plane).open("HOT/crash").unwrap());
    let copy = |tp: &TempPlane, from: &str, to: &str| {
        cpctl(tp)
            .args(["--json", "ledger", "copy", "--from", from, "--to", to, "--schema", &fx.schema])
            .output()
            .unwrap()
    };
    let out = copy(&a, "HOT/crash", &fx.url);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["entries"], 2500);
    assert_eq!(raw(&fx.open("HOT/crash")), original);
    // Into a ledger that holds entries: refused, nothing written.
    let out = copy(&a, "HOT/crash", &fx.url);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(fx.open("HOT/crash").len().unwrap(), 2500);
    // And back into another plane, from CP_LEDGER_URL.
    let b = TempPlane::new();
    let out = cpctl(&b)
        .args(["ledger", "copy", "--from", "postgres", "--to", "HOT/crash", "--schema", &fx.schema])
        .env(cp_kernel::LEDGER_URL_ENV, &fx.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(raw(&*LedgerSet::new(&b.plane).open("HOT/crash").unwrap()), original);
    let out = cpctl(&b).args(["ledger", "verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn ledger_copy_refuses_a_source_that_does_not_verify() {
    let Some(fx) = PgSchema::new() else { return };
    let a = TempPlane::new();
    let out = cpctl(&a)
        .args(["ledger", "append", "--ledger", "HOT/crash", "--event-type", "COPY_TEST", "--repeat", "5"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let c = rusqlite::Connection::open(a.plane.root().join("HOT/ledger/crash.db")).unwrap();
    c.execute_batch("DROP TRIGGER entries_no_update; UPDATE entries SET session_id = 'x' WHERE seq = 3;").unwrap();
    let out = cpctl(&a)
        .args(["ledger", "copy", "--from", "HOT/crash", "--to", &fx.url, "--schema", &fx.schema])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not verify"));
    assert_eq!(fx.open("HOT/crash").len().unwrap(), 0);
}

/// The operations service follows the plane (issue 16): on a PostgreSQL plane its event store
/// and cost facts are ledgers in the shared schema, so what one host's `cpctl serve` ingested,
/// another host's service — its own plane directory, nothing copied — reports the same, and
/// neither plane directory holds a ledger file.
#[test]
fn the_operations_service_stores_on_the_planes_postgresql() {
    use crate::ops_support::{Server, token};
    let Some(fx) = PgSchema::new() else { return };
    let (a, b) = (fx.temp_plane(), fx.temp_plane());
    let (r, bu, p) = router_test_configs();
    for h in [&a, &b] {
        write_router_configs(h, &r, &bu, &p);
    }
    let now = format!("{:.3}", jiff::Timestamp::now());
    let body: Vec<String> = (0..20)
        .map(|i| {
            let status = if i % 4 == 0 { "failure" } else { "success" };
            json!({"timestamp": now, "agent_id": "a", "workflow_id": "w", "run_id": format!("r{i}"), "status": status,
                   "latency_ms": i, "cost_usd": 0.25, "id": format!("e{i}")})
            .to_string()
        })
        .collect();
    let srv = Server::start(&a, &[]);
    let (s, v) = srv.post_json("/v1/events", Some(&token("acme", &["ingest"])), body.join("\n").as_bytes());
    assert_eq!(s, 200, "{v}");
    let on_a = srv.get_json("/v1/metrics/overview", Some(&token("acme", &["read"])));
    assert!(srv.terminate());
    let srv = Server::start(&b, &[]);
    let on_b = srv.get_json("/v1/metrics/overview", Some(&token("acme", &["read"])));
    assert_eq!(on_a, on_b, "host b reads what host a stored");
    assert_eq!((on_b["runs"].as_u64(), on_b["failures"].as_u64()), (Some(20), Some(5)), "{on_b}");
    assert_eq!(on_b["spend_usd"].as_f64(), Some(5.0), "{on_b}");
    drop(srv);
    let names: Vec<String> = LedgerSet::new(&b.plane).list().unwrap().iter().map(|n| n.to_string()).collect();
    assert!(names.iter().any(|n| n.starts_with("HO1/ops-events-")), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("HO1/ops-costs-")), "{names:?}");
    for h in [&a, &b] {
        let files = cp_kernel::testkit::dir_set(h.plane.root(), &[]);
        assert!(!files.iter().any(|f| f.contains("/ledger/")), "{files:?}");
    }
}
