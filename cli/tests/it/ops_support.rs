//! What the operations-service process tests share: a running `cpctl serve` on a temporary
//! plane, a raw HTTP/1.1 client (so that tests can send any bytes), and tokens.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cp_kernel::testkit::{TempPlane, router_test_configs, test_secret, write_router_configs};
use cp_kernel::{TokenClaims, issue_token};
use serde_json::Value;

use crate::support::SECRET;

/// A plane with the router configs (the service reads the prompt ledger's name and the auth
/// settings from them), as a plane after `cpctl quickstart` has.
pub(crate) fn ops_plane() -> TempPlane {
    let tp = TempPlane::new();
    let (r, b, p) = router_test_configs();
    write_router_configs(&tp, &r, &b, &p);
    tp
}

/// A token for `tenant` with `roles`, valid for a day from now.
pub(crate) fn token(tenant: &str, roles: &[&str]) -> String {
    let now = jiff::Timestamp::now().as_millisecond() as u64;
    let claims = TokenClaims {
        principal: format!("{tenant}-client"),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        tenant: tenant.into(),
        issued_at_ms: now,
        expires_at_ms: now + 86_400_000,
        token_id: format!("t-{tenant}-{}", roles.join("-")),
    };
    issue_token(&test_secret(), &claims)
}

/// Writes `HOT/config/ops_config.yaml`: the shipped config with `edits` (`from`, `to`) applied.
pub(crate) fn write_ops_config(tp: &TempPlane, edits: &[(&str, &str)]) {
    let mut y = cp_ops::DEFAULT_OPS_CONFIG_YAML.to_string();
    for (from, to) in edits {
        assert!(y.contains(from), "{from} not in the shipped ops_config.yaml");
        y = y.replacen(from, to, 1);
    }
    let p = tp.plane.root().join("HOT/config/ops_config.yaml");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, y).unwrap();
}

/// A running `cpctl serve --port 0`.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
}

impl Server {
    /// Starts the service on `tp` with extra arguments and waits until it listens.
    pub(crate) fn start(tp: &TempPlane, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cpctl"))
            .arg("--root")
            .arg(tp.plane.root())
            .args(["serve", "--port", "0"])
            .args(args)
            .env("CP_AUTH_SECRET", SECRET)
            .env_remove("CP_AUTH_SECRET_FILE")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.trim().strip_prefix("listening on http://").unwrap_or_else(|| panic!("no address: {line:?}"));
        let addr = addr.parse().unwrap();
        Self { child, addr }
    }

    /// Sends SIGTERM and waits; returns whether it exited successfully.
    pub(crate) fn terminate(mut self) -> bool {
        let pid = self.child.id() as i32;
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        let ok = self.child.wait().map(|s| s.success()).unwrap_or(false);
        std::mem::forget(self);
        ok
    }

    /// Sends SIGKILL and waits.
    pub(crate) fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::forget(self);
    }

    /// A request with `Authorization: Bearer token` (when given); returns status and body.
    pub(crate) fn call(&self, method: &str, path: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
        try_call(self.addr, method, path, token, body).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// GET returning parsed JSON (asserting 200).
    pub(crate) fn get_json(&self, path: &str, token: Option<&str>) -> Value {
        let (s, b) = self.call("GET", path, token, b"");
        assert_eq!(s, 200, "GET {path}: {b}");
        serde_json::from_str(&b).unwrap()
    }

    /// POST returning status and parsed JSON.
    pub(crate) fn post_json(&self, path: &str, token: Option<&str>, body: &[u8]) -> (u16, Value) {
        let (s, b) = self.call("POST", path, token, body);
        (s, serde_json::from_str(&b).unwrap_or(Value::String(b)))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request to `addr`; an error when the connection fails.
pub(crate) fn try_call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut raw = head.into_bytes();
    raw.extend_from_slice(body);
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(&raw)?;
    Ok(read_response(&mut s))
}

/// Reads one response (content-length or to EOF).
pub(crate) fn read_response(s: &mut TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, body.to_string())
}
