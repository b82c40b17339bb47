//! `cpctl serve` over real HTTP: 1,000 events give the overview computed here independently,
//! failures come newest first, `cpctl ops rebuild` gives the same numbers, adjustments are
//! compensating entries, and tokens keep tenants apart.

use std::collections::HashMap;
use std::process::Command;

use serde_json::{Value, json};

use crate::ops_support::{Server, ops_plane, token};

/// 1,000 events: 700 runs, of which 300 have a `started` event before their end, some still
/// running; 40 events are retries (same `id`).
fn events(now_ms: i64) -> Vec<Value> {
    let ts = |ago_ms: i64| format!("{:.3}", jiff::Timestamp::from_millisecond(now_ms - ago_ms).unwrap());
    let mut v = Vec::new();
    for i in 0..700i64 {
        let ago = 60_000 + (i * 7_919) % 20_000_000; // within the last ~5.6 hours
        let status = match i % 10 {
            0 | 1 => "failure",
            2 => "started",
            _ => "success",
        };
        if i < 260 && status != "started" {
            v.push(
                json!({"id": format!("s-{i}"), "timestamp": ts(ago + 5_000), "agent_id": format!("agent-{}", i % 4),
                "workflow_id": format!("wf-{}", i % 3), "run_id": format!("run-{i}"), "status": "started",
                "latency_ms": 0, "cost_usd": 0.0}),
            );
        }
        let mut e = json!({"id": format!("e-{i}"), "timestamp": ts(ago), "agent_id": format!("agent-{}", i % 4),
            "workflow_id": format!("wf-{}", i % 3), "run_id": format!("run-{i}"), "status": status,
            "latency_ms": 10 + (i * 37) % 3_000, "cost_usd": ((i * 13) % 1_000) as f64 / 10_000.0,
            "trace_id": format!("trace-{i}")});
        if status == "failure" {
            e["error_type"] = json!(if i % 20 == 0 { "timeout" } else { "tool_error" });
        }
        v.push(e);
    }
    assert_eq!(v.len(), 700 + 260 - 26, "runs with a started event");
    // Top up to 960 unique events with model-call events of new runs, then 40 retries.
    let mut k = 0;
    while v.len() < 960 {
        v.push(json!({"id": format!("m-{k}"), "timestamp": ts(1_000 + k * 1_000), "agent_id": "agent-9",
            "workflow_id": "wf-model", "model_call_id": format!("mc-{k}"), "status": "completed",
            "latency_ms": 200 + k, "cost_usd": 0.002, "provider": "mock", "model": "m1", "input_tokens": 10,
            "output_tokens": 5, "total_tokens": 15}));
        k += 1;
    }
    let retries: Vec<Value> = v[100..140].to_vec();
    v.extend(retries);
    assert_eq!(v.len(), 1000);
    v
}

/// The overview computed from the events: each run once with its latest event.
fn expected(evs: &[Value], workflow: Option<&str>) -> Value {
    let mut seen = std::collections::HashSet::new();
    let mut runs: HashMap<String, (String, &Value)> = HashMap::new();
    let mut spend = 0.0;
    let mut last: Option<String> = None;
    for e in evs {
        if !seen.insert(e["id"].as_str().unwrap().to_string()) {
            continue;
        }
        if workflow.is_some_and(|w| e["workflow_id"] != w) {
            continue;
        }
        spend += e["cost_usd"].as_f64().unwrap();
        let key = e["run_id"].as_str().map_or_else(|| format!("ev-{}", e["id"]), str::to_string);
        let t = e["timestamp"].as_str().unwrap().to_string();
        match runs.get(&key) {
            Some((old, _)) if *old > t => {}
            _ => {
                runs.insert(key, (t, e));
            }
        }
    }
    let (mut s, mut f, mut r, mut lat) = (0u64, 0u64, 0u64, Vec::new());
    for (t, e) in runs.values() {
        last = last.max(Some(t.clone()));
        match e["status"].as_str().unwrap() {
            "success" | "completed" => s += 1,
            "failure" | "failed" => f += 1,
            _ => r += 1,
        }
        if e["status"] != "started" {
            lat.push(e["latency_ms"].as_u64().unwrap());
        }
    }
    lat.sort_unstable();
    let p95 = lat[(lat.len() as f64 * 0.95).ceil() as usize - 1];
    let avg = lat.iter().sum::<u64>() as f64 / lat.len() as f64;
    json!({"window_hours": 24, "runs": s + f + r, "successes": s, "failures": f, "running": r,
        "success_rate": s as f64 / (s + f) as f64, "spend_usd": (spend * 1e6).round() / 1e6,
        "avg_latency_ms": avg, "p95_latency_ms": p95, "last_event_at": last})
}

