//! Tests against live servers started by `tests/setup/services.sh`.

mod contract;
mod memcached;
mod mysql;
mod pgbouncer;
mod postgres;
mod redis;
