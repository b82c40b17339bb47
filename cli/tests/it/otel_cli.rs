//! `cpctl otel export` and `cpctl aef export` on a plane where two tenants routed prompts: the
//! output parses (OTLP JSON decoded by the generated messages; AEF by the aef validator) and
//! never contains the other tenant.

use std::path::Path;
use std::process::Command;

use cp_kernel::testkit::{router_test_configs, test_contract, test_secret, write_router_configs};
use cp_kernel::{PromptRequest, PromptRouter, RoutedContext, RouterOptions, testkit::TempPlane};
use cp_kernel::{Provenance, RejectCode};
use serde_json::{Value, json};

fn cpctl(tp: &TempPlane) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cpctl"));
    // Operator mode (the reads below name their tenant without a token) needs the plane's secret.
    c.arg("--root")
        .arg(tp.plane.root())
        .env_remove("OTEL_SERVICE_NAME")
        .env("CP_AUTH_SECRET", crate::support::SECRET)
        .env_remove("CP_AUTH_SECRET_FILE")
        .env_remove("CP_AUTH_TOKEN");
    c
}

fn request(tenant: &str, session: &str, token: &str) -> PromptRequest {
    PromptRequest {
        context: RoutedContext::from_text("the plane has 12 packages"),
        contract: test_contract(),
        input: json!({"question": "how many packages?"}),
        provenance: Provenance {
            tenant_id: Some(tenant.into()),
            session_id: Some(session.into()),
            agent_id: Some("agent-1".into()),
            ..Provenance::default()
        },
        auth_token: token.into(),
    }
}

/// A plane where `acme` routed two prompts in session s1 (one refused) and `other` one.
pub(crate) fn routed_plane() -> TempPlane {
    let tp = TempPlane::new();
    let (r, b, p) = router_test_configs();
    write_router_configs(&tp, &r, &b, &p);
    let router = PromptRouter::open(&tp.plane, RouterOptions::new().auth_secret(test_secret())).unwrap();
    let tok = |t: &str| router.issue_token("tester", &["agent".into()], t, Some(3600)).unwrap().0;
    let (acme, other) = (tok("acme"), tok("other"));
    router.route(request("acme", "s1", &acme)).unwrap();
    router.route(request("other", "s9", &other)).unwrap();
    let err = router.route(request("acme", "s1", &other)).unwrap_err();
    assert_eq!(err.reject_code(), Some(RejectCode::Forbidden));
    router.route(request("acme", "s1", &acme)).unwrap();
    tp
}

fn run_ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    text
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

#[test]
fn otel_export_writes_decodable_lines_of_one_tenant() {
    let tp = routed_plane();
    let out = tp.dir.path().join("spans.jsonl");
    let summary =
        run_ok(cpctl(&tp).args(["--json", "otel", "export", "--tenant", "acme", "--operator", "--out"]).arg(&out));
    let s: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(s["stats"]["prompts"], 2);
    let text = read(&out);
    assert!(text.contains("\"acme\"") && !text.contains("\"other\""));
    let mut spans = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        if v.get("resourceSpans").is_some() {
            let t: cp_otel::proto::trace::v1::TracesData = serde_json::from_str(line).unwrap();
            spans += t.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum::<usize>();
        } else {
            let _: cp_otel::proto::metrics::v1::MetricsData = serde_json::from_str(line).unwrap();
        }
    }
    assert_eq!(spans as u64, s["stats"]["spans"].as_u64().unwrap());
    // Re-export gives the same bytes (span ids derive from entry ids).
    let again = tp.dir.path().join("again.jsonl");
    run_ok(cpctl(&tp).args(["otel", "export", "--tenant", "acme", "--operator", "--out"]).arg(&again));
    assert_eq!(read(&again), text);
    // A session filter and a bad time are handled.
    let none = tp.dir.path().join("none.jsonl");
    run_ok(
        cpctl(&tp).args(["otel", "export", "--tenant", "acme", "--operator", "--session", "nope", "--out"]).arg(&none),
    );
    assert_eq!(read(&none), "");
    let bad = cpctl(&tp)
        .args(["otel", "export", "--tenant", "acme", "--operator", "--since", "soon", "--out"])
        .arg(&none)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("--since \"soon\"") && !err.contains("Usage("), "{err}");
}

