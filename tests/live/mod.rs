//! Tests against live servers started by `tests/setup/services.sh`.

mod memcached;
mod mysql;
mod postgres;
mod redis;
