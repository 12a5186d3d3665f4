//! Who may read what `serve` serves: bearer tokens and HTTP basic users from files
//! (`[server.auth]`), checked on every request but `/healthz`, `/readyz` and, when
//! configured open, `/metrics`.
//!
//! Both files hold hashes only. A token is random and long, so its sha256 is enough
//! (`<name>:sha256:<hex>`); a password is not, so users carry bcrypt hashes
//! (`<user>:$2y$…`, what `htpasswd -B` writes). Tokens are compared in constant time
//! against every entry; a bcrypt check costs tens of milliseconds, so a successful one
//! is remembered (by the sha256 of user and password, in memory) for a few minutes.
//! A denied request is logged with the reason and the client's address, never with
//! what it sent.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::config::AuthSettings;

/// How long a verified password is trusted without running bcrypt again.
const REMEMBER_VERIFIED: Duration = Duration::from_secs(300);
/// Verified passwords remembered at most (a full cache is emptied).
const REMEMBERED_MAX: usize = 1024;
/// Paths open to anyone: probes must work without credentials.
const OPEN_PATHS: [&str; 2] = ["/healthz", "/readyz"];

/// The credentials `serve` accepts.
pub struct Access {
    tokens: Vec<(String, [u8; 32])>,
    users: Vec<(String, String)>,
    metrics_open: bool,
    verified: Mutex<HashMap<[u8; 32], Instant>>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("tokens", &self.tokens.len())
            .field("users", &self.users.len())
            .field("metrics_open", &self.metrics_open)
            .finish()
    }
}

/// The client's address, as the listener saw it (plain or TLS).
#[derive(Debug, Clone, Copy)]
pub struct Client(pub SocketAddr);

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for Client
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Client {
        Client(*stream.remote_addr())
    }
}

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, super::tls::TlsListener>>
    for Client
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, super::tls::TlsListener>) -> Client {
        Client(*stream.remote_addr())
    }
}

/// Who a request was let in as (for logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Token(String),
    User(String),
}

impl Access {
    /// Reads the configured files; `None` when none is configured (no access control).
    /// Errors are `file:line:col: message`, naming the line, never its secret.
    pub fn load(settings: &AuthSettings) -> Result<Option<Access>, String> {
        if !settings.is_enabled() {
            return Ok(None);
        }
        let mut access = Access {
            tokens: Vec::new(),
            users: Vec::new(),
            metrics_open: settings.metrics_open,
            verified: Mutex::new(HashMap::new()),
        };
        if let Some(path) = &settings.tokens_file {
            for (line, name, hash) in entries(path)? {
                let hex = hash.strip_prefix("sha256:").ok_or_else(|| {
                    at(path, line, name.len() + 2, "expected `<name>:sha256:<64 hex digits>` (make one with `driftwatch auth token <name>`)")
                })?;
                let bytes: [u8; 32] =
                    hex::decode(hex).ok().and_then(|b| b.try_into().ok()).ok_or_else(|| {
                        at(
                            path,
                            line,
                            name.len() + 9,
                            "expected 64 hex digits (the sha256 of the token)",
                        )
                    })?;
                access.tokens.push((name, bytes));
            }
        }
        if let Some(path) = &settings.users_file {
            for (line, name, hash) in entries(path)? {
                if !(hash.starts_with("$2y$")
                    || hash.starts_with("$2b$")
                    || hash.starts_with("$2a$"))
                {
                    return Err(at(
                        path,
                        line,
                        name.len() + 2,
                        "only bcrypt hashes are accepted (`htpasswd -B`, or `driftwatch auth password <user>`); MD5, SHA-1 and crypt hashes are too weak",
                    ));
                }
                access.users.push((name, hash));
            }
        }
        if access.tokens.is_empty() && access.users.is_empty() {
            return Err(format!(
                "[server.auth]: the credential files hold no entry: nobody could sign in ({})",
                [&settings.tokens_file, &settings.users_file]
                    .into_iter()
                    .flatten()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(Some(access))
    }

    /// Whether `path` needs credentials.
    pub fn guards(&self, path: &str) -> bool {
        !(OPEN_PATHS.contains(&path) || (self.metrics_open && path == "/metrics"))
    }

    /// Who the `Authorization` header names, or why not.
    pub fn check(&self, authorization: Option<&HeaderValue>) -> Result<Principal, &'static str> {
        let value = authorization.ok_or("no credentials")?;
        let value = value.to_str().map_err(|_| "malformed Authorization header")?;
        let (scheme, rest) = value.split_once(' ').ok_or("malformed Authorization header")?;
        if scheme.eq_ignore_ascii_case("bearer") {
            return self.check_token(rest.trim());
        }
        if scheme.eq_ignore_ascii_case("basic") {
            use base64::Engine as _;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .map_err(|_| "malformed basic credentials")?;
            let decoded = String::from_utf8(decoded).map_err(|_| "malformed basic credentials")?;
            let (user, password) = decoded.split_once(':').ok_or("malformed basic credentials")?;
            // A token sent as the password of any user name works too (for clients
            // that only speak basic auth).
            if let Ok(p) = self.check_token(password) {
                return Ok(p);
            }
            return self.check_user(user, password);
        }
        Err("unsupported authorization scheme")
    }

    fn check_token(&self, token: &str) -> Result<Principal, &'static str> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Every entry is compared, so the time taken does not say which matched.
        let mut matched: Option<&str> = None;
        for (name, hash) in &self.tokens {
            if bool::from(hash.ct_eq(&presented)) {
                matched = Some(name);
            }
        }
        matched.map(|n| Principal::Token(n.to_owned())).ok_or("unknown token")
    }

    fn check_user(&self, user: &str, password: &str) -> Result<Principal, &'static str> {
        let Some((name, hash)) = self.users.iter().find(|(name, _)| name == user) else {
            // The same cost as a wrong password, so timing does not tell which users exist.
            let _ = bcrypt::verify(password, &DUMMY_HASH);
            return Err("unknown user or wrong password");
        };
        let mut key = Sha256::new();
        key.update(user.as_bytes());
        key.update([0]);
        key.update(password.as_bytes());
        key.update([0]);
        key.update(hash.as_bytes());
        let key: [u8; 32] = key.finalize().into();
        {
            let verified = self.verified.lock().expect("verified lock");
            if verified.get(&key).is_some_and(|at| at.elapsed() < REMEMBER_VERIFIED) {
                return Ok(Principal::User(name.clone()));
            }
        }
        if !bcrypt::verify(password, hash).unwrap_or(false) {
            return Err("unknown user or wrong password");
        }
        let mut verified = self.verified.lock().expect("verified lock");
        if verified.len() >= REMEMBERED_MAX {
            verified.clear();
        }
        verified.insert(key, Instant::now());
        Ok(Principal::User(name.clone()))
    }

