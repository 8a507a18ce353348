//! Random identifiers and secrets, from the operating system.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// `N` random bytes. Panics only if the OS has no randomness at all, which
/// is not a state the verifier can run in.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).expect("the operating system must provide randomness");
    b
}

/// An id of 128 random bits, base64url, behind `prefix`.
pub fn id(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes::<16>()))
}

/// An id behind `prefix` that sorts by creation time: 48 bits of
/// milliseconds, then 80 random bits. Ids made together land on the same
/// pages of the store's indexes instead of one random page each; 80 bits
/// still make them unguessable.
pub fn ordered_id(prefix: &str) -> String {
    let mut b = bytes::<16>();
    b[..6].copy_from_slice(&crate::clock::now_ms().to_be_bytes()[2..]);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(b))
}

/// A secret of 256 random bits, base64url, behind `prefix`.
pub fn secret(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes::<32>()))
}

/// 128 random bits as 32 lowercase hex digits.
pub fn hex128() -> String {
    hex::encode(bytes::<16>())
}
