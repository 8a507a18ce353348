//! Verdict tokens: compact JWS (RFC 7515) signed with Ed25519 (`alg: EdDSA`,
//! RFC 8037), carrying a [`Verdict`].
//!
//! The signing input is the JWS one, `base64url(header) "." base64url(claims)`,
//! which is unambiguous: neither part can contain a `.`. Decoding is strict:
//!
//! - exactly three parts, each canonical unpadded base64url;
//! - the header is exactly `{"alg":"EdDSA","typ":"JWT","kid":...}`; any other
//!   algorithm (`none`, `HS256`...) or extra header field (`crit`, `jku`...)
//!   is refused before any key is looked up;
//! - the key is chosen by `kid` among the keys the caller trusts, never taken
//!   from the token;
//! - signatures are checked with `verify_strict` (no small-order keys, no
//!   malleable signatures);
//! - claims are the closed [`Verdict`] shape, with `exp` checked.
//!
//! Public keys are published as a JWK set ([`Jwks`]), so any JWT library that
//! knows EdDSA can check a verdict too.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::api::Classification;
use crate::{Error, ErrorKind};

/// The longest token accepted, in bytes. Real ones are about 450.
pub const MAX_TOKEN_LEN: usize = 4096;

/// Allowed clock skew, in seconds, for `iat` in the future.
pub const LEEWAY_SECS: u64 = 30;

/// The protected header of every verdict token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always `EdDSA`.
    pub alg: String,
    /// Always `JWT`.
    pub typ: String,
    /// The id of the signing key: its RFC 7638 JWK thumbprint.
    pub kid: String,
}

/// The claims of a verdict token: what the verifier decided about one
/// session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    /// Issuer: the verifier's public URL or name.
    pub iss: String,
    /// Subject: the site key the session was opened for.
    pub sub: String,
    /// Unique token id; `/verify` accepts each one once.
    pub jti: String,
    /// The session id (`co_...`) this verdict was made for.
    pub sid: String,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// Expires at, seconds since the Unix epoch.
    pub exp: u64,
    /// 0 (surely human) to 100 (surely a bot).
    pub score: u8,
    /// The class of the score.
    pub cls: Classification,
    /// The hostname of the page the session was opened on.
    pub hostname: String,
    /// The action the page named, if any (`login`, `signup`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Customer data the page attached, if any (returned to the backend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdata: Option<String>,
}

/// Where the public keys that may have signed a token come from.
pub trait KeySource {
    /// The verifying key with this `kid`, if trusted.
    fn key(&self, kid: &str) -> Option<VerifyingKey>;
}

/// A token split into its parts, with the header checked but nothing else.
#[derive(Debug, Clone)]
pub struct Parts<'a> {
    /// The checked header.
    pub header: Header,
    /// The claims, not yet trusted.
    pub claims: Verdict,
    /// `header.claims`, the bytes the signature covers.
    pub signing_input: &'a str,
    /// The signature.
    pub signature: Signature,
}

fn malformed(detail: &'static str) -> Error {
    Error::new(ErrorKind::Malformed, detail)
}

fn b64(part: &str, what: &'static str) -> Result<Vec<u8>, Error> {
    URL_SAFE_NO_PAD.decode(part).map_err(|_| malformed(what))
}

/// Splits a token and checks its header, without checking the signature.
///
/// Use [`verify`]; this is public for tools that inspect tokens and for
/// verifiers that check signatures in batches.
pub fn decode(token: &str) -> Result<Parts<'_>, Error> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(malformed("token is empty or too long"));
    }
    let mut it = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        return Err(malformed("token must have three dot-separated parts"));
    };
    let header: Header = serde_json::from_slice(&b64(h, "token header is not base64url")?)
        .map_err(|_| malformed("token header is not a verdict header"))?;
    if header.alg != "EdDSA" {
        return Err(Error::new(ErrorKind::UnsupportedAlgorithm, "token algorithm must be EdDSA"));
    }
    if header.typ != "JWT" {
        return Err(malformed("token type must be JWT"));
    }
    let claims: Verdict = serde_json::from_slice(&b64(c, "token claims are not base64url")?)
        .map_err(|_| malformed("token claims are not a verdict"))?;
    if claims.score > 100 {
        return Err(Error::new(ErrorKind::OutOfRange, "token score above 100"));
    }
    let sig: [u8; 64] = b64(s, "token signature is not base64url")?
        .try_into()
        .map_err(|_| malformed("token signature must be 64 bytes"))?;
    Ok(Parts { header, claims, signing_input: &token[..h.len() + 1 + c.len()], signature: Signature::from_bytes(&sig) })
}

