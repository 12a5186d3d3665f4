//! Retrying transient store errors with exponential backoff, bounded in attempts and
//! in total time ([`StoreRetry`]): pauses of exactly 100 ms, 200 ms, 400 ms, … at most
//! 5 s, while attempts stay within `retries` and no pause would end past
//! `retry_timeout` from the first attempt. With the defaults (5 retries) a request
//! rides out an outage of 3.1 s.
//!
//! Every backend is retried here, cloud stores too: `object_store`'s own retry layer is
//! off ([`super::backend`]) because its backoff is jittered (each pause random between
//! 100 ms and twice the last one: five retries took 0.6–1.9 s in all, not the 3.1 s
//! documented). Transient are refused, reset or aborted connections, timeouts, HTTP
//! 5xx, 429 and 408, and the local folder's I/O hiccups (`EINTR`, a busy or stale
//! network mount).
//!
//! A retried create-only put may meet its own earlier attempt (one whose answer was
//! lost): for content-addressed objects `AlreadyExists` is then success, for manifests
//! [`super::Store::commit_run`] compares the bytes.

use std::future::Future;
use std::time::{Duration, Instant};

use super::StoreRetry;

/// First pause between attempts; doubles each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Whether an error may go away if the same request is sent again.
pub fn is_transient(error: &object_store::Error) -> bool {
    use std::io::ErrorKind as K;
    if matches!(
        error,
        object_store::Error::NotFound { .. }
            | object_store::Error::AlreadyExists { .. }
            | object_store::Error::Precondition { .. }
            | object_store::Error::NotModified { .. }
            | object_store::Error::NotImplemented { .. }
            | object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. }
    ) {
        return false;
    }
    if let Some(status) = http_status(error) {
        return status >= 500 || status == 429 || status == 408;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(http) = e.downcast_ref::<object_store::client::HttpError>() {
            use object_store::client::HttpErrorKind as H;
            if matches!(http.kind(), H::Connect | H::Request | H::Timeout | H::Interrupted) {
                return true;
            }
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                K::TimedOut
                    | K::Interrupted
                    | K::WouldBlock
                    | K::ResourceBusy
                    | K::StaleNetworkFileHandle
                    | K::ConnectionRefused
                    | K::ConnectionReset
                    | K::ConnectionAborted
                    | K::NotConnected
                    | K::BrokenPipe
            );
        }
        source = e.source();
    }
    false
}

/// The HTTP status a cloud store answered with. `object_store` keeps its request
/// errors private, so the status is read from the message it writes
/// (`… non-2xx status code: 503 Service Unavailable …`).
fn http_status(error: &object_store::Error) -> Option<u16> {
    let text = error.to_string();
    let (_, rest) = text.split_once("status code: ")?;
    rest.get(..3)?.parse().ok()
}

/// The pause before attempt `n + 1` (n ≥ 1): 100 ms, 200 ms, 400 ms, … at most 5 s.
pub fn backoff(n: usize) -> Duration {
    let factor = 1u32 << n.saturating_sub(1).min(16);
    FIRST_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Runs `attempt` until it succeeds, fails with a non-transient error, or the retry
/// budget (`settings`) is spent; returns the last result. `what` names the operation
/// in the warning logged before each retry.
pub async fn run<T, F, Fut>(
    settings: &StoreRetry,
    what: &str,
    mut attempt: F,
) -> Result<T, object_store::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, object_store::Error>>,
{
    let start = Instant::now();
    let mut n = 0;
    loop {
        let error = match attempt().await {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        n += 1;
        let pause = backoff(n);
        let elapsed = start.elapsed();
        if !is_transient(&error) || n > settings.retries || elapsed + pause > settings.retry_timeout
        {
            return Err(error);
        }
        tracing::warn!(
            operation = what,
            attempt = n,
            retries = settings.retries,
            pause_ms = pause.as_millis() as u64,
            error = %crate::redact::text(&error.to_string()),
            "store error, retrying"
        );
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn io_error(kind: std::io::ErrorKind) -> object_store::Error {
        object_store::Error::Generic { store: "test", source: Box::new(std::io::Error::from(kind)) }
    }

    fn settings(retries: usize, ms: u64) -> StoreRetry {
        StoreRetry { retries, retry_timeout: Duration::from_millis(ms) }
    }

    #[test]
    fn transient_errors_are_told_apart() {
        assert!(is_transient(&io_error(std::io::ErrorKind::TimedOut)));
        assert!(is_transient(&io_error(std::io::ErrorKind::ConnectionRefused)));
        assert!(!is_transient(&io_error(std::io::ErrorKind::PermissionDenied)));
        assert!(!is_transient(&io_error(std::io::ErrorKind::NotFound)));
        let missing = object_store::Error::NotFound { path: "x".into(), source: "gone".into() };
        assert!(!is_transient(&missing));
    }

    #[test]
    fn http_statuses_are_told_apart() {
        let status = |code: &str| object_store::Error::Generic {
            store: "S3",
            source: format!(
                "Error performing PUT in 2ms - Server returned non-2xx status code: {code}: body"
            )
            .into(),
        };
        assert!(is_transient(&status("503 Service Unavailable")));
        assert!(is_transient(&status("500 Internal Server Error")));
        assert!(is_transient(&status("429 Too Many Requests")));
        assert!(!is_transient(&status("400 Bad Request")));
        assert!(!is_transient(&status("403 Forbidden")));
        let refused = object_store::Error::Generic {
            store: "S3",
            source: Box::new(object_store::client::HttpError::new(
                object_store::client::HttpErrorKind::Connect,
                std::io::Error::other("tcp connect error"),
            )),
        };
        assert!(is_transient(&refused));
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let got: Vec<u128> = (1..=8).map(|n| backoff(n).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(backoff(1000), MAX_BACKOFF);
    }

    #[tokio::test]
    async fn a_transient_failure_is_retried_until_it_passes() {
        let calls = AtomicUsize::new(0);
        let result = run(&settings(5, 30_000), "test", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(io_error(std::io::ErrorKind::TimedOut)),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn attempts_are_bounded_by_count() {
        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = run(&settings(3, 60_000), "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(io_error(std::io::ErrorKind::TimedOut))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 4, "first attempt + 3 retries");
    }

    #[tokio::test]
    async fn attempts_are_bounded_by_time() {
        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = run(&settings(100, 1_000), "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(io_error(std::io::ErrorKind::TimedOut))
        })
        .await;
        assert!(result.is_err());
        // 100 + 200 + 400 ms fit in 1 s; the next 800 ms pause would not.
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = run(&settings(5, 30_000), "test", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(io_error(std::io::ErrorKind::PermissionDenied))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