#[test]
fn aef_export_validates_and_stays_inside_the_tenant() {
    let tp = routed_plane();
    let out = tp.dir.path().join("sessions.aef.jsonl");
    run_ok(cpctl(&tp).args(["aef", "export", "--tenant", "acme", "--operator", "--out"]).arg(&out));
    let text = read(&out);
    // Strict: the cp.prompt namespace must have its schema registered.
    let schema: Value =
        serde_json::from_str(&read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/aef-cp-prompt.schema.json")))
            .unwrap();
    let mut reg = aef::ExtensionRegistry::with_builtin().unwrap();
    reg.register("cp.prompt", &schema).unwrap();
    let v = aef::Validator::with_extensions(reg, true).unwrap();
    let mut types = Vec::new();
    for line in text.lines() {
        let verdict = v.check_line(line.as_bytes());
        assert!(verdict.is_valid(), "{line}: {verdict:?}");
        let e: Value = serde_json::from_str(line).unwrap();
        assert_eq!(e["sid"], "s1", "only acme's session");
        types.push(e["type"].as_str().unwrap().to_string());
    }
    let count = |t: &str| types.iter().filter(|x| *x == t).count();
    assert_eq!((count("session.start"), count("session.end"), count("message")), (1, 1, 4));
    assert_eq!(count("cp.prompt.cost"), 2);
    let end: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert!(end["summary"]["tokens"]["input"].as_u64().unwrap() > 0, "{end}");
    // Standard output without --out.
    let stdout = run_ok(cpctl(&tp).args(["aef", "export", "--tenant", "other", "--operator"]));
    assert!(stdout.lines().count() >= 4 && !stdout.contains("\"s1\""));
}

#[test]
fn otel_push_honours_the_environment_and_reports_what_was_sent() {
    use std::io::{BufRead, BufReader, Read, Write};
    let tp = routed_plane();
    // A one-shot receiver that records the request line and headers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::thread::spawn(move || {
        let mut heads = Vec::new();
        for _ in 0..2 {
            let (s, _) = listener.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut head = String::new();
            let mut len = 0usize;
            loop {
                let mut l = String::new();
                r.read_line(&mut l).unwrap();
                if l.trim().is_empty() {
                    break;
                }
                if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                head.push_str(&l);
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let mut w = s;
            w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
            heads.push(head);
        }
        heads
    });
    let out = run_ok(
        cpctl(&tp)
            .args(["--json", "otel", "push", "--tenant", "acme", "--operator"])
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", &url)
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
            .env("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20x")
            .env("OTEL_SERVICE_NAME", "svc-from-env"),
    );
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((r["trace_requests"].as_u64(), r["metric_requests"].as_u64()), (Some(1), Some(1)));
    let heads = seen.join().unwrap();
    assert!(heads[0].starts_with("POST /v1/traces ") && heads[1].starts_with("POST /v1/metrics "), "{heads:?}");
    assert!(heads[0].to_ascii_lowercase().contains("content-type: application/json"));
    assert!(heads[0].to_ascii_lowercase().contains("authorization: bearer x"));
}

/// A receiver answering 200 to every request (`Connection: close`), counting trace requests.
fn counting_receiver(listener: std::net::TcpListener) -> std::sync::Arc<std::sync::Mutex<u32>> {
    use std::io::{BufRead, BufReader, Read, Write};
    let n = std::sync::Arc::new(std::sync::Mutex::new(0u32));
    let c = n.clone();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let mut r = BufReader::new(s.try_clone().unwrap());
            let (mut len, mut traces) = (0usize, false);
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).unwrap_or(0) == 0 || l.trim().is_empty() {
                    break;
                }
                traces |= l.starts_with("POST /v1/traces");
                if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            if traces {
                *c.lock().unwrap() += 1;
            }
            let mut w = s;
            let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    n
}

