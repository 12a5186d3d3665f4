//! Access control and HTTPS for `serve` ([server.auth], [server.tls]): off loopback it
//! will not start without credentials; with them, every page but the probes needs a
//! token or a user's password, over TLS from a real certificate (made by openssl),
//! spoken to by curl; denied requests are logged without what they sent.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::process::*;
use crate::audit::harness::Workspace;

/// A target nothing listens on: serve runs its schedule without any test service.
const NOWHERE: &str = "[[targets]]\nname = \"gone\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:1\"\nrole = \"standalone\"\n\n";

fn driftwatch(ws: &Workspace, args: &[&str], stdin: &str) -> (String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_driftwatch"))
        .args(args)
        .current_dir(ws.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "driftwatch {args:?}: {stderr}");
    (stdout, stderr)
}

/// `curl -sk`-free: the certificate is checked against the CA file it was made with.
fn curl(port: u16, path: &str, cacert: &std::path::Path, auth: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-o", "-", "-w", "\n%{http_code}", "--cacert"])
        .arg(cacert)
        .args(auth)
        .arg(format!("https://127.0.0.1:{port}{path}"))
        .output()
        .expect("curl (tests/setup/tools.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), format!("{body}{}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn off_loopback_serve_refuses_to_start_without_credentials() {
    let port = free_port();
    let ws = Workspace::with_config(
        &config(port, "0 0 * * * *", "2s", "5s", NOWHERE)
            .replace(&format!("127.0.0.1:{port}"), &format!("0.0.0.0:{port}")),
    );
    let out = ws.driftwatch(&["serve"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "driftwatch.toml:17:10: server.listen 0.0.0.0:{port} is reachable from other hosts"
        )) && stderr.contains("[server.auth] tokens_file or users_file"),
        "{stderr}"
    );
}

#[test]
fn with_credentials_every_page_but_the_probes_needs_a_token_or_a_password_over_https() {
    let port = free_port();
    let ws = Workspace::with_config(
        "[store]\nurl = \"store\"\n[[targets]]\nname = \"x\"\nkind = \"redis\"\nurl = \"redis://127.0.0.1:1\"\n",
    );
    let dir = ws.dir.path();
    // A CA-less self-signed certificate for 127.0.0.1, as an operator would make one.
    let openssl = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"])
        .args(["-keyout", "key.pem", "-out", "cert.pem", "-days", "2", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(openssl.status.success(), "{}", String::from_utf8_lossy(&openssl.stderr));
    let (line, told) = driftwatch(&ws, &["auth", "token", "grafana"], "");
    let token = told.lines().last().unwrap().trim().to_owned();
    assert!(token.starts_with("dwt_") && !line.contains(&token), "{line} / {told}");
    std::fs::write(dir.join("tokens"), &line).unwrap();
    let (users, _) = driftwatch(&ws, &["auth", "password", "alice"], "correct horse battery\n");
    assert!(users.starts_with("alice:$2") && !users.contains("correct horse"), "{users}");
    std::fs::write(dir.join("users"), &users).unwrap();

    let server = "[server.auth]\ntokens_file = \"tokens\"\nusers_file = \"users\"\n\n[server.tls]\ncert_file = \"cert.pem\"\nkey_file = \"key.pem\"\n\n";
    // Off loopback, where access control cannot be left out.
    let text = config(port, "0 0 * * * *", "2s", "5s", &format!("{server}{NOWHERE}"))
        .replace("listen = \"127.0.0.1:", "listen = \"0.0.0.0:");
    assert!(text.contains("listen = \"0.0.0.0:"), "{text}");
    std::fs::write(ws.config(), text).unwrap();
    let serve = Serve::start(ws, port);
    let ca = serve.ws.dir.path().join("cert.pem");
    serve.wait_for("the first run", Duration::from_secs(30), || {
        curl(port, "/readyz", &ca, &[]).0 == 200
    });

    assert_eq!(curl(port, "/healthz", &ca, &[]).0, 200, "probes stay open");
    for path in ["/reports/index.html", "/api/runs", "/api/targets", "/metrics"] {
        let (code, _) = curl(port, path, &ca, &[]);
        assert_eq!(code, 401, "{path} without credentials");
        let bearer = format!("Authorization: Bearer {token}");
        let (code, body) = curl(port, path, &ca, &["-H", &bearer]);
        assert_eq!(code, 200, "{path} with the token: {body}");
        let (code, _) = curl(port, path, &ca, &["-u", "alice:correct horse battery"]);
        assert_eq!(code, 200, "{path} as alice");
    }
    // The web UI: denied without credentials, served with them (the never-audited
    // target has no settings: a 404 page, but only once the request is let in).
    for (path, served) in [
        ("/findings?severity=high&new=1", 200),
        ("/search?q=timeout", 200),
        ("/targets/gone/settings/setting.timeout", 404),
    ] {
        let (code, body) = curl(port, path, &ca, &[]);
        assert_eq!(code, 401, "{path} without credentials: {body}");
        let bearer = format!("Authorization: Bearer {token}");
        let (code, body) = curl(port, path, &ca, &["-H", &bearer]);
        assert_eq!(code, served, "{path} with the token: {body}");
        assert!(body.contains("<nav class=\"ui\""), "{path} is a UI page: {body}");
        let (code, _) = curl(port, path, &ca, &["-u", "alice:correct horse battery"]);
        assert_eq!(code, served, "{path} as alice");
    }
    let (code, _) = curl(port, "/api/runs", &ca, &["-u", "alice:wrong password!"]);
    assert_eq!(code, 401);
    let (code, _) = curl(port, "/api/runs", &ca, &["-H", "Authorization: Bearer dwt_not-a-token"]);
    assert_eq!(code, 401);
    // Plain HTTP on the TLS port gets nothing.
    let plain = std::panic::catch_unwind(|| get(port, "/healthz"));
    assert!(plain.map(|r| r.status != 200).unwrap_or(true));

    let logs = serve.logs();
    assert!(logs.contains("request denied") && logs.contains("unknown token"), "{logs}");
    for secret in [token.as_str(), "wrong password!", "correct horse", "dwt_not-a-token"] {
        assert!(!logs.contains(secret), "the log holds {secret:?}:\n{logs}");
    }
}
