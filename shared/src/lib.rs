//! The contract between Oculto's widget, its verifier and the backends of the
//! sites that use it.
//!
//! # Brief overview
//!
//! A browser runs the widget. The widget asks the verifier for a session
//! ([`api::InitRequest`] → [`api::InitResponse`]), which carries a proof of
//! work challenge ([`pow::PowChallenge`]). While the person fills the form the
//! widget gathers behavioural [`signals::Signals`] (timings and movements,
//! never what was typed) and solves the proof of work. It then posts both
//! ([`api::ScoreRequest`]); the verifier scores the session from 0 (human) to
//! 100 (bot) and answers with a verdict token ([`token`]): a compact JWS signed
//! with the verifier's ed25519 key. The widget puts the token in the form; the
//! site's backend posts it to the verifier's `/verify`
//! ([`api::VerifyRequest`] → [`api::VerifyResponse`]), which checks it and
//! enforces single use.
//!
//! Everything that crosses the wire is defined here once, so the widget (built
//! for `wasm32-unknown-unknown`) and the verifier cannot disagree. This crate
//! has no HTTP server, no async runtime and no I/O.
//!
//! # Checking a verdict offline
//!
//! A backend written in Rust can check a verdict's signature and expiry
//! without calling the verifier, against the JWK set the verifier publishes at
//! `/.well-known/jwks.json`:
//!
//! ```
//! # fn main() -> Result<(), oculto_shared::Error> {
//! use oculto_shared::token::{self, Jwks};
//! let jwks: Jwks = serde_json::from_str(r#"{"keys":[]}"#).unwrap();
//! let token = "eyJ...";
//! let now = 1_700_000_000;
//! // An unknown kid, a bad signature or an expired token are all errors.
//! assert!(token::verify(token, &jwks, now).is_err());
//! # Ok(()) }
//! ```
//!
//! Offline checks cannot enforce single use; only the verifier's `/verify`
//! can, because only it knows which tokens were already accepted.
#![deny(missing_docs)]

pub mod api;
mod error;
pub mod pow;
pub mod signals;
pub mod token;

pub use error::{Error, ErrorKind};

/// The default lifetime of a verdict token, in seconds.
pub const TOKEN_TTL_SECS: u64 = 300;

/// The default name of the hidden form field that carries the verdict.
pub const FORM_FIELD: &str = "_co_verdict";

/// Prefix of every session id.
pub const SESSION_PREFIX: &str = "co_";

/// Prefix of every API key (the site's secret).
pub const API_KEY_PREFIX: &str = "ak_";

/// Prefix of every site key (the public key of a site, found in its pages).
pub const SITE_KEY_PREFIX: &str = "site_";
