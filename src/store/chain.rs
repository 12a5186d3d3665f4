//! The hash chain in the store (`chain/<seq>.json`, see [`crate::integrity`] for what it
//! is and proves): appending links, linking runs a crash left out, and verifying the
//! whole history against it.
//!
//! Finding the end of the chain does not list it: `chain/head.json` is a hint (written
//! after each append, best effort, never trusted) of the newest `seq`; the appender
//! probes forward from it with metadata requests until one is missing. A missing or
//! stale hint costs a listing or a few probes, nothing else.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::ObjectStoreExt as _;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, Written, layout, manifest};
use crate::integrity::{
    Attestation, LINK_FORMAT, Link, LinkedRun, PublicKey, RemovedRun, RunAttestation, SigningKey,
    sha256_hex,
};
use crate::run::RunId;
use crate::snapshot::Digest;

/// Attempts at taking the next `seq` before giving up (each lost race is another
/// instance's append, so this many in a row means something is wrong).
const MAX_APPEND_ATTEMPTS: usize = 64;
/// How many of the newest links the repair reads to see which recent runs are linked.
const REPAIR_WINDOW: usize = 32;
/// Objects checked at once by [`Store::verify`].
const CHECKS_AHEAD: usize = 16;
/// Links on their way while the repair or an attestation reads one (each audit reads
/// ~50 of them, newest first: one after another, that is 50 round trips to S3).
const LINKS_AHEAD: usize = 8;

#[derive(Debug, Serialize, Deserialize)]
struct Head {
    seq: u64,
}

/// What [`Store::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Links read and checked.
    pub links: usize,
    /// Manifests checked against their links.
    pub runs: usize,
    /// Snapshots, findings objects and policy files checked against their digests.
    pub objects: usize,
    /// Links that carry a signature, and the key ids that signed them.
    pub signed_links: usize,
    pub keys: BTreeSet<String>,
    /// Everything wrong, in the order found (chain first, then runs by id); the first is
    /// the first break.
    pub breaks: Vec<Break>,
    /// Things worth knowing that are not breaks (a run gc recorded but did not remove).
    pub notes: Vec<String>,
}

impl Verification {
    pub fn is_whole(&self) -> bool {
        self.breaks.is_empty()
    }
}

/// One broken link of the evidence: which object, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    /// The object's path in the store.
    pub object: String,
    pub problem: String,
}

impl Store {
    /// The newest link and its bytes, or `None` for an empty chain.
    pub async fn chain_head(&self) -> Result<Option<(Link, Vec<u8>)>, StoreError> {
        let hint = match self.find_bytes(layout::CHAIN_HEAD).await? {
            Some(bytes) => serde_json::from_slice::<Head>(&bytes).ok().map(|h| h.seq),
            None => None,
        };
        let mut seq = match hint {
            Some(seq) if self.exists(&layout::chain_link(seq)).await? => seq,
            // No hint, or one pointing past the end (it is never trusted): list.
            _ => match self.chain_seqs().await?.last() {
                Some(&seq) => seq,
                None => return Ok(None),
            },
        };
        while self.exists(&layout::chain_link(seq + 1)).await? {
            seq += 1;
        }
        let path = layout::chain_link(seq);
        let bytes = self.get(&path).await?;
        let link = parse_link(&path, &bytes)?;
        Ok(Some((link, bytes)))
    }