impl Parts<'_> {
    /// Checks the signature with the key named by `kid`, then expiry and issue
    /// time against `now` (seconds since the Unix epoch).
    pub fn verify(self, keys: &impl KeySource, now: u64) -> Result<Verdict, Error> {
        let key = self.key(keys)?;
        let signed = key.verify_strict(self.signing_input.as_bytes(), &self.signature).is_ok();
        self.accept(signed, now)
    }

    /// The trusted key named by the header's `kid`.
    pub fn key(&self, keys: &impl KeySource) -> Result<VerifyingKey, Error> {
        keys.key(&self.header.kid)
            .ok_or(Error::new(ErrorKind::UnknownKey, "token was signed by a key this verifier does not know"))
    }

    /// The claims, once the caller checked the signature with [`Parts::key`]
    /// (as [`Parts::verify`] does one by one, or a verifier in batches):
    /// refused if `signed` is false, then checked against `now`.
    pub fn accept(self, signed: bool, now: u64) -> Result<Verdict, Error> {
        if !signed {
            return Err(Error::new(ErrorKind::BadSignature, "token signature does not match"));
        }
        check_times(&self.claims, now)?;
        Ok(self.claims)
    }
}

/// Checks `exp` and `iat` against `now`.
pub fn check_times(claims: &Verdict, now: u64) -> Result<(), Error> {
    if claims.exp <= now {
        return Err(Error::new(ErrorKind::Expired, "token has expired"));
    }
    if claims.iat > now + LEEWAY_SECS || claims.iat > claims.exp {
        return Err(Error::new(ErrorKind::NotYetValid, "token was issued in the future"));
    }
    Ok(())
}

/// Decodes a token and checks its signature and times. Does not, and cannot,
/// enforce single use: that is the verifier's `/verify`.
pub fn verify(token: &str, keys: &impl KeySource, now: u64) -> Result<Verdict, Error> {
    decode(token)?.verify(keys, now)
}

/// Signs `claims` with `key`, naming it `kid`.
///
/// Nothing here bounds the claims: the caller keeps them small enough that
/// the token stays within [`MAX_TOKEN_LEN`], which [`decode`] refuses past.
#[cfg(feature = "sign")]
pub fn sign(claims: &Verdict, kid: &str, key: &ed25519_dalek::SigningKey) -> String {
    use ed25519_dalek::Signer as _;
    let header = Header { alg: "EdDSA".into(), typ: "JWT".into(), kid: kid.into() };
    // Serializing these plain structs cannot fail.
    let h = serde_json::to_vec(&header).unwrap_or_default();
    let c = serde_json::to_vec(claims).unwrap_or_default();
    let mut out = String::with_capacity(512);
    URL_SAFE_NO_PAD.encode_string(h, &mut out);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(c, &mut out);
    let sig = key.sign(out.as_bytes());
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(sig.to_bytes(), &mut out);
    out
}

/// One public key in a JWK set: `OKP` / `Ed25519` (RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jwk {
    /// Always `OKP`.
    pub kty: String,
    /// Always `Ed25519`.
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    /// Its id, the RFC 7638 thumbprint.
    pub kid: String,
    /// Always `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Always `sig`.
    #[serde(default, rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

impl Jwk {
    /// The JWK of a verifying key, with its thumbprint as `kid`.
    pub fn from_key(key: &VerifyingKey) -> Self {
        let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
        Self {
            kid: thumbprint(key),
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x,
            alg: Some("EdDSA".into()),
            use_: Some("sig".into()),
        }
    }

    /// The verifying key, if this is a well-formed Ed25519 JWK.
    pub fn key(&self) -> Result<VerifyingKey, Error> {
        if self.kty != "OKP" || self.crv != "Ed25519" {
            return Err(Error::new(ErrorKind::UnsupportedAlgorithm, "JWK is not OKP/Ed25519"));
        }
        let bytes: [u8; 32] =
            b64(&self.x, "JWK x is not base64url")?.try_into().map_err(|_| malformed("JWK x must be 32 bytes"))?;
        VerifyingKey::from_bytes(&bytes).map_err(|_| malformed("JWK x is not an Ed25519 point"))
    }
}

