//! A running `driftwatch serve` (the real binary) in a scratch workspace, small HTTP
//! helpers over a raw TcpStream, and a one-shot webhook receiver.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::audit::harness::{Workspace, policies_dir};

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The config text for a serve test: store, policies, audit timeouts, schedule and
/// server, then `rest` (targets, notify).
/// A serve config. `timeout` bounds connecting; the whole-target deadline is kept well
/// above it, so a silent server is reported unreachable (the connect timeout) rather
/// than as a deadline error, whichever timer a loaded machine wakes first.
pub fn config(port: u16, cron: &str, timeout: &str, grace: &str, rest: &str) -> String {
    format!(
        "[store]\nurl = \"store\"\n\n[policies]\ndir = \"{}\"\n\n[audit]\nconnect_timeout = \"{timeout}\"\ntarget_timeout = \"60s\"\n\n\
         [schedule]\ncron = \"{cron}\"\nrun_at_start = true\ngrace_period = \"{grace}\"\n\n\
         [server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"http://dw.example.com\"\n\n{rest}",
        policies_dir().display()
    )
}

pub fn pg_target(name: &str, port: u16, role: &str) -> String {
    format!(
        "[[targets]]\nname = \"{name}\"\nkind = \"postgres\"\nurl = \"postgres://postgres@127.0.0.1:{port}/postgres\"\nrole = \"{role}\"\n\n"
    )
}

pub struct Serve {
    pub ws: Workspace,
    pub port: u16,
    child: Child,
}

impl Serve {
    /// Starts `driftwatch serve --log-format json`, logs to `serve.log`, and waits for
    /// its web server.
    pub fn start(ws: Workspace, port: u16) -> Serve {
        let serve = Serve::spawn(ws, port);
        serve.wait_until_up();
        serve
    }

    /// Starts `driftwatch serve` without waiting for it (several at once).
    pub fn spawn(ws: Workspace, port: u16) -> Serve {
        let log = std::fs::File::create(ws.dir.path().join("serve.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
            .args(["serve", "--log-format", "json", "--config"])
            .arg(ws.config())
            .env("RUST_LOG", "driftwatch=info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start driftwatch serve");
        Serve { ws, port, child }
    }

    /// Waits for the web server to accept connections.
    #[track_caller]
    pub fn wait_until_up(&self) {
        self.wait_for("the web server", Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        });
    }

    /// The process id (leases name it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(self.ws.dir.path().join("serve.log")).unwrap_or_default()
    }

    /// The JSON log events, one per line.
    pub fn log_events(&self) -> Vec<serde_json::Value> {
        self.logs().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    pub fn runs(&self) -> Vec<serde_json::Value> {
        let mut runs: Vec<serde_json::Value> = self
            .ws
            .store_files()
            .into_iter()
            .filter(|(p, _)| p.starts_with(self.ws.store().join("runs")))
            .map(|(_, bytes)| {
                serde_json::from_slice(&driftwatch::store::manifest::expand(&bytes).unwrap())
                    .unwrap()
            })
            .collect();
        runs.sort_by(|a, b| a["started_at"].as_str().cmp(&b["started_at"].as_str()));
        runs
    }

    /// Polls `ready` until it holds, or panics with the logs so far.
    #[track_caller]
    pub fn wait_for(&self, what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
        let start = Instant::now();
        while !ready() {
            if start.elapsed() > limit {
                panic!("no {what} after {limit:?}; logs:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn signal(&self, signal: i32) {
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits for the process to exit, at most `limit`.
    #[track_caller]
    pub fn exit_within(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > limit {
                panic!("still running {limit:?} after the signal; logs:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    pub fn get(&self, path: &str) -> Response {
        get(self.port, path)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// `GET path` over HTTP/1.1 with `Connection: close`; the path is sent as is.
pub fn get(port: u16, path: &str) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a header block");
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Response { status, headers, body: body.to_owned() }
}

/// A webhook endpoint on a free port: every POST body arrives on the channel; each
/// request gets `200 OK`.
pub fn webhook_receiver() -> (u16, mpsc::Receiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let mut stream = reader.into_inner();
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if tx.send((request_line, String::from_utf8_lossy(&body).into_owned())).is_err() {
                return;
            }
        }
    });
    (port, rx)
}

/// A TCP port that accepts connections (the kernel completes the handshake) and never
/// answers: a hung server. Keep the listener alive for as long as it should hang.
pub fn black_hole() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}