    /// Appends a link vouching for `runs` (their manifests are read back, so the link
    /// holds what the store has) and recording `removed`; signs it with `signer`.
    /// Returns its `seq`. Safe with several writers: the create-only put of the next
    /// `seq` decides who got it.
    pub async fn append_link(
        &self,
        runs: &[RunId],
        removed: Vec<RemovedRun>,
        signer: Option<&SigningKey>,
    ) -> Result<u64, StoreError> {
        let mut linked = Vec::with_capacity(runs.len());
        for id in runs {
            let bytes = self.get(&layout::run(id)).await?;
            linked.push(LinkedRun { run_id: id.clone(), sha256: sha256_hex(&bytes) });
        }
        for _ in 0..MAX_APPEND_ATTEMPTS {
            let (seq, prev) = match self.chain_head().await? {
                Some((link, bytes)) => (link.seq + 1, Some(sha256_hex(&bytes))),
                None => (0, None),
            };
            let mut link = Link {
                format: LINK_FORMAT,
                seq,
                prev,
                at: Utc::now(),
                runs: linked.clone(),
                removed: removed.clone(),
                signature: None,
            };
            if let Some(signer) = signer {
                signer.sign(&mut link);
            }
            if self.create(&layout::chain_link(seq), link.to_bytes()).await? == Written::New {
                let head = serde_json::to_vec(&Head { seq }).expect("a head serializes");
                let path = object_store::path::Path::from(layout::CHAIN_HEAD);
                let payload = object_store::PutPayload::from(head);
                if let Err(e) = self.attempt("put", || self.inner.put(&path, payload.clone())).await
                {
                    tracing::warn!(error = %e, "chain head hint not written");
                }
                return Ok(seq);
            }
        }
        Err(StoreError::Backend {
            op: "append",
            path: layout::CHAIN.to_owned(),
            source: object_store::Error::Generic {
                store: "chain",
                source: format!("no free link after {MAX_APPEND_ATTEMPTS} attempts").into(),
            },
        })
    }

    /// Links committed runs among `runs` (oldest first, as [`Store::list_runs`] gives
    /// them) that no link names: the runs of a process that died between its commit
    /// and its link, or, on a store from before the chain, every run (in one link).
    /// Looks at the newest [`REPAIR_WINDOW`] runs only, against the newest links.
    /// Returns how many it linked.
    pub async fn link_unlinked(
        &self,
        runs: &[RunId],
        signer: Option<&SigningKey>,
    ) -> Result<usize, StoreError> {
        let Some((head, _)) = self.chain_head().await? else {
            if runs.is_empty() {
                return Ok(0);
            }
            self.append_link(runs, Vec::new(), signer).await?;
            return Ok(runs.len());
        };
        let mut linked: HashSet<RunId> = head.runs.iter().map(|r| r.run_id.clone()).collect();
        let first = head.seq.saturating_sub(REPAIR_WINDOW as u64);
        let mut links = self.links((first..head.seq).rev());
        while let Some((_, path, bytes)) = links.try_next().await? {
            let Some(bytes) = bytes else { break };
            linked.extend(parse_link(&path, &bytes)?.runs.into_iter().map(|r| r.run_id));
        }
        drop(links);
        let window = &runs[runs.len().saturating_sub(REPAIR_WINDOW)..];
        let missing: Vec<RunId> =
            window.iter().filter(|id| !linked.contains(id)).cloned().collect();
        if missing.is_empty() {
            return Ok(0);
        }
        tracing::warn!(
            runs = missing.len(),
            "linking committed runs a crash left out of the chain"
        );
        self.append_link(&missing, Vec::new(), signer).await?;
        Ok(missing.len())
    }

    /// What the chain says of `runs` (those a report covers): reads the links from the
    /// newest back until every run in `runs` is found (at most [`REPAIR_WINDOW`] more
    /// links than there are runs), checks that each carries the hash of the one before
    /// it (and its signature, with `key`), and each found run's manifest against the
    /// sha256 its link vouches for. Store errors are errors; the rest is in the answer.
    pub async fn attest(
        &self,
        runs: &[RunId],
        key: Option<&PublicKey>,
    ) -> Result<Attestation, StoreError> {
        self.attest_read(runs, key, &super::ManifestsRead::default()).await
    }

