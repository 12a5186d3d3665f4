//! PostgreSQL collector: `pg_settings` as config; replication views as state.

use super::{CollectError, Collected, Endpoint};

pub async fn collect(_endpoint: &Endpoint) -> Result<Collected, CollectError> {
    Err(CollectError::Failed("postgres collector not written yet".into()))
}
