//! Checking a verdict token for a site's backend: API key, signature, expiry,
//! site, then single use. Shared by `/verify` and the Turnstile-compatible
//! `/siteverify`, which only word their refusals differently.

use oculto_shared::api::{Classification, ErrorCode, VerifyResponse};
use oculto_shared::token::{self, Verdict};
use oculto_shared::{Error, ErrorKind};

use crate::error::ApiError;
use crate::sites::test_keys::{self, Behaviour};
use crate::store::{Consumed, Consumption, StoreError};
use crate::{clock, keys, State};

/// Longest idempotency key.
const MAX_IDEMPOTENCY_KEY: usize = 128;

/// Why a token was not accepted.
#[derive(Debug)]
pub enum Refusal {
    /// No token.
    TokenRequired,
    /// No API key.
    ApiKeyRequired,
    /// Unknown API key.
    InvalidApiKey,
    /// Bad idempotency key.
    BadRequest(&'static str),
    /// Malformed, badly signed, expired or of another site.
    InvalidToken {
        /// For people.
        why: &'static str,
        /// Expired (Turnstile words that `timeout-or-duplicate`).
        expired: bool,
    },
    /// Accepted before.
    AlreadyVerified,
    /// The store cannot say whether the token was used: never "valid".
    Store(StoreError),
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::TokenRequired => ApiError::new(ErrorCode::TokenRequired, "token is required"),
            Refusal::ApiKeyRequired => {
                ApiError::new(ErrorCode::ApiKeyRequired, "api_key is required (in the body or the X-API-Key header)")
            }
            Refusal::InvalidApiKey => ApiError::new(ErrorCode::InvalidApiKey, "unknown API key"),
            Refusal::BadRequest(why) => ApiError::bad_request(why),
            Refusal::InvalidToken { why, .. } => ApiError::new(ErrorCode::InvalidToken, why),
            Refusal::AlreadyVerified => ApiError::new(ErrorCode::AlreadyVerified, "this token was already verified"),
            Refusal::Store(e) => e.into(),
        }
    }
}

impl Refusal {
    /// Turnstile's error code for this refusal.
    pub fn turnstile_code(&self) -> &'static str {
        match self {
            Refusal::TokenRequired => "missing-input-response",
            Refusal::ApiKeyRequired => "missing-input-secret",
            Refusal::InvalidApiKey => "invalid-input-secret",
            Refusal::BadRequest(_) => "bad-request",
            Refusal::InvalidToken { expired: true, .. } | Refusal::AlreadyVerified => "timeout-or-duplicate",
            Refusal::InvalidToken { .. } => "invalid-input-response",
            Refusal::Store(_) => "internal-error",
        }
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn answer(claims: &Verdict, threshold: u8, reasons: Vec<String>) -> VerifyResponse {
    VerifyResponse {
        valid: claims.score <= threshold,
        score: claims.score,
        classification: claims.cls,
        threshold,
        session_id: claims.sid.clone(),
        hostname: claims.hostname.clone(),
        action: claims.action.clone(),
        cdata: claims.cdata.clone(),
        challenge_ts: clock::rfc3339(claims.iat),
        reasons,
    }
}

/// What a test API key answers: any non-empty token, with the forced score.
fn test_answer(b: Behaviour, token: &str) -> Result<VerifyResponse, Refusal> {
    if b == Behaviour::Spent {
        return Err(Refusal::AlreadyVerified);
    }
    let now = clock::now_secs();
    let decoded = token::decode(token).ok().map(|p| p.claims);
    let score = b.score();
    let claims = Verdict {
        iss: "oculto-test".into(),
        sub: decoded.as_ref().map_or_else(|| "site_test".into(), |c| c.sub.clone()),
        jti: String::new(),
        sid: decoded.as_ref().map_or_else(|| "co_test".into(), |c| c.sid.clone()),
        iat: decoded.as_ref().map_or(now, |c| c.iat),
        exp: now,
        score,
        cls: Classification::from_score(score),
        hostname: decoded.as_ref().map_or_else(|| "localhost".into(), |c| c.hostname.clone()),
        action: decoded.as_ref().and_then(|c| c.action.clone()),
        cdata: decoded.and_then(|c| c.cdata),
    };
    let reasons = if score > 0 { vec!["test_key".to_owned()] } else { Vec::new() };
    Ok(answer(&claims, 50, reasons))
}

/// `token::verify`, but with the signature checked in a batch by
/// [`keys::verify_signature`]: the key lookup, the errors and the time checks
/// are `shared`'s own.
async fn verify_token(state: &State, token: &str, now: u64) -> Result<Verdict, Error> {
    let parts = token::decode(token)?;
    let key = parts.key(&*state.keys.get())?;
    let signed = keys::verify_signature(key, parts.signing_input.as_bytes(), parts.signature).await;
    parts.accept(signed, now)
}

/// Checks a token for the site that owns `api_key`, and accepts it once.
pub async fn check(
    state: &State,
    token: Option<&str>,
    api_key: Option<&str>,
    idempotency_key: Option<&str>,
) -> Result<VerifyResponse, Refusal> {
    let token = non_empty(token).ok_or(Refusal::TokenRequired)?;
    let api_key = non_empty(api_key).ok_or(Refusal::ApiKeyRequired)?;
    if let Some(b) = test_keys::secret(api_key) {
        return test_answer(b, token);
    }
    let site = state.sites.by_api_key(api_key).ok_or(Refusal::InvalidApiKey)?;
    let idempotency_key = non_empty(idempotency_key);
    if idempotency_key.is_some_and(|k| k.len() > MAX_IDEMPOTENCY_KEY) {
        return Err(Refusal::BadRequest("idempotency_key must be at most 128 bytes"));
    }
    let now = clock::now_secs();
    let claims = verify_token(state, token, now)
        .await
        .map_err(|e| Refusal::InvalidToken { why: e.detail(), expired: e.kind() == ErrorKind::Expired })?;
    if claims.sub != site.site_key {
        return Err(Refusal::InvalidToken { why: "token was made for another site", expired: false });
    }
    let consumption = Consumption {
        jti: claims.jti.clone(),
        site_key: site.site_key.clone(),
        exp: claims.exp,
        idempotency_key: idempotency_key.map(str::to_owned),
        session_id: claims.sid.clone(),
        score: claims.score,
        classification: claims.cls,
        hostname: claims.hostname.clone(),
        action: claims.action.clone(),
        now,
    };
    match state.store.consume(consumption).await.map_err(Refusal::Store)? {
        Consumed::First { reasons } | Consumed::Retry { reasons } => Ok(answer(&claims, site.threshold, reasons)),
        Consumed::Replay => {
            crate::metrics::replay_refused();
            Err(Refusal::AlreadyVerified)
        }
    }
}