    /// [`Store::attest`], taking the manifests the caller has just read (`read`: their
    /// sha256 as read) as they were, and reading only the others.
    pub async fn attest_read(
        &self,
        runs: &[RunId],
        key: Option<&PublicKey>,
        read: &super::ManifestsRead,
    ) -> Result<Attestation, StoreError> {
        let mut a = Attestation { signatures_checked: key.is_some(), ..Attestation::default() };
        let mut wanted: HashSet<&RunId> = runs.iter().collect();
        let mut found: HashMap<RunId, (String, u64, Option<String>)> = HashMap::new();
        if let Some((head, _)) = self.chain_head().await? {
            let budget = (runs.len() + REPAIR_WINDOW) as u64;
            let oldest = head.seq.saturating_sub(budget);
            // The link read just before (newer than) the current one: (seq, its `prev`).
            let mut newer: Option<(u64, Option<String>)> = None;
            let mut links = self.links((oldest..=head.seq).rev());
            while let Some((seq, path, bytes)) = links.try_next().await? {
                let Some(bytes) = bytes else {
                    a.breaks.push(format!("{path}: link missing from the chain"));
                    newer = None;
                    continue;
                };
                a.links += 1;
                if let Some((after, prev)) = &newer
                    && prev.as_deref() != Some(sha256_hex(&bytes).as_str())
                {
                    a.breaks.push(format!(
                        "{}: does not carry the hash of link {seq} (that link was changed or replaced)",
                        layout::chain_link(*after)
                    ));
                }
                let link = match serde_json::from_slice::<Link>(&bytes) {
                    Ok(link) => link,
                    Err(e) => {
                        a.breaks.push(format!("{path}: not a chain link: {e}"));
                        newer = None;
                        continue;
                    }
                };
                if let Some(key) = key
                    && let Err(why) = key.check(&link)
                {
                    a.breaks.push(format!("{path}: {why}"));
                }
                let signed_by = link.signature.as_ref().map(|s| s.key.clone());
                if let Some(k) = &signed_by {
                    a.keys.insert(k.clone());
                }
                for r in link.runs {
                    if wanted.remove(&r.run_id) {
                        found.insert(r.run_id, (r.sha256, seq, signed_by.clone()));
                    }
                }
                newer = Some((seq, link.prev));
                if wanted.is_empty() {
                    break;
                }
            }
        }
        for id in runs {
            let standing = match found.remove(id) {
                None => RunAttestation::Unlinked,
                Some((sha, seq, signed_by)) => {
                    let stored = match read.sha256(id) {
                        Some(known) => Some(known.to_owned()),
                        None => self
                            .find_bytes(layout::run(id).as_ref())
                            .await?
                            .map(|bytes| sha256_hex(&bytes)),
                    };
                    if stored.as_deref() == Some(sha.as_str()) {
                        RunAttestation::Linked { seq, signed_by }
                    } else {
                        RunAttestation::Changed { seq }
                    }
                }
            };
            a.runs.insert(id.clone(), standing);
        }
        Ok(a)
    }

