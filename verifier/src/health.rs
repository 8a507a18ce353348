//! What `/health` and the CaptchEtat-style `/healthcheck` check: the store
//! answers, a signing key is loaded and works, and the clock is sane. Both
//! routes report the same checks, each in its own vocabulary.

use std::time::Duration;

use oculto_shared::token::{self, Verdict};

use crate::{clock, State};

/// The longest a ping of the store may take before it counts as down.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// 2026-01-01T00:00:00Z. A clock before it is wrong: this code did not exist
/// yet, and tokens would be signed already expired or far in the future.
const EARLIEST_SANE_SECS: u64 = 1_767_225_600;

/// One checked part of the verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// `store`, `keys` or `clock`.
    pub name: &'static str,
    /// Whether it works.
    pub ok: bool,
    /// What was checked, for people (never a secret): the store's name,
    /// the signing key's id, the time.
    pub details: String,
}

/// Checks every part, the store with a bounded ping.
pub async fn check(state: &State) -> Vec<Part> {
    let store = tokio::time::timeout(PING_TIMEOUT, state.store.ping()).await.is_ok_and(|r| r.is_ok());
    let now = clock::now_secs();
    vec![
        Part { name: "store", ok: store, details: state.store.architecture().to_owned() },
        keys(state, now),
        Part { name: "clock", ok: now >= EARLIEST_SANE_SECS, details: clock::rfc3339(now) },
    ]
}

/// The current signing key signs a verdict that its published JWK set
/// accepts.
fn keys(state: &State, now: u64) -> Part {
    let set = state.keys.get();
    let probe = Verdict {
        iss: "oculto-health".into(),
        sub: String::new(),
        jti: String::new(),
        sid: String::new(),
        iat: now,
        exp: now.saturating_add(60),
        score: 0,
        cls: oculto_shared::api::Classification::Human,
        hostname: String::new(),
        action: None,
        cdata: None,
    };
    let ok = token::verify(&set.sign(&probe), set.jwks(), now).is_ok();
    let published = set.jwks().keys.len();
    let details = if ok {
        format!("signing key {} loaded, {published} published", set.kid())
    } else {
        "the signing key does not verify against the published keys".to_owned()
    };
    Part { name: "keys", ok, details }
}
