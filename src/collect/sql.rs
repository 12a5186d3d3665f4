//! Connecting through sqlx, shared by the PostgreSQL and MySQL collectors: one
//! connection bounded by `connect_timeout`, and the one rule that sorts its failures —
//! network trouble is *unreachable*, a server that answered and refused us (bad
//! password, unknown database) is a *failure* to fix in config.

use std::time::Duration;

use sqlx::Connection;
use sqlx::error::DatabaseError;

use super::{CollectError, failed, unreachable};

/// Opens one connection within `timeout`. `address` and `user` name the server in
/// messages; `refusal` words a refusal from the server (each engine adds its hints).
pub(super) async fn connect<C: Connection>(
    options: &<C as Connection>::Options,
    timeout: Duration,
    address: &str,
    user: &str,
    refusal: fn(&dyn DatabaseError) -> String,
) -> Result<C, CollectError> {
    match tokio::time::timeout(timeout, C::connect_with(options)).await {
        Err(_) => Err(super::connect_timed_out(timeout, address)),
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(connect_error(&e, address, user, refusal)),
    }
}

fn connect_error(
    e: &sqlx::Error,
    address: &str,
    user: &str,
    refusal: fn(&dyn DatabaseError) -> String,
) -> CollectError {
    match e {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            unreachable(format!("connection refused by {address}"))
        }
        sqlx::Error::Io(io) => unreachable(format!("cannot reach {address}: {io}")),
        sqlx::Error::Tls(tls) => unreachable(format!("TLS with {address} failed: {tls}")),
        sqlx::Error::Database(db) => {
            failed(format!("connecting to {address} as {user}: {}", refusal(db.as_ref())))
        }
        sqlx::Error::Protocol(message) => unreachable(protocol_error(message, address)),
        other => unreachable(format!("connecting to {address}: {other}")),
    }
}

/// A protocol error in words: without sqlx's source location (`(sqlx_postgres::…:95)`),
/// and saying what the first byte of an unexpected answer suggests.
fn protocol_error(message: &str, address: &str) -> String {
    let message = match message.rfind(" (sqlx_") {
        Some(at) if message.ends_with(')') => &message[..at],
        _ => message,
    };
    // PostgreSQL answers an SSLRequest with `S` or `N`; anything else is not PostgreSQL.
    if let Some(byte) = message.strip_prefix("unexpected response from SSLRequest: 0x") {
        let what = match u8::from_str_radix(byte.trim(), 16) {
            Ok(b'H') => " ('H': an HTTP server?)".to_owned(),
            Ok(b) if b.is_ascii_graphic() => format!(" ('{}')", b as char),
            _ => String::new(),
        };
        return format!(
            "{address} is not a PostgreSQL server: it answered the TLS request with 0x{}{what}",
            byte.trim()
        );
    }
    format!("{address} does not speak the protocol expected: {message}")
}

#[cfg(test)]
mod tests {
    use super::protocol_error;

    #[test]
    fn protocol_errors_name_the_server_not_the_library() {
        assert_eq!(
            protocol_error(
                "unexpected response from SSLRequest: 0x48 (sqlx_postgres::connection::tls:95)",
                "127.0.0.1:80"
            ),
            "127.0.0.1:80 is not a PostgreSQL server: it answered the TLS request with 0x48 ('H': an HTTP server?)"
        );
        assert_eq!(
            protocol_error(
                "unknown message type: 'Z' (sqlx_mysql::connection::stream:12)",
                "db:3306"
            ),
            "db:3306 does not speak the protocol expected: unknown message type: 'Z'"
        );
    }
}
