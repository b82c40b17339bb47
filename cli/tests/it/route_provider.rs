//! `cpctl route` against a real provider: a loopback OpenAI-compatible server started in the
//! test (std TcpListener, one JSON answer per connection), picked by `--provider`, by the
//! file's `provider`, or by `CP_OPENAI_BASE_URL`; and request files refused with located
//! errors (exit 2) by their schema.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use cp_kernel::testkit::{TempPlane, router_test_configs, test_contract, test_secret, write_router_configs};
use cp_kernel::{LedgerQuery, LedgerSet, PromptRouter, RouterOptions};
use serde_json::{Value, json};

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const ANSWER: &str = "{\"answer\": \"loopback says 12\"}";

/// A loopback OpenAI-compatible server: answers every POST with one chat completion and keeps
/// each request's path and body.
struct Loopback {
    base_url: String,
    seen: Arc<Mutex<Vec<(String, Value)>>>,
}

fn serve() -> Loopback {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or_default().to_string();
            let mut len = 0usize;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            log.lock().unwrap().push((path, serde_json::from_slice(&body).unwrap_or(Value::Null)));
            let resp = json!({"choices": [{"message": {"content": ANSWER}, "finish_reason": "stop"}],
                              "usage": {"prompt_tokens": 40, "completion_tokens": 9}})
            .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{resp}",
                resp.len()
            );
        }
    });
    Loopback { base_url, seen }
}

struct Fx {
    tp: TempPlane,
    token: String,
}

fn fixture() -> Fx {
    let tp = TempPlane::new();
    let (r, b, p) = router_test_configs();
    write_router_configs(&tp, &r, &b, &p);
    let router = PromptRouter::open(&tp.plane, RouterOptions::new().auth_secret(test_secret())).unwrap();
    let (token, _) = router.issue_token("alice", &["agent".into()], "acme", Some(3600)).unwrap();
    drop(router);
    let mut contract = test_contract();
    contract.boundary.model = Some("gpt-4o-mini".into());
    std::fs::write(tp.dir.path().join("contract.json"), serde_json::to_vec(&contract).unwrap()).unwrap();
    Fx { tp, token }
}

fn route(fx: &Fx, request: &Path, base_url: Option<&str>, flags: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cpctl"));
    c.arg("--root")
        .arg(fx.tp.plane.root())
        .args(["--json", "route", "--request"])
        .arg(request)
        .args(flags)
        .env("CP_AUTH_SECRET", SECRET)
        .env("CP_AUTH_TOKEN", &fx.token)
        .env_remove("CP_AUTH_SECRET_FILE")
        .env_remove("CP_OPENAI_API_KEY");
    match base_url {
        Some(u) => c.env("CP_OPENAI_BASE_URL", u),
        None => c.env_remove("CP_OPENAI_BASE_URL"),
    };
    c.output().unwrap()
}

fn request(fx: &Fx, name: &str, extra: Value) -> PathBuf {
    let mut v = json!({"contract": "contract.json", "context": "twelve packages",
                       "input": {"question": "how many?"}, "provenance": {"session_id": "s1"}});
    if let (Some(m), Value::Object(e)) = (v.as_object_mut(), extra) {
        m.extend(e);
    }
    let p = fx.tp.dir.path().join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    p
}

/// The error of a `--json` run: one JSON object on stdout; its message and causes as text.
fn json_error(out: &Output) -> String {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    assert_eq!(v["error"]["exit_code"].as_i64().map(|c| c as i32), out.status.code(), "{v}");
    let mut text = v["error"]["message"].as_str().unwrap().to_string();
    for c in v["error"]["causes"].as_array().unwrap() {
        text.push('\n');
        text.push_str(c.as_str().unwrap());
    }
    text
}

fn ok_json(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn route_reaches_a_loopback_openai_server_by_flag_file_or_env() {
    let fx = fixture();
    let server = serve();
    let plain = request(&fx, "plain.json", json!({}));
    // The flag.
    let v = ok_json(&route(&fx, &plain, Some(&server.base_url), &["--provider", "openai"]));
    assert_eq!((v["provider"].as_str(), v["text"].as_str()), (Some("openai"), Some(ANSWER)));
    assert_eq!(v["usage"]["input_tokens"], 40);
    {
        let seen = server.seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].0.ends_with("/chat/completions"), "{}", seen[0].0);
        let prompt = seen[0].1["messages"][0]["content"].as_str().unwrap();
        assert!(prompt.contains("twelve packages") && prompt.contains("how many?"), "{prompt}");
    }
    // CP_OPENAI_BASE_URL alone picks the OpenAI-compatible provider, as quickstart does.
    let v = ok_json(&route(&fx, &plain, Some(&server.base_url), &[]));
    assert_eq!(v["provider"], "openai");
    // The file's provider wins over the variable; the flag wins over the file.
    let mock = request(&fx, "mock.json", json!({"provider": "mock"}));
    let v = ok_json(&route(&fx, &mock, Some(&server.base_url), &[]));
    assert_eq!(v["provider"], "mock");
    let v = ok_json(&route(&fx, &mock, Some(&server.base_url), &["--provider", "openai"]));
    assert_eq!(v["provider"], "openai");
    assert_eq!(server.seen.lock().unwrap().len(), 3, "mock never reached the server");
    // Without the variable, the config's default (mock).
    let v = ok_json(&route(&fx, &plain, None, &[]));
    assert_eq!(v["provider"], "mock");
    // Ledger: each routed prompt's PROMPT_RECEIVED names its provider.
    let prompts = LedgerSet::new(&fx.tp.plane).open("HO1/prompts").unwrap();
    let q = LedgerQuery { event_types: vec!["PROMPT_RECEIVED".into()], ..LedgerQuery::default() };
    let providers: Vec<String> =
        prompts.query(&q).unwrap().iter().map(|e| e.metadata["provider"].as_str().unwrap().to_string()).collect();
    assert_eq!(providers, ["openai", "openai", "mock", "openai", "mock"]);
    // A provider the config does not define: refused, naming it.
    let out = route(&fx, &plain, None, &["--provider", "nope"]);
    assert_ne!(out.status.code(), Some(0));
    let err = json_error(&out);
    assert!(err.contains("\"nope\"") && !err.contains("Some("), "{err}");
}

#[test]
fn request_files_are_refused_by_their_schema_with_file_line_column_and_field_exit_2() {
    let fx = fixture();
    let bad = fx.tp.dir.path().join("bad.yaml");
    std::fs::write(&bad, "contract: contract.json\ninput: {question: q}\nprovider: 5\nextra_field: 1\n").unwrap();
    let out = route(&fx, &bad, None, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = json_error(&out);
    assert!(err.contains(&format!("{}:3:11: /provider", bad.display())), "{err}");
    assert!(err.contains("extra_field"), "{err}");
    let bad = fx.tp.dir.path().join("bad_attention.yaml");
    std::fs::write(&bad, "agent_id: a\nagent_class: KERNEL.nope\ntier: ho1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cpctl"))
        .arg("--root")
        .arg(fx.tp.plane.root())
        .args(["attention", "assemble", "--token", &fx.token, "--request"])
        .arg(&bad)
        .env("CP_AUTH_SECRET", SECRET)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:2:14: /agent_class", bad.display())), "{err}");
}
