//! Sessions: opened by `/init` with a proof of work challenge, scored once by
//! `/score` into a signed verdict.

use oculto_shared::api::{Classification, ErrorCode, InitRequest, InitResponse, ScoreRequest, ScoreResponse};
use oculto_shared::pow::{PowChallenge, Prefix, ALGORITHM};
use oculto_shared::token::Verdict;
use oculto_shared::SESSION_PREFIX;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::score::{self, Evidence, PowOutcome};
use crate::sites::{hostname_of, normalize_origin, test_keys};
use crate::store::{ClaimError, SessionRecord, VerdictRecord};
use crate::{clock, random, State};

/// Longest `action`.
const MAX_ACTION: usize = 32;
/// Longest `cdata`.
const MAX_CDATA: usize = 255;

fn check_fields(req: &InitRequest) -> Result<(), ApiError> {
    if let Some(a) = &req.action {
        let ok = !a.is_empty()
            && a.len() <= MAX_ACTION
            && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(ApiError::bad_request("action must be 1-32 letters, digits, '_' or '-'"));
        }
    }
    if req.cdata.as_ref().is_some_and(|c| c.len() > MAX_CDATA) {
        return Err(ApiError::bad_request("cdata must be at most 255 bytes"));
    }
    if req.binding.as_ref().is_some_and(|b| b.len() != 64 || !b.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')))
    {
        return Err(ApiError::bad_request("binding must be 64 lowercase hex digits (a SHA-256)"));
    }
    Ok(())
}

fn origin_refused(why: &'static str) -> ApiError {
    ApiError::new(ErrorCode::OriginNotAllowed, why)
}

/// The hostname a session opened from `origin` gets, if the site allows it.
fn allowed_hostname(state: &State, site_key: &str, origin: Option<&str>) -> Result<String, ApiError> {
    let origin = origin.and_then(normalize_origin);
    if test_keys::site(site_key).is_some() {
        // Test keys work from any page, like Turnstile's.
        return Ok(origin.map(|o| hostname_of(&o)).unwrap_or_default());
    }
    let site = state
        .sites
        .by_site_key(site_key)
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidSiteKey, "unknown site key"))?;
    let origin = origin.ok_or_else(|| origin_refused("the Origin header is missing or is not an http(s) origin"))?;
    if !site.origins.contains(&origin) {
        return Err(origin_refused("this origin is not registered for the site key"));
    }
    Ok(hostname_of(&origin))
}

/// Whether `secret` is the preimage of the session's binding (always, for a
/// session opened without one).
fn binding_matches(binding: Option<&str>, secret: Option<&str>) -> bool {
    let Some(binding) = binding else { return true };
    let Some(secret) = secret else { return false };
    let digest = hex::encode(Sha256::digest(secret.as_bytes()));
    bool::from(digest.as_bytes().ct_eq(binding.as_bytes()))
}

/// Opens a session for a page at `origin`.
pub async fn open(
    state: &State,
    req: InitRequest,
    origin: Option<&str>,
    flooded: bool,
) -> Result<InitResponse, ApiError> {
    let site_key = req.site_key.trim();
    if site_key.is_empty() {
        return Err(ApiError::new(ErrorCode::SiteKeyRequired, "site_key is required"));
    }
    check_fields(&req)?;
    let hostname = allowed_hostname(state, site_key, origin)?;
    let pow = &state.config.pow;
    let difficulty = if test_keys::site(site_key).is_some() {
        1
    } else {
        let site_extra = if state.limits.site_flooded(site_key) { pow.flood_extra / 2 } else { 0 };
        let ip_extra = if flooded { pow.flood_extra } else { 0 };
        pow.difficulty + ip_extra.max(site_extra)
    };
    let created_ms = clock::now_ms();
    let expires_at = created_ms / 1000 + state.config.session_ttl_secs;
    let session = SessionRecord {
        id: random::ordered_id(SESSION_PREFIX),
        site_key: site_key.to_owned(),
        salt: random::hex128(),
        difficulty,
        created_ms,
        expires_at,
        hostname,
        action: req.action,
        cdata: req.cdata,
        flooded,
        binding: req.binding,
    };
    let challenge = PowChallenge { algorithm: ALGORITHM.into(), salt: session.salt.clone(), difficulty };
    let session_id = session.id.clone();
    let purge_after = expires_at + state.config.token_ttl_secs + 60;
    state.store.create_session(session, purge_after).await?;
    Ok(InitResponse { session_id, challenge, expires_at })
}

