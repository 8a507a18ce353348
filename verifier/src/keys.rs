//! The verifier's signing keys: the newest one signs, every key whose tokens
//! may still be alive is published and accepted.
//!
//! Keys live in the store (private keys included, in a file only the owner
//! can read), so every process and every node sees the same ones. The first
//! start creates one; `oculto keys rotate` adds a new one and retires the
//! old, which stays published for one token lifetime plus a margin.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ed25519_dalek::{SigningKey, VerifyingKey};
use oculto_shared::token::{self, Jwk, Jwks, KeySource, Verdict};

use crate::store::{KeyRecord, Store, StoreError};

/// How long after retirement a key is still published and accepted, beyond
/// the token lifetime: clock skew and caches.
const RETIRED_MARGIN_SECS: u64 = 120;

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
    /// active.
    pub fn from_records(records: &[KeyRecord], token_ttl: u64, now: u64) -> Option<Self> {
        let active = records.iter().find(|k| k.retired_at.is_none())?;
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

/// A fresh key record, from the operating system's randomness.
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
