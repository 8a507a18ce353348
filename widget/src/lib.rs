//! Oculto's browser widget. This first version holds the proof of work
//! solver on top of `oculto-shared`; the wasm-bindgen surface, signal
//! collection and drawing come with the widget issue.
#![deny(clippy::unwrap_used)]

use oculto_shared::pow::{PowChallenge, Prefix};

/// Solves a proof of work challenge for a session, trying nonces from 0.
/// Returns `None` if no nonce below `max_tries` works.
pub fn solve(session_id: &str, site_key: &str, challenge: &PowChallenge, max_tries: u64) -> Option<u64> {
    Prefix::new(session_id, site_key, &challenge.salt).solve_range(challenge.difficulty, 0, max_tries)
}
