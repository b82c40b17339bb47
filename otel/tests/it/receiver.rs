//! A loopback OTLP/HTTP receiver for tests: answers scripted responses (then 200), records every
//! request (path, headers, body after gzip).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One recorded request.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    /// The body as sent (possibly gzip).
    pub(crate) raw: Vec<u8>,
}

impl Received {
    pub(crate) fn header(&self, k: &str) -> Option<&str> {
        self.headers.iter().find(|(h, _)| h.eq_ignore_ascii_case(k)).map(|(_, v)| v.as_str())
    }
    /// The body, gunzipped when sent with `Content-Encoding: gzip`.
    pub(crate) fn body(&self) -> Vec<u8> {
        if self.header("content-encoding") == Some("gzip") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&self.raw[..]).read_to_end(&mut out).unwrap();
            out
        } else {
            self.raw.clone()
        }
    }
}

/// A scripted response.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn status(status: u16) -> Self {
        Self { status, headers: Vec::new(), body: Vec::new() }
    }
    pub(crate) fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub(crate) fn body(mut self, content_type: &str, b: Vec<u8>) -> Self {
        self.headers.push(("Content-Type".into(), content_type.into()));
        self.body = b;
        self
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    got: Vec<Received>,
}

/// The receiver (runs until the test process ends).
#[derive(Clone)]
pub(crate) struct Receiver {
    pub(crate) url: String,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    pub(crate) fn start(script: Vec<Reply>) -> Self {
        Self::on(TcpListener::bind("127.0.0.1:0").unwrap(), script)
    }

    /// A receiver on `listener` (to bind a port chosen before).
    pub(crate) fn on(listener: TcpListener, script: Vec<Reply>) -> Self {
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State { script: script.into(), got: Vec::new() }));
        let st = state.clone();
        std::thread::spawn(move || {
            for s in listener.incoming().flatten() {
                let st = st.clone();
                std::thread::spawn(move || serve(s, &st));
            }
        });
        Self { url, state }
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().got.clone()
    }
}

fn serve(s: TcpStream, st: &Mutex<State>) {
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut raw = vec![0u8; len];
        if r.read_exact(&mut raw).is_err() {
            return;
        }
        let reply = {
            let mut g = st.lock().unwrap();
            g.got.push(Received { path, headers, raw });
            g.script.pop_front().unwrap_or(Reply::status(200))
        };
        let mut head = format!("HTTP/1.1 {} X\r\nContent-Length: {}\r\n", reply.status, reply.body.len());
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if w.write_all(head.as_bytes()).and_then(|()| w.write_all(&reply.body)).is_err() {
            return;
        }
    }
}
