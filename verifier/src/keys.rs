//! The verifier's signing keys: the newest one signs, every key whose tokens
//! may still be alive is published and accepted.
//!
//! Keys live in the store (private keys included, in a file only the owner
//! can read), so every process and every node sees the same ones. The first
//! start creates one; `oculto keys rotate` adds a new one and retires the
//! old, which stays published for one token lifetime plus a margin.
//!
//! A rotated key starts signing [`ROTATION_DELAY_SECS`] after it is stored
//! (its `created_at`), and the old key is retired at that same moment. Every
//! node reloads its keys each second, so every node accepts and publishes the
//! new key before any node signs with it: a token signed on one node never
//! meets a node that does not know its key yet.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use oculto_shared::token::{self, Jwk, Jwks, KeySource, Verdict};
use tokio::sync::oneshot;

use crate::store::{KeyRecord, Store, StoreError};

/// How long after retirement a key is still published and accepted, beyond
/// the token lifetime: clock skew and caches.
const RETIRED_MARGIN_SECS: u64 = 120;

/// How long `oculto keys rotate` publishes a new key before it signs, by
/// default: nodes reload keys every second, and their clocks may differ a
/// little.
pub const ROTATION_DELAY_SECS: u64 = 5;

/// One snapshot of the keys.
pub struct KeySet {
    kid: String,
    signing: SigningKey,
    accepted: HashMap<String, VerifyingKey>,
    jwks: Jwks,
}

impl KeySource for KeySet {
    fn key(&self, kid: &str) -> Option<VerifyingKey> {
        self.accepted.get(kid).copied()
    }
}

impl KeySet {
    /// Builds a snapshot from stored keys (newest first); `None` if none is
    /// active. The newest key whose time has come (made at or before `now`,
    /// not retired by then) signs; a key made for later is only published
    /// and accepted until then.
    pub fn from_records(records: &[KeyRecord], token_ttl: u64, now: u64) -> Option<Self> {
        let signs_now = |k: &&KeyRecord| k.created_at <= now && k.retired_at.is_none_or(|r| r > now);
        let active = records.iter().find(signs_now).or_else(|| records.iter().find(|k| k.retired_at.is_none()))?;
        let signing = SigningKey::from_bytes(&active.secret);
        let mut accepted = HashMap::new();
        let mut jwks = Jwks::default();
        for k in records {
            let alive = k.retired_at.is_none_or(|r| r + token_ttl + RETIRED_MARGIN_SECS > now);
            if alive {
                let vk = SigningKey::from_bytes(&k.secret).verifying_key();
                jwks.keys.push(Jwk::from_key(&vk));
                accepted.insert(token::thumbprint(&vk), vk);
            }
        }
        Some(Self { kid: token::thumbprint(&signing.verifying_key()), signing, accepted, jwks })
    }

    /// Signs a verdict with the current key.
    pub fn sign(&self, claims: &Verdict) -> String {
        token::sign(claims, &self.kid, &self.signing)
    }

    /// The published keys.
    pub fn jwks(&self) -> &Jwks {
        &self.jwks
    }

    /// The current key's id.
    pub fn kid(&self) -> &str {
        &self.kid
    }
}

/// A fresh key record, from the operating system's randomness, that signs
/// from `now` on.
pub fn generate(now: u64) -> KeyRecord {
    let secret: [u8; 32] = crate::random::bytes();
    let kid = token::thumbprint(&SigningKey::from_bytes(&secret).verifying_key());
    KeyRecord { kid, secret, created_at: now, retired_at: None }
}

/// The keys in use, swapped as a whole when the store's keys change.
pub struct KeyRing {
    current: RwLock<Arc<KeySet>>,
}

impl KeyRing {
    /// Loads the keys, creating the first one if the store has none.
    pub async fn load(store: &Store, token_ttl: u64, now: u64) -> Result<Self, StoreError> {
        let records = store.ensure_key(generate(now)).await?;
        let set = KeySet::from_records(&records, token_ttl, now)
            .ok_or_else(|| StoreError::Unavailable("no active signing key".into()))?;
        Ok(Self { current: RwLock::new(Arc::new(set)) })
    }

    /// Reloads from the store (after `oculto keys rotate` in another process,
    /// or on another node).
    pub async fn refresh(&self, store: &Store, token_ttl: u64, now: u64) -> Result<(), StoreError> {
        let records = store.keys().await?;
        if let Some(set) = KeySet::from_records(&records, token_ttl, now) {
            *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
        }
        Ok(())
    }