    /// The `WWW-Authenticate` challenge: basic when there are users (browsers then ask),
    /// else bearer.
    fn challenge(&self) -> HeaderValue {
        if self.users.is_empty() {
            HeaderValue::from_static("Bearer realm=\"driftwatch\"")
        } else {
            HeaderValue::from_static("Basic realm=\"driftwatch\", charset=\"UTF-8\"")
        }
    }
}

/// A bcrypt hash checked for unknown users, at the cost `driftwatch auth password`
/// writes (10).
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| bcrypt::hash("driftwatch: no such user", 10).unwrap_or_default());

/// The middleware: lets a request through, or answers 401 and logs why.
pub async fn guard(
    State(access): State<Arc<Access>>,
    ConnectInfo(client): ConnectInfo<Client>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if !access.guards(&path) {
        return next.run(request).await;
    }
    let authorization = request.headers().get(header::AUTHORIZATION).cloned();
    // bcrypt is CPU work: off the runtime's worker threads.
    let checked = {
        let access = access.clone();
        tokio::task::spawn_blocking(move || access.check(authorization.as_ref()))
            .await
            .unwrap_or(Err("credential check failed"))
    };
    match checked {
        Ok(principal) => {
            tracing::debug!(client = %client, path, principal = ?principal, "request allowed");
            next.run(request).await
        }
        Err(reason) => {
            tracing::warn!(client = %client, path, reason, "request denied");
            let mut response = (StatusCode::UNAUTHORIZED, "credentials required\n").into_response();
            response.headers_mut().insert(header::WWW_AUTHENTICATE, access.challenge());
            response
        }
    }
}

/// `<name>:<rest>` lines of a credential file, with their line numbers; `#` comments
/// and blank lines skipped.
fn entries(path: &Path) -> Result<Vec<(usize, String, String)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let (name, rest) = trimmed
            .split_once(':')
            .filter(|(name, rest)| !name.is_empty() && !rest.is_empty())
            .ok_or_else(|| at(path, i + 1, 1, "expected `<name>:<hash>`"))?;
        out.push((i + 1, name.to_owned(), rest.to_owned()));
    }
    Ok(out)
}

