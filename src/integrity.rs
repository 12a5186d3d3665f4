//! Tamper evidence for the history: the hash chain that links every committed run, and
//! optional Ed25519 signatures on its links. Pure data and crypto; the store writes and
//! reads the links (`store::chain`).
//!
//! # The chain
//!
//! A **link** (`chain/<seq>.json`, create-only, `seq` from 0 with no gaps) lists the
//! manifests committed since the previous link, each with the sha256 of its bytes, and
//! carries the sha256 of the previous link's bytes. Normally one link per run, written
//! right after its manifest; a run whose process died in between is linked by the next
//! audit (so a link may hold several runs). Several `serve` instances append to one
//! store safely: each takes the next `seq` with a create-only put and, if another
//! instance took it first, reads that link and tries the one after.
//!
//! `gc` appends a link that records the runs it is about to remove and why, before it
//! removes them, so a verifier tells retention from deletion.
//!
//! What this proves: with the chain alone, a manifest edited, replaced or removed after
//! it was linked, a link edited or removed anywhere but at the end, and a manifest added
//! that no link names. With signatures (a key only the writers hold), the newest links
//! too: nobody without the key can write a link that verifies.
//!
//! # Signatures
//!
//! Keys are PKCS#8 PEM files as `openssl genpkey -algorithm ed25519` writes them (and
//! `openssl pkey -pubout` for the public half). A signed link carries the key's id (the
//! first 16 hex digits of the sha256 of its 32 public bytes) and the signature over the
//! link's canonical JSON without the signature.

use std::path::Path;

use chrono::{DateTime, Utc};
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use ed25519_dalek::{Signer as _, Verifier as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::run::RunId;

/// The link format this build writes and reads.
pub const LINK_FORMAT: u32 = 1;

/// One link of the chain, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub format: u32,
    pub seq: u64,
    /// sha256 (hex) of the previous link's stored bytes; `None` on link 0.
    pub prev: Option<String>,
    /// When the link was written.
    pub at: DateTime<Utc>,
    /// Committed runs this link vouches for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<LinkedRun>,
    /// Runs `gc` removes right after writing this link.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<RemovedRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// A committed run and the sha256 (hex) of its manifest's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedRun {
    pub run_id: RunId,
    pub sha256: String,
}

/// A run `gc` removed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedRun {
    pub run_id: RunId,
    pub reason: String,
}

/// An Ed25519 signature over [`Link::signed_bytes`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// [`key_id`] of the public key that verifies it.
    pub key: String,
    /// The 64-byte signature, hex.
    pub ed25519: String,
}

impl Link {
    /// The bytes a signature covers: the link's JSON without its signature.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let unsigned = Link { signature: None, ..self.clone() };
        serde_json::to_vec(&unsigned).expect("a link serializes")
    }

    /// The bytes stored for this link.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a link serializes")
    }
}

/// What the chain says of the runs a report covers, as the store found it when the
/// report was published (`Store::attest`): a lighter check than `driftwatch verify`
/// (the newest links and the covered runs' manifests, not every object they name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attestation {
    /// Per covered run.
    pub runs: std::collections::BTreeMap<RunId, RunAttestation>,
    /// Links read (the newest ones, back to the oldest covered run).
    pub links: usize,
    /// What is wrong with those links (a missing link, a broken hash, a bad signature),
    /// each naming the object.
    pub breaks: Vec<String>,
    /// The key ids that signed the links read.
    pub keys: std::collections::BTreeSet<String>,
    /// Whether signatures were checked against a public key (the audit's own key).
    pub signatures_checked: bool,
}

/// One run's standing in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunAttestation {
    /// Named by link `seq`, and its manifest still has the bytes the link vouches for.
    Linked { seq: u64, signed_by: Option<String> },
    /// Named by link `seq`, but its manifest changed since.
    Changed { seq: u64 },
    /// No link read names it (committed by a run that died before linking it: the
    /// next audit links it; or older than the links read).
    Unlinked,
}

impl Attestation {
    /// True when nothing read is broken and every covered run is linked.
    pub fn is_whole(&self) -> bool {
        self.breaks.is_empty()
            && self.runs.values().all(|r| matches!(r, RunAttestation::Linked { .. }))
    }
}

/// The sha256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A key's id: the first 16 hex digits of the sha256 of its public bytes.
pub fn key_id(public: &ed25519_dalek::VerifyingKey) -> String {
    sha256_hex(public.as_bytes())[..16].to_owned()
}

/// The key links are signed with, read from a PKCS#8 PEM file. Its `Debug` shows only
/// the key id.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.id())
    }
}

