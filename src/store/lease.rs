//! Leases on scheduled slots: how several `serve` instances sharing one store agree on
//! who runs each slot. A lease is a small create-only object
//! (`leases/<schedule>/<slot>[-shard-<i>-of-<n>].json`); the instance whose put creates
//! it runs the slot, every other one skips it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, Written, layout};
use crate::run::Slot;

/// Who claimed a slot, and when. What the lease object holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub slot: Slot,
    /// The claiming process's instance id (random per process start).
    pub instance: String,
    pub host: String,
    pub pid: u32,
    pub claimed_at: DateTime<Utc>,
}

impl Store {
    /// Claims `lease.slot` for the instance the lease names: `Ok(true)` when this call
    /// created the lease (run the slot), `Ok(false)` when one already exists (someone
    /// else — or this instance, earlier — has the slot: skip it).
    ///
    /// # Atomicity
    ///
    /// The claim is a single create-only put (`PutMode::Create`), so of any number of
    /// concurrent claims of the same slot exactly one succeeds, and the winner's lease
    /// is never overwritten:
    ///
    /// - local folder: the object is written to a staging file and published with
    ///   `link(2)`, which fails with `EEXIST` if the name exists — atomic on one host
    ///   and on shared POSIX file systems that implement `link` atomically (NFSv3+);
    /// - S3 (and S3-compatible servers that implement it): `PUT` with
    ///   `If-None-Match: *`, answered `412 Precondition Failed` when the key exists;
    ///   GCS and Azure use their own create-only preconditions;
    /// - memory: under the store's lock.
    ///
    /// A lease is never released or renewed: it names one slot, and the next slot has
    /// its own. An instance that dies after claiming loses that slot (no run is
    /// committed for it); the next slot is run by whichever instance claims it.
    ///
    /// A retried put may meet its own earlier attempt (one whose answer was lost): a
    /// lease already there with this very lease's bytes (instance id and claim time
    /// make them unique) is this call's, won.
    pub async fn claim_slot(&self, lease: &Lease) -> Result<bool, StoreError> {
        let bytes = serde_json::to_vec_pretty(lease).expect("a lease always serializes");
        let path = layout::lease(&lease.slot);
        match self.create(&path, bytes.clone()).await? {
            Written::New => Ok(true),
            Written::AlreadyThere => Ok(self.get(&path).await? == bytes),
        }
    }

    /// The lease on `slot`, if anyone claimed it.
    pub async fn lease(&self, slot: &Slot) -> Result<Option<Lease>, StoreError> {
        let path = layout::lease(slot);
        let Some(bytes) = self.find_bytes(path.as_ref()).await? else { return Ok(None) };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StoreError::Corrupt { path: path.to_string(), source })
    }

    /// Every lease in the store, oldest slot first (by path).
    pub async fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        let prefix = object_store::path::Path::from(layout::LEASES);
        let paths = self.list_paths(&prefix, None).await?;
        let mut leases = Vec::with_capacity(paths.len());
        for path in paths {
            let bytes = self.get(&path).await?;
            leases.push(
                serde_json::from_slice(&bytes)
                    .map_err(|source| StoreError::Corrupt { path: path.to_string(), source })?,
            );
        }
        Ok(leases)
    }
}