    /// The current snapshot.
    pub fn get(&self) -> Arc<KeySet> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Most signatures checked in one batch.
const BATCH_MAX: usize = 64;

/// A signature waiting for its batch.
struct Pending {
    key: VerifyingKey,
    message: Vec<u8>,
    signature: Signature,
    done: oneshot::Sender<bool>,
}

/// The signatures that requests on one thread are waiting on, and whether
/// one of those requests has taken on checking them.
#[derive(Default)]
struct Batch {
    pending: Vec<Pending>,
    led: bool,
}

thread_local! {
    static BATCH: Arc<Mutex<Batch>> = Arc::default();
}

/// Checks an Ed25519 signature, accepting what `verify_strict` accepts, in a
/// batch with the other signatures that requests on this worker thread are
/// checking at the same moment.
///
/// The first request to arrive leads: it yields once, so that the requests
/// already readable on this worker get here too, then checks every waiting
/// signature with one `verify_batch` (about half the work per signature of
/// one by one) and hands each request its answer. A batch that fails is
/// checked again one signature at a time, so a bad token never fails another;
/// a batch of one is a plain `verify_strict`. Batch verification accepts no
/// signature that `verify_strict` refuses unless it was made with the private
/// key: a small-order `R` or one with a small-order part would need the
/// prime-order part of the equation to hold for a new challenge.
pub async fn verify_signature(key: VerifyingKey, message: &[u8], signature: Signature) -> bool {
    let batch = BATCH.with(Arc::clone);
    let (done, answer) = oneshot::channel();
    let lead = {
        let mut b = batch.lock().unwrap_or_else(|e| e.into_inner());
        b.pending.push(Pending { key, message: message.to_vec(), signature, done });
        !std::mem::replace(&mut b.led, true)
    };
    if lead {
        // Checks the batch when dropped: after the yield, or if this request
        // is cancelled first, so that no other request waits forever.
        let leader = Leader(batch);
        tokio::task::yield_now().await;
        drop(leader);
    }
    answer.await.unwrap_or(false)
}

struct Leader(Arc<Mutex<Batch>>);

impl Drop for Leader {
    fn drop(&mut self) {
        let mut pending = {
            let mut b = self.0.lock().unwrap_or_else(|e| e.into_inner());
            b.led = false;
            std::mem::take(&mut b.pending)
        };
        while !pending.is_empty() {
            let rest = pending.split_off(pending.len().min(BATCH_MAX));
            check_batch(pending);
            pending = rest;
        }
    }
}

fn check_batch(batch: Vec<Pending>) {
    let all_good = batch.len() > 1 && {
        let messages: Vec<&[u8]> = batch.iter().map(|p| &p.message[..]).collect();
        let signatures: Vec<Signature> = batch.iter().map(|p| p.signature).collect();
        let keys: Vec<VerifyingKey> = batch.iter().map(|p| p.key).collect();
        ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok()
    };
    for p in batch {
        let good = all_good || p.key.verify_strict(&p.message, &p.signature).is_ok();
        let _ = p.done.send(good);
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::Signer as _;

    use super::*;

    /// Issue 6: a rotated key is published and accepted before it signs, so
    /// that every node knows it before any node uses it.
    #[test]
    fn a_rotated_key_signs_only_from_its_time() {
        let old = KeyRecord { kid: "old".into(), secret: [1; 32], created_at: 100, retired_at: Some(205) };
        let new = KeyRecord { kid: "new".into(), secret: [2; 32], created_at: 205, retired_at: None };
        let records = [new.clone(), old.clone()];
        let kid = |k: &KeyRecord| token::thumbprint(&SigningKey::from_bytes(&k.secret).verifying_key());
        let before = KeySet::from_records(&records, 300, 200).unwrap();
        assert_eq!(before.kid(), kid(&old), "the old key signs until the new one's time");
        assert_eq!(before.jwks().keys.len(), 2, "the new key is published at once");
        assert!(before.key(&kid(&new)).is_some(), "and accepted at once");
        let after = KeySet::from_records(&records, 300, 205).unwrap();
        assert_eq!(after.kid(), kid(&new));
        assert!(after.key(&kid(&old)).is_some(), "old tokens stay good");
        let later = KeySet::from_records(&records, 300, 205 + 300 + RETIRED_MARGIN_SECS).unwrap();
        assert!(later.key(&kid(&old)).is_none(), "until they have all expired");
        // A clock behind the rotation's: the newest key that is not retired.
        let skewed = KeySet::from_records(std::slice::from_ref(&new), 300, 0).unwrap();
        assert_eq!(skewed.kid(), kid(&new));
    }

    #[tokio::test]
    async fn a_bad_signature_fails_alone_in_its_batch() {
        let sk = SigningKey::from_bytes(&[7; 32]);
        let vk = sk.verifying_key();
        let mut small_order = [0u8; 64];
        small_order[0] = 1; // R = the identity, s = 0
        let checks = tokio::join!(
            verify_signature(vk, b"one", sk.sign(b"one")),
            verify_signature(vk, b"two", sk.sign(b"another message")),
            verify_signature(vk, b"three", sk.sign(b"three")),
            verify_signature(vk, b"four", Signature::from_bytes(&small_order)),
            verify_signature(vk, b"five", sk.sign(b"five")),
        );
        assert_eq!(checks, (true, false, true, false, true));
        assert!(verify_signature(vk, b"alone", sk.sign(b"alone")).await);
        assert!(!verify_signature(vk, b"alone", Signature::from_bytes(&small_order)).await);
    }
}
