//! The SHA-256 proof of work that `/init` issues and `/score` checks.
//!
//! The widget must find a `nonce` such that
//! `SHA-256(preimage(session_id, site_key, salt) || nonce as 8 bytes big-endian)`
//! starts with `difficulty` zero bits. The expected work is `2^difficulty`
//! hashes.
//!
//! The preimage is length-prefixed and the nonce has a fixed width, so no two
//! different `(session_id, site_key, salt, nonce)` tuples share one hash input:
//! a solution cannot be spliced onto another session, site or salt (the flaw
//! behind ALTCHA's challenge-splicing advisory, where fields were simply
//! concatenated). The verifier keeps the salt with the session server-side and
//! accepts one solution per session.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The only algorithm offered, as named in [`PowChallenge::algorithm`].
pub const ALGORITHM: &str = "SHA-256";

/// Domain separation tag at the start of every preimage.
const TAG: &[u8] = b"oculto-pow-v1";

/// The highest difficulty the verifier ever issues. Anything above would take
/// a browser hours.
pub const MAX_DIFFICULTY: u8 = 32;

/// A proof of work challenge, as sent by `/init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PowChallenge {
    /// Always [`ALGORITHM`].
    pub algorithm: String,
    /// Random salt chosen by the verifier, 32 lowercase hex digits.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{32}$"))]
    pub salt: String,
    /// Required number of leading zero bits in the hash.
    #[cfg_attr(feature = "openapi", schema(maximum = 32))]
    pub difficulty: u8,
}

/// A solution to a [`PowChallenge`], as sent to `/score`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PowSolution {
    /// The nonce found.
    pub nonce: u64,
    /// How long the widget spent solving, in milliseconds, as it reports it.
    /// Only used as a soft signal: the browser can lie.
    #[serde(default)]
    pub elapsed_ms: u32,
}

/// The hasher state after the preimage, ready to take a nonce.
///
/// Cloning it is cheaper than hashing the preimage again for every nonce.
#[derive(Clone)]
pub struct Prefix(Sha256);

impl Prefix {
    /// Hashes the length-prefixed preimage for one session.
    ///
    /// Each field is preceded by its length as one byte; fields longer than
    /// 255 bytes are cut, which never happens for well-formed ids.
    pub fn new(session_id: &str, site_key: &str, salt: &str) -> Self {
        let mut h = Sha256::new();
        h.update(TAG);
        for field in [session_id, site_key, salt] {
            let bytes = &field.as_bytes()[..field.len().min(255)];
            h.update([bytes.len() as u8]);
            h.update(bytes);
        }
        Self(h)
    }

    /// The hash for one nonce.
    pub fn hash(&self, nonce: u64) -> [u8; 32] {
        let mut h = self.0.clone();
        h.update(nonce.to_be_bytes());
        h.finalize().into()
    }

    /// Whether `nonce` solves the challenge at `difficulty`.
    pub fn check(&self, nonce: u64, difficulty: u8) -> bool {
        leading_zero_bits(&self.hash(nonce)) >= u32::from(difficulty)
    }

    /// Tries `count` nonces from `start` and returns the first that solves the
    /// challenge. Callers that must not block (a page's main thread) call it
    /// in slices and yield in between.
    pub fn solve_range(&self, difficulty: u8, start: u64, count: u64) -> Option<u64> {
        (start..start.saturating_add(count)).find(|&n| self.check(n, difficulty))
    }
}

/// Number of leading zero bits of a hash.
pub fn leading_zero_bits(hash: &[u8]) -> u32 {
    let mut bits = 0;
    for &b in hash {
        if b == 0 {
            bits += 8;
        } else {
            return bits + b.leading_zeros();
        }
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_and_checks() {
        let p = Prefix::new("co_abc", "site_x", "00ff");
        let n = p.solve_range(8, 0, 1 << 20).expect("a solution within 2^20 tries");
        assert!(p.check(n, 8));
        assert!(leading_zero_bits(&p.hash(n)) >= 8);
    }

    #[test]
    fn a_solution_does_not_transfer_to_a_spliced_challenge() {
        // Moving characters between fields must change the preimage.
        let a = Prefix::new("co_ab", "csite", "salt");
        let b = Prefix::new("co_abc", "site", "salt");
        assert_ne!(a.hash(0), b.hash(0));
        let n = a.solve_range(12, 0, 1 << 24).expect("solution");
        // Astronomically unlikely to hold for the other challenge too.
        let c = Prefix::new("co_ab", "csite", "salt2");
        assert!(!(b.check(n, 12) && c.check(n, 12)));
    }

    #[test]
    fn counts_leading_zero_bits() {
        assert_eq!(leading_zero_bits(&[0, 0, 0x10, 0xff]), 19);
        assert_eq!(leading_zero_bits(&[0x80]), 0);
        assert_eq!(leading_zero_bits(&[0, 0]), 16);
    }
}