/// Scores a session once and signs the verdict. Whatever the score, the
/// answer has the same shape: a bot is never told it failed.
pub async fn score(state: &State, req: ScoreRequest, origin: Option<&str>) -> Result<ScoreResponse, ApiError> {
    if req.session_id.is_empty() {
        return Err(ApiError::bad_request("session_id is required"));
    }
    req.signals.validate().map_err(|e| ApiError::new(ErrorCode::InvalidSignals, format!("signals: {e}")))?;
    let now_ms = clock::now_ms();
    // The origin is checked before the session is claimed, so a request
    // from elsewhere cannot burn a session it does not own.
    let peeked = state.store.peek_session(&req.session_id).await?;
    let peeked = peeked.ok_or_else(|| ApiError::new(ErrorCode::SessionNotFound, "no such session"))?;
    let hostname = allowed_hostname(state, &peeked.site_key, origin)?;
    if test_keys::site(&peeked.site_key).is_none() && hostname != peeked.hostname {
        return Err(origin_refused("the session was opened from another origin"));
    }
    if !binding_matches(peeked.binding.as_deref(), req.binding_secret.as_deref()) {
        // Answered like an unknown session: whoever lacks the secret learns
        // nothing about it, and the session stays usable by its page.
        return Err(ApiError::new(ErrorCode::SessionNotFound, "no such session"));
    }
    let session = state.store.claim_session(&req.session_id, now_ms / 1000).await?.map_err(|e| match e {
        ClaimError::NotFound => ApiError::new(ErrorCode::SessionNotFound, "no such session"),
        ClaimError::Used => ApiError::new(ErrorCode::SessionUsed, "this session was already scored; start a new one"),
        ClaimError::Expired => ApiError::new(ErrorCode::SessionExpired, "this session expired; start a new one"),
    })?;
    let pow = match req.pow {
        None if req.pow_gave_up_ms.is_some() => PowOutcome::GaveUp,
        None => PowOutcome::Missing,
        Some(p) if Prefix::new(&session.id, &session.site_key, &session.salt).check(p.nonce, session.difficulty) => {
            PowOutcome::Solved
        }
        Some(_) => PowOutcome::Wrong,
    };
    let evidence = Evidence {
        signals: &req.signals,
        pow,
        server_elapsed_ms: now_ms.saturating_sub(session.created_ms),
        difficulty: session.difficulty,
        flooded: session.flooded,
    };
    let mut result = score::score(&evidence);
    if let Some(forced) = test_keys::site(&session.site_key) {
        result = score::Score { value: forced.score(), reasons: Vec::new() };
    }
    let now = now_ms / 1000;
    let exp = now + state.config.token_ttl_secs;
    let claims = Verdict {
        iss: state.config.issuer.clone(),
        sub: session.site_key.clone(),
        jti: random::ordered_id(""),
        sid: session.id.clone(),
        iat: now,
        exp,
        score: result.value,
        cls: Classification::from_score(result.value),
        hostname: session.hostname,
        action: session.action,
        cdata: session.cdata,
    };
    let token = state.keys.get().sign(&claims);
    let record = VerdictRecord {
        session_id: session.id,
        site_key: session.site_key,
        score: result.value,
        reasons: result.codes(),
        purge_after: exp + 120,
    };
    state.store.record_verdict(record, now).await?;
    Ok(ScoreResponse { verdict: Some(token), expires_at: Some(exp), step_up: None })
}