impl SigningKey {
    /// Reads the key; errors name the file, never its content.
    pub fn from_pem_file(path: &Path) -> Result<SigningKey, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read signing key {}: {e}", path.display()))?;
        ed25519_dalek::SigningKey::from_pkcs8_pem(&text).map(SigningKey).map_err(|_| {
            format!(
                "{} is not an Ed25519 private key in PKCS#8 PEM (make one with \
                 `openssl genpkey -algorithm ed25519 -out key.pem`)",
                path.display()
            )
        })
    }

    pub fn id(&self) -> String {
        key_id(&self.0.verifying_key())
    }

    /// The public half, which verifies what this key signs.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs `link` in place.
    pub fn sign(&self, link: &mut Link) {
        link.signature = None;
        let signature = self.0.sign(&link.signed_bytes());
        link.signature =
            Some(Signature { key: self.id(), ed25519: hex::encode(signature.to_bytes()) });
    }
}

/// The public key a verifier checks signatures with.
#[derive(Debug, Clone)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl PublicKey {
    /// Reads a public key (SPKI PEM, `openssl pkey -pubout`), or the public half of a
    /// private key file.
    pub fn from_pem_file(path: &Path) -> Result<PublicKey, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read public key {}: {e}", path.display()))?;
        if let Ok(key) = ed25519_dalek::VerifyingKey::from_public_key_pem(&text) {
            return Ok(PublicKey(key));
        }
        ed25519_dalek::SigningKey::from_pkcs8_pem(&text)
            .map(|k| PublicKey(k.verifying_key()))
            .map_err(|_| {
                format!(
                    "{} is not an Ed25519 public key in PEM (write one with \
                     `openssl pkey -in key.pem -pubout -out public.pem`)",
                    path.display()
                )
            })
    }

    pub fn id(&self) -> String {
        key_id(&self.0)
    }

    /// Whether `link` carries a valid signature by this key; why not otherwise.
    pub fn check(&self, link: &Link) -> Result<(), String> {
        let Some(signature) = &link.signature else {
            return Err("is not signed".to_owned());
        };
        if signature.key != self.id() {
            return Err(format!(
                "is signed by key {}, not by the given public key {}",
                signature.key,
                self.id()
            ));
        }
        let bytes: [u8; 64] = hex::decode(&signature.ed25519)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| "has a malformed signature".to_owned())?;
        self.0
            .verify(&link.signed_bytes(), &ed25519_dalek::Signature::from_bytes(&bytes))
            .map_err(|_| "has a signature that does not verify (the link was changed)".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed test key (never used outside tests), PKCS#8 PEM as openssl writes it.
    pub(crate) const TEST_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEINBtrwl0VrgsGZk5sciqO/yCRkgMHoT79ULeu3lcJTjm\n\
        -----END PRIVATE KEY-----\n";

    fn link() -> Link {
        Link {
            format: LINK_FORMAT,
            seq: 3,
            prev: Some("ab".repeat(32)),
            at: DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z").unwrap().to_utc(),
            runs: vec![LinkedRun {
                run_id: RunId("20261201T100000.000Z-0001".into()),
                sha256: "cd".repeat(32),
            }],
            removed: vec![],
            signature: None,
        }
    }

    fn key() -> SigningKey {
        SigningKey(ed25519_dalek::SigningKey::from_pkcs8_pem(TEST_KEY_PEM).unwrap())
    }

    #[test]
    fn a_signed_link_verifies_and_any_change_breaks_it() {
        let signer = key();
        let public = PublicKey(signer.0.verifying_key());
        let mut l = link();
        assert_eq!(public.check(&l), Err("is not signed".to_owned()));
        signer.sign(&mut l);
        assert_eq!(public.check(&l), Ok(()));
        let stored: Link = serde_json::from_slice(&l.to_bytes()).unwrap();
        assert_eq!(public.check(&stored), Ok(()), "verifies after a round trip");
        let mut changed = stored.clone();
        changed.runs[0].sha256 = "ef".repeat(32);
        assert!(public.check(&changed).unwrap_err().contains("does not verify"));
    }

    #[test]
    fn another_key_is_named() {
        let mut l = link();
        key().sign(&mut l);
        let other = PublicKey(ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key());
        let err = other.check(&l).unwrap_err();
        assert!(err.contains(&key().id()) && err.contains(&other.id()), "{err}");
    }

    #[test]
    fn key_files_in_pem() {
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("key.pem");
        std::fs::write(&private, TEST_KEY_PEM).unwrap();
        let signer = SigningKey::from_pem_file(&private).unwrap();
        assert!(!format!("{signer:?}").contains("MC4C"), "Debug shows no key material");
        let public = PublicKey::from_pem_file(&private).unwrap();
        assert_eq!(public.id(), signer.id());
        std::fs::write(&private, "not a key").unwrap();
        let err = SigningKey::from_pem_file(&private).unwrap_err();
        assert!(err.contains("PKCS#8") && !err.contains("not a key"), "{err}");
    }
}
