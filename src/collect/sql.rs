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
        other => unreachable(format!("connecting to {address}: {other}")),
    }
}