#[test]
fn otel_push_follow_spools_while_the_receiver_is_down_and_delivers_after_a_restart() {
    let tp = routed_plane();
    // One attempt per batch, so the run with the receiver down ends at once (plane config).
    let cfg = cp_otel::DEFAULT_OTEL_CONFIG_YAML.replace("max_attempts: 5", "max_attempts: 1");
    assert_ne!(cfg, cp_otel::DEFAULT_OTEL_CONFIG_YAML);
    std::fs::write(tp.plane.root().join("HOT/config/otel_config.yaml"), cfg).unwrap();
    let state = tp.dir.path().join("follow-state");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let follow = |tp: &TempPlane| {
        let out = run_ok(
            cpctl(tp)
                .args([
                    "--json",
                    "otel",
                    "push",
                    "--tenant",
                    "acme",
                    "--operator",
                    "--follow",
                    "--polls",
                    "1",
                    "--endpoint",
                    &url,
                ])
                .arg("--state")
                .arg(&state),
        );
        serde_json::from_str::<Value>(&out).unwrap()
    };
    let down = follow(&tp);
    assert!(down["spool_batches"].as_u64().unwrap() > 0, "{down}");
    assert_eq!(down["delivered"]["spans"], 0);
    let count = counting_receiver(std::net::TcpListener::bind(("127.0.0.1", port)).unwrap());
    let up = follow(&tp);
    assert_eq!(up["spool_batches"], 0, "{up}");
    assert_eq!(up["entries"], 0, "nothing re-read after the restart");
    let spans = up["delivered"]["spans"].as_u64().unwrap();
    // Exactly what a one-shot export of the same tenant holds.
    let out = tp.dir.path().join("all.jsonl");
    let sum =
        run_ok(cpctl(&tp).args(["--json", "otel", "export", "--tenant", "acme", "--operator", "--out"]).arg(&out));
    let sum: Value = serde_json::from_str(&sum).unwrap();
    assert_eq!(spans, sum["stats"]["spans"].as_u64().unwrap());
    let again = follow(&tp);
    assert_eq!(again["delivered"]["spans"], 0, "nothing delivered twice");
    assert_eq!(*count.lock().unwrap() as u64, up["delivered"]["trace_requests"].as_u64().unwrap());
}

#[test]
fn report_writes_html_and_pdf_of_one_tenant() {
    let tp = routed_plane();
    let html = tp.dir.path().join("r.html");
    let out = run_ok(
        cpctl(&tp)
            .args([
                "--json",
                "report",
                "--tenant",
                "acme",
                "--operator",
                "--session",
                "s1",
                "--format",
                "html",
                "--out",
            ])
            .arg(&html),
    );
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((r["prompts"].as_u64(), r["chain"][0]["verified"].as_bool()), (Some(2), Some(true)), "{r}");
    let text = read(&html);
    assert!(text.contains("tenant acme") && text.contains("FORBIDDEN") && !text.contains("tenant other"));
    let pdf = tp.dir.path().join("r.pdf");
    run_ok(
        cpctl(&tp)
            .args([
                "report",
                "--tenant",
                "acme",
                "--operator",
                "--since",
                "2000-01-01T00:00:00Z",
                "--format",
                "pdf",
                "--out",
            ])
            .arg(&pdf),
    );
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF-"));
    // A bare file name, as the README writes it: the file lands in the working directory.
    run_ok(
        cpctl(&tp)
            .current_dir(tp.dir.path())
            .args([
                "report",
                "--tenant",
                "acme",
                "--operator",
                "--since",
                "2000-01-01T00:00:00Z",
                "--format",
                "pdf",
                "--out",
            ])
            .arg("trace.pdf"),
    );
    assert!(std::fs::read(tp.dir.path().join("trace.pdf")).unwrap().starts_with(b"%PDF-"));
    let bad = cpctl(&tp)
        .args(["report", "--tenant", "acme", "--operator", "--format", "docx", "--out"])
        .arg(&pdf)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn quickstart_ends_by_writing_the_sessions_spans() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let out = Command::new(env!("CARGO_BIN_EXE_cpctl"))
        .arg("--root")
        .arg(&root)
        .args(["--json", "quickstart"])
        .env_remove("CP_AUTH_SECRET")
        .env_remove("CP_AUTH_SECRET_FILE")
        .env_remove("CP_OPENAI_BASE_URL")
        .env_remove("OTEL_SERVICE_NAME")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &r["telemetry"];
    assert_eq!(t["file"].as_str().unwrap(), dir.path().join("root-spans.otlp.jsonl").display().to_string());
    assert!(t["spans"].as_u64().unwrap() >= 2, "{t}");
    assert!(t["push"].as_str().unwrap().contains("otel push --tenant demo --session"));
    let text = read(Path::new(t["file"].as_str().unwrap()));
    let session = r["session_id"].as_str().unwrap();
    assert!(text.contains(session) && text.contains("gen_ai.usage.input_tokens"));
}
