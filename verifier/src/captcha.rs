//! Challenges with state: made and stored, shown as an image or spoken,
//! answered once. Shared by the widget's step-up (`session`), the
//! CaptchEtat-style endpoints and the generate/validate API (`compat`).
//!
//! The answer is stored with the challenge and never leaves the verifier:
//! what goes out is a PNG, a WAV or a math question. Every answer, right or
//! wrong, takes the challenge out of the store, so it cannot be tried twice.

use base64::Engine as _;
use rand::rngs::ThreadRng;

use crate::challenge::{self, audio, image, Check, Lang, Spec};
use crate::error::ApiError;
use crate::store::{ChallengeRecord, PendingVerdict};
use crate::{clock, random, State};

/// The prefix of challenge ids.
pub const CHALLENGE_PREFIX: &str = "ch_";

/// A text challenge made and stored: its record and its image.
pub struct Made {
    /// As stored.
    pub record: ChallengeRecord,
    /// The PNG.
    pub png: Vec<u8>,
}

impl Made {
    /// The image as a `data:` URL, for JSON answers.
    pub fn data_url(&self) -> String {
        format!("data:image/png;base64,{}", base64::engine::general_purpose::STANDARD.encode(&self.png))
    }
}

/// Makes a text challenge of `spec`, renders its image and stores it for
/// `challenge.ttl_secs`.
pub async fn make_text(
    state: &State,
    spec: Spec,
    lang: Lang,
    site_key: Option<String>,
    step_up: Option<PendingVerdict>,
) -> Result<Made, ApiError> {
    let mut rng = rand::rng();
    let answer = challenge::answer(spec, &mut rng);
    let png = image::render(&answer, spec.light, &mut rng);
    let record = ChallengeRecord {
        id: random::ordered_id(CHALLENGE_PREFIX),
        site_key,
        answer,
        check: Check::Text(spec.kind),
        lang,
        expires_at: clock::now_secs() + state.config.challenge.ttl_secs,
        step_up,
    };
    state.store.put_challenge(record.clone()).await?;
    Ok(Made { record, png })
}

/// Makes and stores a math challenge for a site; returns it and its
/// question.
pub async fn make_math(state: &State, site_key: String) -> Result<(ChallengeRecord, String), ApiError> {
    let (question, answer) = challenge::math(&mut rand::rng());
    let record = ChallengeRecord {
        id: random::ordered_id(CHALLENGE_PREFIX),
        site_key: Some(site_key),
        answer: answer.to_string(),
        check: Check::Number,
        lang: Lang::En,
        expires_at: clock::now_secs() + state.config.challenge.ttl_secs,
        step_up: None,
    };
    state.store.put_challenge(record.clone()).await?;
    Ok((record, question))
}

/// Whether an id could be one of ours (the prefix, then base64url); anything
/// else is not looked up.
pub fn plausible_id(id: &str) -> bool {
    id.len() <= 64
        && id.starts_with(CHALLENGE_PREFIX)
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn not_found() -> ApiError {
    ApiError::new(oculto_shared::api::ErrorCode::ChallengeNotFound, "no such challenge")
}

/// The spoken alternative of a live text challenge, as a WAV file, in
/// `lang` or the challenge's own language.
pub async fn audio(state: &State, id: &str, lang: Option<Lang>) -> Result<Vec<u8>, ApiError> {
    if !plausible_id(id) {
        return Err(not_found());
    }
    let record = state.store.peek_challenge(id).await?.ok_or_else(not_found)?;
    if record.expires_at <= clock::now_secs() || !matches!(record.check, Check::Text(_)) {
        return Err(not_found());
    }
    let mut rng: ThreadRng = rand::rng();
    Ok(audio::render(&record.answer, lang.unwrap_or(record.lang), &mut rng))
}

/// What came of answering a challenge.
pub enum Answered {
    /// No such challenge, or used before.
    Gone,
    /// Past its expiry (and now removed).
    Expired,
    /// The challenge, now used up, and whether the answer was right.
    Checked {
        /// The challenge as it was stored.
        record: Box<ChallengeRecord>,
        /// Whether the answer matched.
        right: bool,
    },
}

/// Takes a challenge out of the store (if `owned` accepts it as peeked) and
/// checks `input` against it. A challenge that `owned` refuses is left
/// alone, so nobody can burn another's challenge.
pub async fn answer(
    state: &State,
    id: &str,
    input: &str,
    owned: impl Fn(&ChallengeRecord) -> bool,
) -> Result<Answered, ApiError> {
    if !plausible_id(id) {
        return Ok(Answered::Gone);
    }
    match state.store.peek_challenge(id).await? {
        Some(peeked) if owned(&peeked) => {}
        _ => return Ok(Answered::Gone),
    }
    let Some(record) = state.store.take_challenge(id).await? else { return Ok(Answered::Gone) };
    if record.expires_at <= clock::now_secs() {
        return Ok(Answered::Expired);
    }
    let right = record.check.matches(&record.answer, input);
    Ok(Answered::Checked { record: Box::new(record), right })
}
