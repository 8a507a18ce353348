//! Sessions: opened by `/init` with a proof of work challenge, scored once by
//! `/score` into a signed verdict, or into a step-up challenge first.
//!
//! # Step-up
//!
//! When the site's policy asks for one (`always`, or `suspicious` and the
//! score is in the suspicious band or the proof of work ran over the
//! widget's budget), `/score` stores the would-be verdict with a challenge
//! ([`PendingVerdict`]) and answers `step_up`. Each answer then takes the
//! challenge: right lowers the score by `challenge.right_bonus`; wrong raises
//! it by `challenge.wrong_penalty` and, while attempts are left, answers with
//! a new challenge; the last wrong answer gets the verdict anyway (phantom
//! success: the backend sees the score).

use oculto_shared::api::{
    Classification, ErrorCode, InitRequest, InitResponse, ScoreRequest, ScoreResponse, StepUp, StepUpAnswer,
};
use oculto_shared::pow::{PowChallenge, Prefix, ALGORITHM};
use oculto_shared::token::Verdict;
use oculto_shared::SESSION_PREFIX;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::captcha::{self, Answered};
use crate::challenge::{captchetat_spec, Lang};
use crate::error::ApiError;
use crate::score::{self, Evidence, PowOutcome};
use crate::sites::{hostname_of, normalize_origin, test_keys};
use crate::store::{ClaimError, PendingVerdict, SessionRecord, StepUpPolicy, VerdictRecord};
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
        let site_extra = if state.limits.site_flooded(&state.store, site_key).await? { pow.flood_extra / 2 } else { 0 };
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

/// Scores a session once and signs the verdict, or answers a step-up
/// challenge first. Whatever the score, the answer has the same shape: a bot
/// is never told it failed.
pub async fn score(state: &State, req: ScoreRequest, origin: Option<&str>) -> Result<ScoreResponse, ApiError> {
    if req.session_id.is_empty() {
        return Err(ApiError::bad_request("session_id is required"));
    }
    if let Some(answer) = req.answer {
        return answer_step_up(state, &req.session_id, answer, req.binding_secret.as_deref(), origin).await;
    }
    req.signals.validate().map_err(|e| ApiError::new(ErrorCode::InvalidSignals, format!("signals: {e}")))?;
    let now_ms = clock::now_ms();
    // The origin is checked before the session is claimed, so a request
    // from elsewhere cannot burn a session it does not own.
    let peeked = state.store.peek_session(&req.session_id).await?;
    let peeked = peeked.ok_or_else(|| ApiError::new(ErrorCode::SessionNotFound, "no such session"))?;
    check_origin(state, &peeked.site_key, &peeked.hostname, origin)?;
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
    let forced = test_keys::site(&session.site_key);
    if let Some(forced) = forced {
        result = score::Score { value: forced.score(), reasons: Vec::new() };
    }
    let pending = PendingVerdict {
        session_id: session.id,
        binding: session.binding,
        hostname: session.hostname,
        action: session.action,
        cdata: session.cdata,
        score: result.value,
        reasons: result.codes(),
        attempts_left: state.config.challenge.attempts,
        refreshes_left: state.config.challenge.refreshes,
    };
    let policy = match forced {
        Some(_) => StepUpPolicy::Never,
        None => state.sites.by_site_key(&session.site_key).map(|s| s.step_up).unwrap_or_default(),
    };
    let wants_step_up = match policy {
        StepUpPolicy::Never => false,
        StepUpPolicy::Always => true,
        StepUpPolicy::Suspicious => {
            Classification::from_score(result.value) == Classification::Suspicious || pow == PowOutcome::GaveUp
        }
    };
    if wants_step_up {
        return step_up(state, session.site_key, pending).await;
    }
    sign(state, session.site_key, pending).await
}

/// Refuses a page whose origin is not the session's.
fn check_origin(state: &State, site_key: &str, hostname: &str, origin: Option<&str>) -> Result<(), ApiError> {
    let from = allowed_hostname(state, site_key, origin)?;
    if test_keys::site(site_key).is_none() && from != hostname {
        return Err(origin_refused("the session was opened from another origin"));
    }
    Ok(())
}

/// Makes a challenge for a pending verdict and answers with it.
async fn step_up(state: &State, site_key: String, pending: PendingVerdict) -> Result<ScoreResponse, ApiError> {
    let name = format!("{}EN", state.config.challenge.step_up_type);
    let (spec, _) = captchetat_spec(&name)
        .ok_or_else(|| ApiError::new(ErrorCode::Internal, "challenge.step_up_type is not a CaptchEtat type"))?;
    let (attempts_left, refreshes_left) = (pending.attempts_left, pending.refreshes_left);
    let made = captcha::make_text(state, spec, Lang::En, Some(site_key), Some(pending)).await?;
    let id = &made.record.id;
    let step_up = StepUp {
        challenge_id: id.clone(),
        kind: "image".into(),
        image: Some(made.data_url()),
        audio: Some(oculto_shared::api::routes::CHALLENGE_AUDIO.replace("{id}", id)),
        prompt: "Type the characters you see in the image, or play the audio and type what you hear.".into(),
        length: u8::try_from(made.record.answer.len()).unwrap_or(u8::MAX),
        attempts_left,
        refreshes_left,
        expires_at: made.record.expires_at,
    };
    Ok(ScoreResponse { verdict: None, expires_at: None, step_up: Some(step_up) })
}

