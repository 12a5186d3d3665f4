//! Tests against live servers started by `tests/setup/services.sh`.

mod mysql;
mod postgres;