fn assert_overview(got: &Value, want: &Value) {
    for k in ["window_hours", "runs", "successes", "failures", "running", "p95_latency_ms", "last_event_at"] {
        assert_eq!(got[k], want[k], "{k}: got {got} want {want}");
    }
    for k in ["success_rate", "spend_usd", "avg_latency_ms"] {
        let (g, w) = (got[k].as_f64().unwrap(), want[k].as_f64().unwrap());
        assert!((g - w).abs() < 1e-6, "{k}: got {g} want {w}");
    }
}

fn post_batches(srv: &Server, tok: &str, evs: &[Value]) {
    for (n, chunk) in evs.chunks(125).enumerate() {
        let body = if n % 2 == 0 {
            serde_json::to_vec(chunk).unwrap()
        } else {
            chunk.iter().map(Value::to_string).collect::<Vec<_>>().join("\n").into_bytes()
        };
        let (s, v) = srv.post_json("/v1/events", Some(tok), &body);
        assert_eq!(s, 200, "{v}");
    }
}

#[test]
fn a_thousand_events_give_the_independently_computed_overview() {
    let tp = ops_plane();
    let srv = Server::start(&tp, &[]);
    let (ing, read) = (token("acme", &["ingest"]), token("acme", &["read"]));
    let evs = events(jiff::Timestamp::now().as_millisecond());
    post_batches(&srv, &ing, &evs);

    let got = srv.get_json("/v1/metrics/overview", Some(&read));
    assert_overview(&got, &expected(&evs, None));
    let wf = srv.get_json("/v1/metrics/overview?workflow_id=wf-1&window_hours=24", Some(&read));
    assert_overview(&wf, &expected(&evs, Some("wf-1")));

    // Failures: newest first, the fields of the events.
    let f = srv.get_json("/v1/failures/recent?limit=5", Some(&read));
    let rows = f["failures"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let times: Vec<&str> = rows.iter().map(|r| r["timestamp"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let newest_failure = evs
        .iter()
        .filter(|e| e["status"] == "failure")
        .max_by_key(|e| e["timestamp"].as_str().unwrap().to_string())
        .unwrap();
    assert_eq!(rows[0]["run_id"], newest_failure["run_id"]);
    assert_eq!(rows[0]["error_type"], newest_failure["error_type"]);
    assert_eq!(rows[0]["trace_id"], newest_failure["trace_id"]);

    // A forced failure shows at once.
    let now = format!("{:.3}", jiff::Timestamp::now());
    let forced = json!({"timestamp": now, "agent_id": "agent-x", "workflow_id": "wf-forced", "status": "failed",
        "latency_ms": 5, "cost_usd": 0, "error_type": "forced", "run_id": "forced-1"});
    assert_eq!(srv.post_json("/v1/events", Some(&ing), forced.to_string().as_bytes()).0, 200);
    let f = srv.get_json("/v1/failures/recent?limit=1", Some(&read));
    assert_eq!(f["failures"][0]["error_type"], "forced");

    // Time series: one point per hour, summing to the overview.
    let ts = srv.get_json("/v1/metrics/timeseries", Some(&read));
    let pts = ts["points"].as_array().unwrap();
    assert_eq!(pts.len(), 24);
    let spend: f64 = pts.iter().map(|p| p["spend_usd"].as_f64().unwrap()).sum();
    let ov = srv.get_json("/v1/metrics/overview", Some(&read));
    assert!((spend - ov["spend_usd"].as_f64().unwrap()).abs() < 1e-6);
    assert_eq!(pts.iter().map(|p| p["runs"].as_u64().unwrap()).sum::<u64>(), ov["runs"].as_u64().unwrap());

    // A compensating adjustment changes the spend, and the rebuild gives the same numbers.
    let (s, adj) = srv.post_json(
        "/v1/costs/adjust",
        Some(&ing),
        json!({"event_id": "e-3", "amount_usd": -0.05, "reason": "refund"}).to_string().as_bytes(),
    );
    assert_eq!(s, 200, "{adj}");
    let after = srv.get_json("/v1/metrics/overview", Some(&read));
    let delta = after["spend_usd"].as_f64().unwrap() - ov["spend_usd"].as_f64().unwrap();
    assert!((delta + 0.05).abs() < 1e-9, "{delta}");
    let (s, bad) =
        srv.post_json("/v1/costs/adjust", Some(&ing), br#"{"event_id": "nope", "amount_usd": 1, "reason": "x"}"#);
    assert_eq!(s, 400, "{bad}");

    let out = Command::new(env!("CARGO_BIN_EXE_cpctl"))
        .arg("--root")
        .arg(tp.plane.root())
        .args(["--json", "ops", "rebuild", "--tenant", "acme"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rebuilt: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rebuilt[0]["events"], 961);
    assert_overview(&rebuilt[0]["overview"], &after);
    assert!(srv.terminate(), "graceful shutdown exits 0");
}

#[test]
fn tokens_keep_tenants_apart_and_need_their_role() {
    let tp = ops_plane();
    let srv = Server::start(&tp, &[]);
    let now = format!("{:.3}", jiff::Timestamp::now());
    let e = json!({"timestamp": now, "agent_id": "a", "workflow_id": "w", "status": "success", "latency_ms": 1, "cost_usd": 1.5});
    let body = e.to_string();
    assert_eq!(srv.post_json("/v1/events", None, body.as_bytes()).0, 401);
    assert_eq!(srv.post_json("/v1/events", Some("cp1.00.00"), body.as_bytes()).0, 401);
    assert_eq!(srv.post_json("/v1/events", Some(&token("acme", &["read"])), body.as_bytes()).0, 403);
    let mut other_tenant = e.clone();
    other_tenant["tenant_id"] = json!("globex");
    assert_eq!(
        srv.post_json("/v1/events", Some(&token("acme", &["ingest"])), other_tenant.to_string().as_bytes()).0,
        403
    );
    assert_eq!(srv.post_json("/v1/events", Some(&token("acme", &["ingest"])), body.as_bytes()).0, 200);

    let acme = srv.get_json("/v1/metrics/overview", Some(&token("acme", &["read"])));
    assert_eq!((acme["runs"].as_u64(), acme["spend_usd"].as_f64()), (Some(1), Some(1.5)));
    let globex = srv.get_json("/v1/metrics/overview", Some(&token("globex", &["read"])));
    assert_eq!((globex["runs"].as_u64(), globex["spend_usd"].as_f64()), (Some(0), Some(0.0)));
    let (s, _) = srv.call("GET", "/v1/metrics/overview?tenant=acme", Some(&token("globex", &["read"])), b"");
    assert_eq!(s, 403);
    let (s, _) = srv.call("GET", "/v1/failures/recent", None, b"");
    assert_eq!(s, 401);
    // Expired an hour ago, relative to now.
    let now_ms = jiff::Timestamp::now().as_millisecond() as u64;
    let expired = cp_kernel::TokenClaims {
        principal: "acme-client".into(),
        roles: vec!["read".into()],
        tenant: "acme".into(),
        issued_at_ms: now_ms - 7_200_000,
        expires_at_ms: now_ms - 3_600_000,
        token_id: "t-expired".into(),
    };
    let expired = cp_kernel::issue_token(&cp_kernel::testkit::test_secret(), &expired);
    let (s, _) = srv.call("GET", "/v1/metrics/overview", Some(&expired), b"");
    assert_eq!(s, 401);
    let (s, _) = srv.call("GET", "/", None, b"");
    assert_eq!(s, 401);
    drop(srv);
    // Every refusal is on the governance ledger.
    let out = Command::new(env!("CARGO_BIN_EXE_cpctl"))
        .arg("--root")
        .arg(tp.plane.root())
        .args(["--json", "ledger", "query", "--ledger", "HOT/governance", "--event-type", "ACCESS_DENIED"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.matches("ACCESS_DENIED").count() >= 8, "{text}");
    // The kernel's shape: who asked for which tenant holding which, under which policy.
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let denials: Vec<&serde_json::Value> = v[0]["entries"].as_array().unwrap().iter().map(|e| &e["metadata"]).collect();
    let cross = denials.iter().find(|m| m["tenant_asked"] == "acme").expect("the cross-tenant read is logged");
    assert_eq!(
        (&cross["tenant_held"], &cross["principal"], &cross["policy_id"], &cross["code"]),
        (&json!("globex"), &json!("globex-client"), &json!("tenant.sovereignty"), &json!("ACCESS_DENIED")),
        "{cross}"
    );
    let role = denials.iter().find(|m| m["code"] == "FORBIDDEN").expect("the role refusal is logged");
    assert_eq!((&role["tenant_held"], &role["policy_id"]), (&json!("acme"), &json!("router.roles")), "{role}");
    let entries = v[0]["entries"].as_array().unwrap();
    let expired = entries
        .iter()
        .find(|e| e["reason"].as_str().is_some_and(|r| r.contains("expired")))
        .expect("the expired token is logged");
    let m = &expired["metadata"];
    assert_eq!(
        (&m["code"], &m["policy_id"], &m["principal"]),
        (&json!("AUTH_DENIED"), &json!("router.auth"), &Value::Null)
    );
}

#[test]
fn dev_mode_is_loopback_only_and_logged_as_a_waiver() {
    let tp = ops_plane();
    let out = Command::new(env!("CARGO_BIN_EXE_cpctl"))
        .arg("--root")
        .arg(tp.plane.root())
        .args(["serve", "--dev", "--bind", "0.0.0.0", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"), "{}", String::from_utf8_lossy(&out.stderr));

    let srv = Server::start(&tp, &["--dev"]);
    let now = format!("{:.3}", jiff::Timestamp::now());
    let e = json!({"timestamp": now, "agent_id": "a", "workflow_id": "w", "status": "success", "latency_ms": 1, "cost_usd": 0.5, "tenant_id": "t1"});
    assert_eq!(srv.post_json("/v1/events", None, e.to_string().as_bytes()).0, 200);
    assert_eq!(srv.get_json("/v1/metrics/overview?tenant=t1", None)["runs"], 1);
    assert_eq!(srv.get_json("/v1/metrics/overview", None)["runs"], 0, "the dev tenant is another tenant");
    drop(srv);
    let out = Command::new(env!("CARGO_BIN_EXE_cpctl"))
        .arg("--root")
        .arg(tp.plane.root())
        .args(["--json", "ledger", "query", "--ledger", "HOT/governance", "--event-type", "POLICY_WAIVED"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ops.auth"), "{text}");
}

#[test]
fn the_generator_sends_its_events() {
    let tp = ops_plane();
    let srv = Server::start(&tp, &[]);
    let out = Command::new(env!("CARGO_BIN_EXE_cpctl"))
        .args(["--json", "ops", "generate", "--events", "120", "--failure-rate", "0.25", "--batch", "50"])
        .arg("--url")
        .arg(format!("http://{}", srv.addr))
        .arg("--token")
        .arg(token("acme", &["ingest"]))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let g: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((g["accepted"].as_u64(), g["requests"].as_u64()), (Some(120), Some(3)));
    let ov = srv.get_json("/v1/metrics/overview", Some(&token("acme", &["read"])));
    assert_eq!(ov["runs"], 120);
    assert_eq!(ov["failures"], g["failures"]);
    assert!((ov["spend_usd"].as_f64().unwrap() - g["spend_usd"].as_f64().unwrap()).abs() < 1e-6);
}