/// Takes a step-up answer (or a refresh) for a session.
async fn answer_step_up(
    state: &State,
    session_id: &str,
    answer: StepUpAnswer,
    binding_secret: Option<&str>,
    origin: Option<&str>,
) -> Result<ScoreResponse, ApiError> {
    if answer.code.len() > 64 {
        return Err(ApiError::bad_request("answer.code must be at most 64 bytes"));
    }
    let not_found = || ApiError::new(ErrorCode::ChallengeNotFound, "no such challenge for this session");
    // Checked on the stored challenge before it is taken, so that nobody
    // but the session's page can use it up.
    let peeked = if captcha::plausible_id(&answer.challenge_id) {
        state.store.peek_challenge(&answer.challenge_id).await?
    } else {
        None
    };
    let peeked = peeked.ok_or_else(not_found)?;
    let (Some(site_key), Some(pending)) = (peeked.site_key.as_deref(), peeked.step_up.as_ref()) else {
        return Err(not_found());
    };
    if pending.session_id != session_id || !binding_matches(pending.binding.as_deref(), binding_secret) {
        return Err(not_found());
    }
    check_origin(state, site_key, &pending.hostname, origin)?;
    if answer.refresh && pending.refreshes_left == 0 {
        return Err(ApiError::bad_request("no new challenges left for this session: answer this one"));
    }
    let taken = captcha::answer(state, &answer.challenge_id, &answer.code, |c| c.id == peeked.id).await?;
    let (record, right) = match taken {
        Answered::Gone => return Err(not_found()),
        Answered::Expired => {
            return Err(ApiError::new(ErrorCode::ChallengeExpired, "this challenge expired; start a new session"))
        }
        Answered::Checked { record, right } => (record, right),
    };
    let record = *record;
    let (Some(site_key), Some(mut pending)) = (record.site_key, record.step_up) else { return Err(not_found()) };
    let rules = &state.config.challenge;
    if answer.refresh {
        pending.refreshes_left -= 1;
        return step_up(state, site_key, pending).await;
    }
    if right {
        pending.score = pending.score.saturating_sub(rules.right_bonus);
        pending.reasons.push("step_up_passed".into());
        return sign(state, site_key, pending).await;
    }
    pending.score = pending.score.saturating_add(rules.wrong_penalty).min(100);
    pending.attempts_left = pending.attempts_left.saturating_sub(1);
    if !pending.reasons.iter().any(|r| r == "step_up_wrong") {
        pending.reasons.push("step_up_wrong".into());
    }
    if pending.attempts_left > 0 {
        return step_up(state, site_key, pending).await;
    }
    pending.reasons.push("step_up_failed".into());
    sign(state, site_key, pending).await
}

/// Signs the verdict of a session and remembers it for `/verify`.
async fn sign(state: &State, site_key: String, v: PendingVerdict) -> Result<ScoreResponse, ApiError> {
    let (token, exp) = issue(state, site_key, v).await?;
    Ok(ScoreResponse { verdict: Some(token), expires_at: Some(exp), step_up: None })
}

/// Signs a verdict token for `v` and records its score and reasons for
/// `/verify`; returns the token and its expiry. Shared with the
/// generate/validate API.
pub(crate) async fn issue(state: &State, site_key: String, v: PendingVerdict) -> Result<(String, u64), ApiError> {
    let now = clock::now_secs();
    let exp = now + state.config.token_ttl_secs;
    let claims = Verdict {
        iss: state.config.issuer.clone(),
        sub: site_key.clone(),
        jti: random::ordered_id(""),
        sid: v.session_id.clone(),
        iat: now,
        exp,
        score: v.score,
        cls: Classification::from_score(v.score),
        hostname: v.hostname,
        action: v.action,
        cdata: v.cdata,
    };
    let token = state.keys.get().sign(&claims);
    let cls = claims.cls;
    let record = VerdictRecord {
        session_id: v.session_id,
        site_key,
        score: v.score,
        reasons: v.reasons,
        purge_after: exp + 120,
    };
    state.store.record_verdict(record, now).await?;
    crate::metrics::verdict_issued(cls);
    Ok((token, exp))
}

#[cfg(test)]
mod tests {
    use oculto_shared::token::{self, MAX_TOKEN_LEN};
    use oculto_shared::{SESSION_PREFIX, SITE_KEY_PREFIX};

    use super::*;
    use crate::config::MAX_ISSUER;
    use crate::keys::{self, KeySet};
    use crate::sites::MAX_HOST;

    /// Issue 6 (fuzzing): every verdict the verifier can sign must be one
    /// that `/verify` and `token::verify` accept. The longest one takes every
    /// field at its bound, with the characters JSON escapes the longest.
    #[test]
    fn the_longest_verdict_fits_in_a_token() {
        let keys = KeySet::from_records(&[keys::generate(1)], 300, 1).expect("an active key");
        let claims = Verdict {
            iss: "\"".repeat(MAX_ISSUER),
            sub: format!("{SITE_KEY_PREFIX}{}", "k".repeat(64)),
            jti: random::ordered_id(""),
            sid: random::ordered_id(SESSION_PREFIX),
            iat: u64::MAX - 1000,
            exp: u64::MAX,
            score: 100,
            cls: Classification::Suspicious,
            hostname: "h".repeat(MAX_HOST),
            action: Some("a".repeat(MAX_ACTION)),
            cdata: Some("\u{1}".repeat(MAX_CDATA)),
        };
        let t = keys.sign(&claims);
        assert!(t.len() <= MAX_TOKEN_LEN, "{} bytes", t.len());
        assert_eq!(token::verify(&t, &keys, u64::MAX - 1000), Ok(claims));
    }
}
