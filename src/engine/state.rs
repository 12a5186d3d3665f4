//! The `state.` keys a collector writes and other layers read (the group page, the
//! timeline, `/metrics`, group rules), named once per engine. The collectors document
//! every key they write (`collect/<engine>.rs`); the ones here are those read
//! elsewhere. Keys every collector writes (uptime, instance, connections) are in
//! [`crate::snapshot`].

/// Per replica a primary lists: `state.replica.<name>.<field>` (PostgreSQL
/// `pg_stat_replication`, MariaDB `SHOW REPLICA HOSTS`, Redis `INFO replication`).
pub const REPLICA_PREFIX: &str = "state.replica.";
/// A replica's own replication: `state.replication.<field>` (PostgreSQL, Redis) or
/// `state.replication.<connection>.<field>` (MariaDB's named sources).
pub const REPLICATION_PREFIX: &str = "state.replication.";

/// PostgreSQL (`collect/postgres.rs`).
pub mod postgres {
    /// `pg_stat_wal_receiver` on a standby: `state.wal_receiver.<column>`.
    pub const WAL_RECEIVER_PREFIX: &str = "state.wal_receiver.";
    /// The WAL receiver's status (`streaming`, …; `not running` without one).
    pub const WAL_RECEIVER_STATUS: &str = "state.wal_receiver.status";
    pub const WAL_RECEIVER_SENDER_HOST: &str = "state.wal_receiver.sender_host";
    pub const WAL_RECEIVER_SENDER_PORT: &str = "state.wal_receiver.sender_port";
    /// `true` while replay is paused (`pg_is_wal_replay_paused()`).
    pub const REPLAY_PAUSED: &str = "state.replication.replay_paused";
    /// A standby's replay lag behind its primary, in seconds.
    pub const REPLAY_LAG_S: &str = "state.replication.replay_lag_s";
    /// A standby's received but not replayed WAL, in bytes.
    pub const REPLAY_LAG_BYTES: &str = "state.replication.replay_lag_bytes";
    /// On a primary, each standby's replay lag: `state.replica.<name>.replay_lag_s`.
    pub const REPLICA_REPLAY_LAG_S_SUFFIX: &str = ".replay_lag_s";
}

/// MariaDB / MySQL (`collect/mysql.rs`).
pub mod mysql {
    /// Per source connection: `state.replication.<connection>.source_host`.
    pub const SOURCE_HOST_SUFFIX: &str = ".source_host";
    /// The per-connection field for `Seconds_Behind_Master`.
    pub const SECONDS_BEHIND: &str = "seconds_behind";
    /// Semi-synchronous replication: `state.semi_sync.<primary|replica>.<reading>`.
    pub const SEMI_SYNC_PREFIX: &str = "state.semi_sync.";
    /// Whether the primary's semi-synchronous replication is on (`ON`/`OFF`).
    pub const SEMI_SYNC_PRIMARY_STATUS: &str = "state.semi_sync.primary.status";
}

/// Redis (`collect/redis.rs`).
pub mod redis {
    pub const MASTER_HOST: &str = "state.master_host";
    pub const MASTER_PORT: &str = "state.master_port";
    /// `up` or `down`: the replica's link to its primary.
    pub const MASTER_LINK_STATUS: &str = "state.master_link_status";
    /// What the replica read from its primary but has not processed yet, in bytes.
    pub const OFFSET_LAG_BYTES: &str = "state.replication.offset_lag_bytes";
}

/// PgBouncer (`collect/pgbouncer.rs`).
pub mod pgbouncer {
    /// Clients waiting for a server connection, over all pools.
    pub const POOLS_CL_WAITING: &str = "state.pools.cl_waiting";
    /// The longest wait of a waiting client, in seconds, over all pools.
    pub const POOLS_MAXWAIT_S: &str = "state.pools.maxwait_s";
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys read elsewhere are the ones the collectors build from prefixes.
    #[test]
    fn keys_sit_under_their_prefixes() {
        for key in [
            postgres::WAL_RECEIVER_STATUS,
            postgres::WAL_RECEIVER_SENDER_HOST,
            postgres::WAL_RECEIVER_SENDER_PORT,
        ] {
            assert!(key.starts_with(postgres::WAL_RECEIVER_PREFIX), "{key}");
        }
        for key in [
            postgres::REPLAY_PAUSED,
            postgres::REPLAY_LAG_S,
            postgres::REPLAY_LAG_BYTES,
            redis::OFFSET_LAG_BYTES,
        ] {
            assert!(key.starts_with(REPLICATION_PREFIX), "{key}");
        }
        assert!(mysql::SEMI_SYNC_PRIMARY_STATUS.starts_with(mysql::SEMI_SYNC_PREFIX));
    }
}
