//! Verdict tokens (`oculto_shared::token`): decoding and checking arbitrary
//! tokens, signing arbitrary claims, and reading arbitrary JWK sets.
//!
//! The first byte picks the mode:
//!
//! - 0: the rest is a token. It must never panic; a token that decodes has
//!   a score of at most 100 and signs what precedes its last dot, and one
//!   that verifies against [`KEY`] (at its own `iat`, so seeds never expire)
//!   comes back with the same claims.
//! - 1: the rest is claims JSON. Claims that parse are signed with [`KEY`]
//!   and, when the token fits in `MAX_TOKEN_LEN`, must verify to the same
//!   claims exactly when their times are consistent; the token with one
//!   signature byte changed must not.
//! - 2: the rest is a JWK set. A key it yields must round-trip through
//!   `Jwk::from_key` and be found by its own thumbprint.
#![no_main]

use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use oculto_shared::token::{self, Jwk, Jwks, KeySource as _, Verdict};
use oculto_shared::ErrorKind;

/// The key the seed tokens in `fuzz/corpus/token` were signed with.
const KEY: [u8; 32] = [1; 32];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    match mode % 3 {
        0 => raw(rest),
        1 => claims(rest),
        _ => jwks(rest),
    }
});

fn raw(data: &[u8]) {
    let Ok(t) = std::str::from_utf8(data) else { return };
    let Ok(parts) = token::decode(t) else { return };
    assert!(parts.claims.score <= 100);
    assert_eq!(parts.header.alg, "EdDSA");
    let last_dot = t.rfind('.').expect("three parts");
    assert_eq!(parts.signing_input, &t[..last_dot]);
    let claims = parts.claims.clone();
    let vk = SigningKey::from_bytes(&KEY).verifying_key();
    if let Ok(v) = parts.verify(&vk, claims.iat) {
        assert_eq!(v, claims);
        assert_eq!(token::verify(t, &vk, claims.iat), Ok(v));
    }
}

fn claims(data: &[u8]) {
    let Ok(claims) = serde_json::from_slice::<Verdict>(data) else { return };
    let sk = SigningKey::from_bytes(&KEY);
    let vk = sk.verifying_key();
    let t = token::sign(&claims, &token::thumbprint(&vk), &sk);
    let now = claims.iat;
    let verified = token::verify(&t, &vk, now);
    if t.len() > token::MAX_TOKEN_LEN {
        // The signer's business (the verifier bounds every claim).
        assert_eq!(verified.map_err(|e| e.kind()), Err(ErrorKind::Malformed));
        return;
    }
    if claims.score > 100 {
        assert_eq!(verified.map_err(|e| e.kind()), Err(ErrorKind::OutOfRange), "score {} accepted", claims.score);
        return;
    }
    if token::check_times(&claims, now).is_ok() {
        assert_eq!(verified.as_ref(), Ok(&claims), "a signed token did not verify: {t}");
    } else {
        assert!(verified.is_err());
    }
    // One signature byte changed: never valid. The signature is the last
    // 86 characters; the last one carries 4 padding bits, so change another.
    let mut bytes = t.into_bytes();
    let i = bytes.len() - 2 - usize::from(data.len() as u8 % 80);
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(bytes).expect("base64url is ASCII");
    assert!(token::verify(&forged, &vk, now).is_err(), "a changed signature verified: {forged}");
}

fn jwks(data: &[u8]) {
    let Ok(set) = serde_json::from_slice::<Jwks>(data) else { return };
    for jwk in &set.keys {
        if let Ok(vk) = jwk.key() {
            assert_eq!(Jwk::from_key(&vk).key(), Ok(vk));
            let kid = token::thumbprint(&vk);
            assert!(vk.key(&kid).is_some());
            if jwk.kid == kid {
                assert!(set.key(&kid).is_some());
            }
        }
    }
}
