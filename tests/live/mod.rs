//! Tests against live servers started by `tests/setup/services.sh`.

mod memcached;
mod postgres;
mod redis;