    /// The links `seqs`, in that order, each with its seq and path (`None`: not there),
    /// [`LINKS_AHEAD`] read at once.
    fn links<'s>(
        &'s self,
        seqs: impl Iterator<Item = u64>,
    ) -> impl futures::Stream<
        Item = Result<(u64, object_store::path::Path, Option<Vec<u8>>), StoreError>,
    > + Send
    + 's {
        // Futures collected into a Vec (not a stream of closures) keep callers `Send`.
        let reads: Vec<_> = seqs
            .map(|seq| async move {
                let path = layout::chain_link(seq);
                let bytes = self.find_bytes(path.as_ref()).await?;
                Ok((seq, path, bytes))
            })
            .collect();
        futures::stream::iter(reads).buffered(LINKS_AHEAD)
    }

    /// Checks the history: the chain (no gaps, each link naming its predecessor's hash,
    /// signatures when `key` is given), every manifest against its link, and every
    /// snapshot, findings object and policy file a manifest names against its digest.
    /// With `since`, only runs started (and links written) from then on, plus the link
    /// before them. Store errors are errors; everything else is a [`Break`].
    pub async fn verify(
        &self,
        since: Option<DateTime<Utc>>,
        key: Option<&PublicKey>,
    ) -> Result<Verification, StoreError> {
        let mut v = Verification::default();
        let seqs = self.chain_seqs().await?;
        for (i, &seq) in seqs.iter().enumerate() {
            if seq != i as u64 {
                v.breaks.push(brk(&layout::chain_link(i as u64), "link missing from the chain"));
                break;
            }
        }
        // With `since`: from the last link before it (checked only as the predecessor).
        let start = match since {
            None => 0,
            Some(since) => self.first_link_at_or_after(&seqs, since).await?.saturating_sub(1),
        };
        // Which runs the chain vouches for (run → manifest sha256, link) and removed.
        let mut vouched: BTreeMap<RunId, (String, u64)> = BTreeMap::new();
        let mut removed: HashMap<RunId, String> = HashMap::new();
        let mut previous: Option<(u64, Vec<u8>)> = None;
        for &seq in &seqs[start..] {
            let path = layout::chain_link(seq);
            let bytes = self.get(&path).await?;
            let link = match serde_json::from_slice::<Link>(&bytes) {
                Ok(link) => link,
                Err(e) => {
                    v.breaks.push(brk(&path, &format!("not a chain link: {e}")));
                    previous = None;
                    continue;
                }
            };
            let predecessor_only =
                since.is_some() && start > 0 && previous.is_none() && seq == seqs[start];
            if !predecessor_only {
                v.links += 1;
                if link.seq != seq {
                    v.breaks.push(brk(&path, &format!("says it is link {}", link.seq)));
                }
                let expected = match (&previous, seq) {
                    (_, 0) => None,
                    (Some((_, before)), _) => Some(sha256_hex(before)),
                    // The link before could not be read or is not in the listing: its
                    // break is reported already.
                    (None, _) => link.prev.clone(),
                };
                if link.prev != expected {
                    let before = seq.saturating_sub(1);
                    v.breaks.push(brk(
                        &path,
                        &format!("does not carry the hash of link {before} (that link was changed, replaced or removed)"),
                    ));
                }
                if let Some(signature) = &link.signature {
                    v.signed_links += 1;
                    v.keys.insert(signature.key.clone());
                }
                if let Some(key) = key
                    && let Err(why) = key.check(&link)
                {
                    v.breaks.push(brk(&path, &why));
                }
                for r in &link.runs {
                    vouched.entry(r.run_id.clone()).or_insert((r.sha256.clone(), seq));
                }
                for r in &link.removed {
                    removed.insert(r.run_id.clone(), r.reason.clone());
                }
            }
            previous = Some((seq, bytes));
        }

        let present: BTreeSet<RunId> = self.list_runs().await?.into_iter().collect();
        let in_window = |id: &RunId| since.is_none_or(|s| id.timestamp().is_none_or(|t| t >= s));
        for (id, (_, seq)) in vouched.iter().filter(|(id, _)| in_window(id)) {
            if !present.contains(id) && !removed.contains_key(id) {
                v.breaks.push(brk(
                    &layout::run(id),
                    &format!("missing: linked in chain/{seq:012}.json and never removed by gc"),
                ));
            }
        }
        let mut checked: HashSet<String> = HashSet::new();
        for id in present.iter().filter(|id| in_window(id)) {
            let path = layout::run(id);
            let Some((sha, _)) = vouched.get(id) else {
                match removed.get(id) {
                    Some(_) => v.notes.push(format!(
                        "{path} is still present although gc recorded its removal (gc was interrupted)"
                    )),
                    None => v.breaks.push(brk(&path, "not linked in the chain (added afterwards, or committed by a run that died before linking it and no audit ran since)")),
                }
                continue;
            };
            v.runs += 1;
            let bytes = self.get(&path).await?;
            if sha256_hex(&bytes) != *sha {
                v.breaks.push(brk(
                    &path,
                    "changed after it was committed (its sha256 differs from the chain's)",
                ));
                continue;
            }
            self.verify_references(id, &bytes, &mut checked, &mut v).await?;
        }
        Ok(v)
    }

    /// Every object a manifest names exists and matches its digest.
    async fn verify_references(
        &self,
        id: &RunId,
        manifest_bytes: &[u8],
        checked: &mut HashSet<String>,
        v: &mut Verification,
    ) -> Result<(), StoreError> {
        let path = layout::run(id);
        let run = match manifest::run_outline(manifest_bytes) {
            Ok(run) => run,
            Err(e) => {
                v.breaks.push(brk(&path, &format!("not a run manifest: {e}")));
                return Ok(());
            }
        };
        let findings = manifest::references(manifest_bytes).unwrap_or_default();
        // (path, expected sha256 of its bytes).
        let mut wanted: Vec<(object_store::path::Path, String)> = Vec::new();
        for t in &run.targets {
            if let Some(digest) = &t.snapshot {
                wanted.push((layout::snapshot(&t.name, digest), digest.0.clone()));
            }
        }
        for digest in findings {
            wanted.push((manifest::findings_path(&Digest(digest.clone())), digest));
        }
        for p in &run.policy_bundle.policies {
            wanted
                .push((layout::policy_file(&run.policy_bundle.digest, &p.path), p.sha256.clone()));
        }
        wanted.retain(|(p, _)| checked.insert(p.to_string()));
        let results: Vec<(String, Option<String>)> = futures::stream::iter(wanted)
            .map(|(p, sha)| async move {
                let problem = match self.find_bytes(p.as_ref()).await? {
                    None => Some(format!("missing (named by {})", layout::run(id))),
                    Some(bytes) if sha256_hex(&bytes) != sha => {
                        Some(format!("does not match its digest (named by {})", layout::run(id)))
                    }
                    Some(_) => None,
                };
                Ok::<_, StoreError>((p.to_string(), problem))
            })
            .buffered(CHECKS_AHEAD)
            .try_collect()
            .await?;
        for (object, problem) in results {
            v.objects += 1;
            if let Some(problem) = problem {
                v.breaks.push(Break { object, problem });
            }
        }
        Ok(())
    }

    /// The index in `seqs` of the first link written at or after `since` (an hour of
    /// leeway for the clocks of several writers), by bisection: links are appended in
    /// time order, so this reads about log₂(n) links, not all of them.
    async fn first_link_at_or_after(
        &self,
        seqs: &[u64],
        since: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let since = since - chrono::Duration::hours(1);
        let (mut lo, mut hi) = (0, seqs.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let path = layout::chain_link(seqs[mid]);
            let at = serde_json::from_slice::<Link>(&self.get(&path).await?).map(|l| l.at).ok();
            match at {
                Some(at) if at < since => lo = mid + 1,
                _ => hi = mid,
            }
        }
        Ok(lo)
    }

    /// Every link's `seq`, ascending.
    async fn chain_seqs(&self) -> Result<Vec<u64>, StoreError> {
        let mut seqs: Vec<u64> = self
            .list_all(layout::CHAIN)
            .await?
            .iter()
            .filter_map(|m| layout::chain_seq_of(&m.location))
            .collect();
        seqs.sort_unstable();
        Ok(seqs)
    }

    pub(super) async fn exists(&self, path: &object_store::path::Path) -> Result<bool, StoreError> {
        match self.attempt("head", || self.inner.head(path)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(StoreError::Backend { op: "head", path: path.to_string(), source }),
        }
    }
}

fn brk(path: &object_store::path::Path, problem: &str) -> Break {
    Break { object: path.to_string(), problem: problem.to_owned() }
}

fn parse_link(path: &object_store::path::Path, bytes: &[u8]) -> Result<Link, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|source| StoreError::Corrupt { path: path.to_string(), source })
}
