//! Several `serve` instances, one history: which instance runs which scheduled slot.
//!
//! - Without sharding, every instance sharing a store ticks on the same schedules and
//!   competes for each whole slot; the store's create-only lease
//!   ([`Store::claim_slot`](crate::store::Store::claim_slot)) lets exactly one run it.
//! - With `[schedule] shards = N`, the targets are split by a stable hash of their name
//!   ([`shard_of`]); an instance audits its shard's targets only and claims the slot
//!   per shard, so N instances share a large fleet (and two instances of the same
//!   shard still run each slot once).
//!
//! Pure except [`host_name`] and [`Instance::this_process`], which read the host.

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

use crate::config::ScheduleSettings;
use crate::run::{Shard, Slot};
use crate::store::Lease;

/// The shard a target belongs to: FNV-1a (64-bit) of its name, modulo `count`. Stable
/// across versions, hosts and processes — never change it: every instance of a fleet
/// must agree.
pub fn shard_of(target: &str, count: u32) -> u32 {
    (fnv1a(target) % u64::from(count.max(1))) as u32
}

fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The path-safe key of a schedule in lease names: `service` for `[schedule] cron`,
/// `cron-<first 12 hex of sha256(pattern)>` for a per-target pattern.
pub fn schedule_key(plan_name: &str, pattern: &str) -> String {
    if plan_name == "service" {
        return "service".to_owned();
    }
    let digest = Sha256::digest(pattern.as_bytes());
    format!("cron-{}", &hex::encode(digest)[..12])
}

/// This instance's shard, or `None` when the fleet is not sharded.
pub fn this_shard(settings: &ScheduleSettings, host: &str) -> Result<Option<Shard>, String> {
    let Some(sharding) = settings.sharding else { return Ok(None) };
    let index = sharding.index(host)?;
    Ok(Some(Shard { index, count: sharding.count }))
}

/// Of `targets`, those `shard` audits (all of them when not sharded), in order.
pub fn targets_of(targets: &[String], shard: Option<Shard>) -> Vec<String> {
    targets
        .iter()
        .filter(|t| shard.is_none_or(|s| shard_of(t, s.count) == s.index))
        .cloned()
        .collect()
}

/// The host's name: the kernel's (a Kubernetes pod's name), else `$HOSTNAME`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Who this process is, as its leases say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Random per process start: two processes on one host differ.
    pub id: String,
    pub host: String,
    pub pid: u32,
}

impl Instance {
    pub fn this_process() -> Instance {
        Instance {
            id: format!("{:016x}", crate::run::nonce()),
            host: host_name(),
            pid: std::process::id(),
        }
    }

    /// The lease this instance puts to claim `slot`.
    pub fn lease(&self, slot: &Slot, now: DateTime<Utc>) -> Lease {
        Lease {
            slot: slot.clone(),
            instance: self.id.clone(),
            host: self.host.clone(),
            pid: self.pid,
            claimed_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        // Pinned: a change here would reshuffle every running fleet.
        assert_eq!(shard_of("orders-primary", 1), 0);
        let pinned: Vec<u32> = ["a", "b", "orders-primary", "orders-replica", "db-17"]
            .iter()
            .map(|t| shard_of(t, 3))
            .collect();
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c); // the published FNV-1a test vector
        assert_eq!(pinned, [1, 1, 2, 2, 1], "{pinned:?}");
        let names: Vec<String> = (0..1000).map(|i| format!("db-{i}")).collect();
        for count in [2, 3, 7] {
            let mut sizes = vec![0usize; count as usize];
            for n in &names {
                sizes[shard_of(n, count) as usize] += 1;
            }
            let even = 1000 / count as usize;
            assert!(sizes.iter().all(|s| s.abs_diff(even) < even / 4), "{count}: {sizes:?}");
        }
    }

    #[test]
    fn targets_split_without_loss_or_overlap() {
        let names: Vec<String> = (0..50).map(|i| format!("t{i}")).collect();
        let mut all: Vec<String> =
            (0..3).flat_map(|index| targets_of(&names, Some(Shard { index, count: 3 }))).collect();
        all.sort();
        let mut expected = names.clone();
        expected.sort();
        assert_eq!(all, expected);
        assert_eq!(targets_of(&names, None), names);
    }

    #[test]
    fn schedule_keys_are_path_safe() {
        assert_eq!(schedule_key("service", "0 */5 * * * *"), "service");
        let k = schedule_key("*/10 * * * * *", "*/10 * * * * *");
        assert!(k.starts_with("cron-") && k.len() == 17, "{k}");
        assert!(k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
    }
}