/// The RFC 7638 thumbprint of an Ed25519 key: base64url of the SHA-256 of
/// `{"crv":"Ed25519","kty":"OKP","x":"..."}`.
pub fn thumbprint(key: &VerifyingKey) -> String {
    let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// A JWK set, as served at `/.well-known/jwks.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

impl KeySource for Jwks {
    fn key(&self, kid: &str) -> Option<VerifyingKey> {
        self.keys.iter().find(|k| k.kid == kid).and_then(|k| k.key().ok())
    }
}

impl KeySource for VerifyingKey {
    fn key(&self, kid: &str) -> Option<VerifyingKey> {
        (thumbprint(self) == kid).then_some(*self)
    }
}

#[cfg(all(test, feature = "sign"))]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn claims() -> Verdict {
        Verdict {
            iss: "oculto".into(),
            sub: "site_a".into(),
            jti: "j1".into(),
            sid: "co_1".into(),
            iat: 1000,
            exp: 1300,
            score: 12,
            cls: Classification::Human,
            hostname: "example.com".into(),
            action: Some("login".into()),
            cdata: None,
        }
    }

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    #[test]
    fn round_trip_through_jwks() {
        let k = key(1);
        let kid = thumbprint(&k.verifying_key());
        let t = sign(&claims(), &kid, &k);
        let jwks = Jwks { keys: vec![Jwk::from_key(&k.verifying_key())] };
        let jwks: Jwks = serde_json::from_str(&serde_json::to_string(&jwks).unwrap()).unwrap();
        assert_eq!(verify(&t, &jwks, 1100), Ok(claims()));
    }

    #[test]
    fn refuses_expiry_tampering_and_foreign_keys() {
        let k = key(1);
        let kid = thumbprint(&k.verifying_key());
        let t = sign(&claims(), &kid, &k);
        let vk = k.verifying_key();
        assert_eq!(verify(&t, &vk, 1300).unwrap_err().kind(), ErrorKind::Expired);

        let mut c = claims();
        c.score = 0;
        let forged_claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap());
        let parts: Vec<&str> = t.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], forged_claims, parts[2]);
        assert_eq!(verify(&forged, &vk, 1100).unwrap_err().kind(), ErrorKind::BadSignature);

        let other = key(2);
        let t2 = sign(&claims(), &kid, &other);
        assert_eq!(verify(&t2, &vk, 1100).unwrap_err().kind(), ErrorKind::BadSignature);
        let t3 = sign(&claims(), &thumbprint(&other.verifying_key()), &other);
        assert_eq!(verify(&t3, &vk, 1100).unwrap_err().kind(), ErrorKind::UnknownKey);
    }

    #[test]
    fn refuses_alg_none_and_extra_header_fields() {
        let k = key(1);
        let vk = k.verifying_key();
        let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims()).unwrap());
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"x"}"#);
        assert_eq!(verify(&format!("{none}.{c}."), &vk, 1100).unwrap_err().kind(), ErrorKind::UnsupportedAlgorithm);
        let none_sig = format!("{none}.{c}.{}", URL_SAFE_NO_PAD.encode([0u8; 64]));
        assert_eq!(verify(&none_sig, &vk, 1100).unwrap_err().kind(), ErrorKind::UnsupportedAlgorithm);
        let crit = URL_SAFE_NO_PAD.encode(br#"{"alg":"EdDSA","typ":"JWT","kid":"x","crit":["b64"]}"#);
        let crit_t = format!("{crit}.{c}.{}", URL_SAFE_NO_PAD.encode([0u8; 64]));
        assert_eq!(verify(&crit_t, &vk, 1100).unwrap_err().kind(), ErrorKind::Malformed);
    }

    #[test]
    fn refuses_non_canonical_base64_and_extra_parts() {
        let k = key(1);
        let kid = thumbprint(&k.verifying_key());
        let t = sign(&claims(), &kid, &k);
        let vk = k.verifying_key();
        assert!(verify(&format!("{t}="), &vk, 1100).is_err());
        assert!(verify(&format!("{t}.x"), &vk, 1100).is_err());
        assert!(verify(&t[..t.len() - 3], &vk, 1100).is_err());
    }

    #[test]
    fn thumbprint_matches_rfc8037_example() {
        // RFC 8037 appendix A.3.
        let x = URL_SAFE_NO_PAD.decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
        let vk = VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
        assert_eq!(thumbprint(&vk), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }
}