fn at(path: &Path, line: usize, column: usize, message: &str) -> String {
    format!("{}:{line}:{column}: {message}", path.display())
}

/// A new random token and the line for a tokens file (`driftwatch auth token`).
pub fn new_token(name: &str) -> (String, String) {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    let token = format!("dwt_{}", hex::encode(bytes));
    let line = format!("{name}:sha256:{}", hex::encode(Sha256::digest(token.as_bytes())));
    (token, line)
}

/// The line for a users file (`driftwatch auth password`).
pub fn user_line(user: &str, password: &str) -> Result<String, String> {
    let hash = bcrypt::hash(password, 10).map_err(|e| format!("cannot hash the password: {e}"))?;
    Ok(format!("{user}:{hash}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(tokens: &str, users: &str, metrics_open: bool) -> Result<Option<Access>, String> {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let settings = AuthSettings {
            tokens_file: (!tokens.is_empty()).then(|| write("tokens", tokens)),
            users_file: (!users.is_empty()).then(|| write("users", users)),
            metrics_open,
        };
        Access::load(&settings)
    }

    fn basic(user: &str, password: &str) -> HeaderValue {
        use base64::Engine as _;
        let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {b}")).unwrap()
    }

    #[test]
    fn no_files_no_access_control() {
        assert!(access("", "", false).unwrap().is_none());
    }

    #[test]
    fn tokens_match_by_hash_only() {
        let (token, line) = new_token("ci");
        assert!(!line.contains(&token), "the file holds the hash, not the token");
        let a = access(&format!("# ops\n\n{line}\n"), "", false).unwrap().unwrap();
        let bearer = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        assert_eq!(a.check(Some(&bearer)), Ok(Principal::Token("ci".into())));
        let wrong = HeaderValue::from_static("Bearer dwt_00");
        assert_eq!(a.check(Some(&wrong)), Err("unknown token"));
        assert_eq!(a.check(None), Err("no credentials"));
        // A token as the password of basic auth (clients that only do basic).
        assert_eq!(a.check(Some(&basic("any", &token))), Ok(Principal::Token("ci".into())));
    }

    #[test]
    fn users_need_the_right_password_and_a_bcrypt_hash() {
        let line = user_line("alice", "correct horse").unwrap();
        let a = access("", &line, false).unwrap().unwrap();
        assert_eq!(
            a.check(Some(&basic("alice", "correct horse"))),
            Ok(Principal::User("alice".into()))
        );
        // Remembered, and still right.
        assert_eq!(
            a.check(Some(&basic("alice", "correct horse"))),
            Ok(Principal::User("alice".into()))
        );
        assert!(a.check(Some(&basic("alice", "wrong"))).is_err());
        assert!(a.check(Some(&basic("bob", "correct horse"))).is_err());
        let e = access("", "alice:$apr1$abc$def\n", false).unwrap_err();
        assert!(e.ends_with("users:1:7: only bcrypt hashes are accepted (`htpasswd -B`, or `driftwatch auth password <user>`); MD5, SHA-1 and crypt hashes are too weak"), "{e}");
    }

    #[test]
    fn malformed_files_name_the_line_never_the_secret() {
        let e = access("ci:sha256:zz\n", "", false).unwrap_err();
        assert!(
            e.ends_with("tokens:1:11: expected 64 hex digits (the sha256 of the token)"),
            "{e}"
        );
        let e = access("# only a comment\nsecretvalue\n", "", false).unwrap_err();
        assert!(
            e.ends_with("tokens:2:1: expected `<name>:<hash>`") && !e.contains("secretvalue"),
            "{e}"
        );
        let e = access("# nobody\n", "", false).unwrap_err();
        assert!(e.contains("hold no entry"), "{e}");
    }

    #[test]
    fn probes_stay_open_and_metrics_as_configured() {
        let (_, line) = new_token("ci");
        let closed = access(&line, "", false).unwrap().unwrap();
        assert!(!closed.guards("/healthz") && !closed.guards("/readyz"));
        assert!(
            closed.guards("/metrics")
                && closed.guards("/reports/index.html")
                && closed.guards("/api/runs")
        );
        let open = access(&line, "", true).unwrap().unwrap();
        assert!(!open.guards("/metrics"));
    }

    #[test]
    fn the_dummy_hash_is_a_bcrypt_hash() {
        assert_eq!(bcrypt::verify("x", &DUMMY_HASH).ok(), Some(false));
    }
}
