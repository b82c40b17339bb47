//! The dashboard in a real browser (Debian's Chromium, headless): the four cards and the failures
//! table match the API, and a screenshot is saved under `target/test-artefacts/`. Without
//! Chromium the test says "skipped: no chromium", unless `CP_REQUIRE_SERVICES=1` (then it fails).
//! Also: the plane's own routed prompts appear in the same views.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::ops_support::{Server, ops_plane, token};

const CHROMIUM: &str = "/usr/bin/chromium";

fn chromium() -> Option<&'static str> {
    if Path::new(CHROMIUM).is_file() {
        return Some(CHROMIUM);
    }
    assert!(
        std::env::var("CP_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "CP_REQUIRE_SERVICES=1 but {CHROMIUM} is missing"
    );
    eprintln!("skipped: no chromium");
    None
}

fn headless(bin: &str, profile: &Path, args: &[&str], url: &str) -> String {
    let out = Command::new(bin)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text of the first element carrying `attr` (`data-kpi="runs"`).
fn text_of<'a>(dom: &'a str, attr: &str) -> &'a str {
    let at = dom.find(attr).unwrap_or_else(|| panic!("{attr} not in the page"));
    let rest = &dom[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap() + start;
    rest[start..end].trim()
}

fn artefacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-artefacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_page_in_chromium_matches_the_api() {
    let Some(bin) = chromium() else { return };
    let tp = ops_plane();
    let srv = Server::start(&tp, &[]);
    let ing = token("acme", &["ingest"]);
    let read = token("acme", &["read"]);
    let now = jiff::Timestamp::now().as_millisecond();
    let evs: Vec<Value> = (0..40)
        .map(|i| {
            let t = jiff::Timestamp::from_millisecond(now - i * 900_000).unwrap();
            json!({"timestamp": format!("{t:.3}"), "agent_id": format!("a{}", i % 3), "workflow_id": format!("w{}", i % 2),
                "run_id": format!("r{i}"), "status": if i % 7 == 0 { "failure" } else { "success" },
                "latency_ms": 100 + i * 11, "cost_usd": 0.01 * i as f64, "error_type": if i % 7 == 0 { json!(format!("err-{i}")) } else { Value::Null }})
        })
        .collect();
    assert_eq!(srv.post_json("/v1/events", Some(&ing), &serde_json::to_vec(&evs).unwrap()).0, 200);

    let profile = tempfile::tempdir().unwrap();
    let url = format!("http://{}/?token={read}", srv.addr);
    let dom = headless(bin, profile.path(), &["--dump-dom"], &url);
    let api = srv.get_json("/v1/metrics/overview", Some(&read));
    assert_eq!(text_of(&dom, r#"data-kpi="runs""#), api["runs"].to_string());
    assert_eq!(
        text_of(&dom, r#"data-kpi="success_rate""#),
        format!("{:.1}%", api["success_rate"].as_f64().unwrap() * 100.0)
    );
    assert_eq!(text_of(&dom, r#"data-kpi="spend_exact""#), api["spend_usd"].as_f64().unwrap().to_string());
    assert_eq!(
        text_of(&dom, r#"data-kpi="avg_latency_ms""#),
        format!("{:.0} ms", api["avg_latency_ms"].as_f64().unwrap())
    );
    let fails = srv.get_json("/v1/failures/recent", Some(&read));
    let rows = fails["failures"].as_array().unwrap();
    let table = &dom[dom.find(r#"id="failures""#).unwrap()..];
    assert_eq!(table.matches("<tr><td>").count(), rows.len());
    assert!(table.contains(&format!("<td>{}</td>", rows[0]["error_type"].as_str().unwrap())));
    assert!(dom.contains(r#"id="spend-chart""#) && dom.contains(r#"id="last-updated""#));

    // The workflow filter narrows the cards.
    let dom_w = headless(bin, profile.path(), &["--dump-dom"], &format!("{url}&workflow_id=w1"));
    let api_w = srv.get_json("/v1/metrics/overview?workflow_id=w1", Some(&read));
    assert_eq!(text_of(&dom_w, r#"data-kpi="runs""#), api_w["runs"].to_string());

    let shot = artefacts().join("ops-dashboard.png");
    let _ = std::fs::remove_file(&shot);
    headless(bin, profile.path(), &[&format!("--screenshot={}", shot.display()), "--window-size=1280,1000"], &url);
    assert!(std::fs::metadata(&shot).map(|m| m.len() > 10_000).unwrap_or(false), "no screenshot at {}", shot.display());
}

#[test]
fn routed_prompts_appear_in_the_views_of_their_tenant() {
    let tp = crate::otel_cli::routed_plane();
    let srv = Server::start(&tp, &[]);
    let acme = srv.get_json("/v1/metrics/overview", Some(&token("acme", &["read"])));
    assert_eq!((acme["runs"].as_u64(), acme["successes"].as_u64()), (Some(2), Some(2)), "{acme}");
    assert!(acme["spend_usd"].as_f64().unwrap() > 0.0, "{acme}");
    let other = srv.get_json("/v1/metrics/overview?workflow_id=prompt-router", Some(&token("other", &["read"])));
    assert_eq!(other["runs"], 1, "{other}");
    drop(srv);
}
