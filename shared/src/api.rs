//! Requests, responses, error codes and route paths of the verifier's HTTP
//! API. The table in the README describes the same endpoints in words.

use serde::{Deserialize, Serialize};

use crate::pow::{PowChallenge, PowSolution};
use crate::signals::Signals;

/// Route paths: one source of truth for the widget, the verifier and tests.
pub mod routes {
    /// Widget: opens a session.
    pub const INIT: &str = "/init";
    /// Widget: sends signals and the proof of work, receives a verdict.
    pub const SCORE: &str = "/score";
    /// Backend: checks a verdict token once.
    pub const VERIFY: &str = "/verify";
    /// Backend: Cloudflare Turnstile-compatible check.
    pub const SITEVERIFY: &str = "/siteverify";
    /// Backend: statistics of a site.
    pub const STATS: &str = "/stats";
    /// Anyone: liveness and what store is in use.
    pub const HEALTH: &str = "/health";
    /// Anyone: public verdict keys.
    pub const JWKS: &str = "/.well-known/jwks.json";
    /// Widget: the spoken alternative of a step-up challenge,
    /// `/challenge/{id}/audio?lang=en|fr` (a WAV file).
    pub const CHALLENGE_AUDIO: &str = "/challenge/{id}/audio";
    /// CaptchEtat-compatible: `?get=image|sound&c=<type>`.
    pub const CAPTCHETAT: &str = "/simple-captcha-endpoint";
    /// CaptchEtat-compatible: checks `{uuid, code}` once.
    pub const CAPTCHETAT_VALIDATE: &str = "/valider-captcha";
    /// CaptchEtat-compatible health check.
    pub const HEALTHCHECK: &str = "/healthcheck";
    /// Generate/validate API: a new image or math captcha.
    pub const API_GENERATE: &str = "/api/generate";
    /// Generate/validate API: checks an answer once, gives a verdict token.
    pub const API_VALIDATE: &str = "/api/validate";
    /// Operators: Prometheus metrics (text format), unless turned off.
    pub const METRICS: &str = "/metrics";
    /// Anyone: the OpenAPI 3.1 description of every route here.
    pub const OPENAPI: &str = "/openapi.json";
    /// Pages: the built widget's files, `/widget/{file}`.
    pub const WIDGET_FILE: &str = "/widget/{file}";
}

/// The class of a score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Classification {
    /// 0-25.
    Human,
    /// 26-50.
    Suspicious,
    /// 51-100.
    Bot,
}

impl Classification {
    /// The class of a score: `human` 0-25, `suspicious` 26-50, `bot` 51-100.
    pub fn from_score(score: u8) -> Self {
        match score {
            0..=25 => Self::Human,
            26..=50 => Self::Suspicious,
            _ => Self::Bot,
        }
    }

    /// The lowercase name, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::Suspicious => "suspicious",
            Self::Bot => "bot",
        }
    }
}

/// A stable, machine-readable error code. The HTTP status that goes with each
/// is in the README's error table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: `/verify` without a token.
    TokenRequired,
    /// 400: `/verify` or `/stats` without an API key.
    ApiKeyRequired,
    /// 401: the API key is unknown.
    InvalidApiKey,
    /// 400: the token is malformed, badly signed, expired or of another site.
    InvalidToken,
    /// 409: the token was accepted before.
    AlreadyVerified,
    /// 400: `/init` without a site key.
    SiteKeyRequired,
    /// 400: the site key is unknown.
    InvalidSiteKey,
    /// 403: the page's origin is not registered for the site.
    OriginNotAllowed,
    /// 404: no such session (never issued, or purged).
    SessionNotFound,
    /// 400: the session expired before it was scored.
    SessionExpired,
    /// 409: the session was already scored.
    SessionUsed,
    /// 400: the signals payload is out of bounds.
    InvalidSignals,
    /// 404: no such step-up challenge (never issued, answered already, or
    /// of another session).
    ChallengeNotFound,
    /// 400: the step-up challenge expired; start again from `/init`.
    ChallengeExpired,
    /// 400: the request is not what the endpoint takes.
    BadRequest,
    /// 413: the body is larger than the limit.
    PayloadTooLarge,
    /// 415: the body's content type is not accepted here.
    UnsupportedMediaType,
    /// 404: no such route.
    NotFound,
    /// 405: the route exists with another method.
    MethodNotAllowed,
    /// 429: too many requests from this client; see `Retry-After`.
    RateLimited,
    /// 503: the store cannot be reached; retry later.
    StoreUnavailable,
    /// 500: a bug; details are in the verifier's log only.
    Internal,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: &'static [ErrorCode] = &[
        Self::TokenRequired,
        Self::ApiKeyRequired,
        Self::InvalidApiKey,
        Self::InvalidToken,
        Self::AlreadyVerified,
        Self::SiteKeyRequired,
        Self::InvalidSiteKey,
        Self::OriginNotAllowed,
        Self::SessionNotFound,
        Self::SessionExpired,
        Self::SessionUsed,
        Self::InvalidSignals,
        Self::ChallengeNotFound,
        Self::ChallengeExpired,
        Self::BadRequest,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::RateLimited,
        Self::StoreUnavailable,
        Self::Internal,
    ];

    /// The code as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenRequired => "token_required",
            Self::ApiKeyRequired => "api_key_required",
            Self::InvalidApiKey => "invalid_api_key",
            Self::InvalidToken => "invalid_token",
            Self::AlreadyVerified => "already_verified",
            Self::SiteKeyRequired => "site_key_required",
            Self::InvalidSiteKey => "invalid_site_key",
            Self::OriginNotAllowed => "origin_not_allowed",
            Self::SessionNotFound => "session_not_found",
            Self::SessionExpired => "session_expired",
            Self::SessionUsed => "session_used",
            Self::InvalidSignals => "invalid_signals",
            Self::ChallengeNotFound => "challenge_not_found",
            Self::ChallengeExpired => "challenge_expired",
            Self::BadRequest => "bad_request",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RateLimited => "rate_limited",
            Self::StoreUnavailable => "store_unavailable",
            Self::Internal => "internal",
        }
    }

    /// The code with this wire name. Lighter than a deserializer, for the
    /// widget.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == code)
    }
}

/// The body of every error answer: `{"error": "<code>", "message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// The stable code.
    pub error: ErrorCode,
    /// Human text; may change between versions.
    pub message: String,
}

/// `POST /init`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InitRequest {
    /// The site's public key, from the page.
    #[serde(default)]
    pub site_key: String,
    /// The action the page names (`login`, `signup`...): letters, digits,
    /// `_` and `-`, at most 32.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Customer data, returned to the backend as is: at most 255 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdata: Option<String>,
    /// Binds the session to the page that opens it: the lowercase hex
    /// SHA-256 of a random secret the page keeps. `/score` must then bring
    /// the secret ([`ScoreRequest::binding_secret`]), so a session id seen
    /// elsewhere cannot be scored by anyone else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<String>,
}

/// Answer to `POST /init`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InitResponse {
    /// The new session's id, `co_...`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^co_"))]
    pub session_id: String,
    /// The proof of work to solve before `/score`.
    pub challenge: PowChallenge,
    /// When the session expires unscored, seconds since the Unix epoch.
    pub expires_at: u64,
}

/// `POST /score`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScoreRequest {
    /// From [`InitResponse::session_id`].
    #[serde(default)]
    pub session_id: String,
    /// The proof of work solution; missing counts heavily against the score.
    #[serde(default)]
    pub pow: Option<PowSolution>,
    /// Set instead of `pow` when the widget stopped at its energy budget
    /// (a slow device, or bad luck): how long it tried, ms. The verifier
    /// then asks for a step-up rather than more hashing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pow_gave_up_ms: Option<u32>,
    /// What the widget observed.
    #[serde(default)]
    pub signals: Signals,
    /// The answer to a step-up challenge, when one was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<StepUpAnswer>,
    /// The secret whose hash was [`InitRequest::binding`], if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding_secret: Option<String>,
}

/// An answer to a step-up challenge, sent to `/score` with the session id
/// and binding secret (no proof of work: the session's was checked before).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepUpAnswer {
    /// From [`StepUp::challenge_id`].
    #[serde(default)]
    pub challenge_id: String,
    /// What the person read or heard.
    #[serde(default)]
    pub code: String,
    /// Asks for another challenge instead of answering this one (a few
    /// times per session; does not count as a wrong answer).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refresh: bool,
}

/// A step-up challenge the widget must show before a verdict is given.
///
/// Every answer (right or wrong) and every refresh uses the challenge up; a
/// wrong answer with attempts left is answered with a new one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StepUp {
    /// The challenge's id, `ch_...`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^ch_"))]
    pub challenge_id: String,
    /// `image`: type the characters in the image (or heard in the audio).
    pub kind: String,
    /// The image to draw: a `data:image/png;base64,...` URL of
    /// [`STEP_UP_WIDTH`] x [`STEP_UP_HEIGHT`] pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The path of the spoken alternative, relative to the verifier; add
    /// `?lang=en` or `?lang=fr`. Fetched only when the person asks for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<String>,
    /// What to do, in English, for people and screen readers (never the
    /// answer); the widget shows its own translation.
    pub prompt: String,
    /// How many characters the answer has.
    pub length: u8,
    /// Answers left for this session, this one included.
    pub attempts_left: u8,
    /// Refreshes left for this session.
    pub refreshes_left: u8,
    /// When the challenge expires, seconds since the Unix epoch.
    pub expires_at: u64,
}

/// Width of a step-up image, pixels.
pub const STEP_UP_WIDTH: u32 = 240;
/// Height of a step-up image, pixels.
pub const STEP_UP_HEIGHT: u32 = 80;

/// Answer to `POST /score`: either a verdict, or a step-up to show first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScoreResponse {
    /// The verdict token to put in the form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// When the verdict expires, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// A challenge to show before a verdict is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_up: Option<StepUp>,
}

/// `POST /verify`, as JSON or form-encoded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerifyRequest {
    /// The verdict token the form carried.
    #[serde(default)]
    pub token: Option<String>,
    /// The site's API key; the `X-API-Key` header works too.
    #[serde(default)]
    pub api_key: Option<String>,
    /// A key of the caller's choosing: a retry with the same key gets the
    /// first answer again instead of `already_verified`.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Answer to `POST /verify` for a genuine, unexpired, first-used token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerifyResponse {
    /// Whether the score is at or below the site's threshold: accept.
    pub valid: bool,
    /// 0 (human) to 100 (bot).
    #[cfg_attr(feature = "openapi", schema(maximum = 100))]
    pub score: u8,
    /// The class of the score.
    pub classification: Classification,
    /// The site's threshold.
    #[cfg_attr(feature = "openapi", schema(maximum = 100))]
    pub threshold: u8,
    /// The session the verdict was made for.
    #[cfg_attr(feature = "openapi", schema(pattern = "^co_"))]
    pub session_id: String,
    /// The hostname of the page.
    pub hostname: String,
    /// The page's action, if any.
    pub action: Option<String>,
    /// The page's customer data, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdata: Option<String>,
    /// When the verdict was made, RFC 3339.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub challenge_ts: String,
    /// Short codes of what raised the score (`webdriver`, `no_pointer`...).
    pub reasons: Vec<String>,
}

/// `POST /siteverify`, Turnstile's request shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteverifyRequest {
    /// The API key.
    #[serde(default)]
    pub secret: Option<String>,
    /// The verdict token.
    #[serde(default)]
    pub response: Option<String>,
    /// The visitor's IP, as the backend saw it (logged, not checked).
    #[serde(default)]
    pub remoteip: Option<String>,
    /// As in [`VerifyRequest::idempotency_key`].
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Answer to `POST /siteverify`, Turnstile's response shape, always 200.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteverifyResponse {
    /// Genuine, first use, and at or below the site's threshold.
    pub success: bool,
    /// Turnstile's codes: `missing-input-secret`, `invalid-input-secret`,
    /// `missing-input-response`, `invalid-input-response`, `bad-request`,
    /// `timeout-or-duplicate`, `internal-error`.
    #[serde(rename = "error-codes")]
    pub error_codes: Vec<String>,
    /// When the verdict was made, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub challenge_ts: Option<String>,
    /// The hostname of the page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The page's action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The page's customer data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdata: Option<String>,
    /// 0 (human) to 100 (bot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(maximum = 100))]
    pub score: Option<u8>,
    /// The class of the score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
}

/// Query of `GET /stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct StatsQuery {
    /// The API key (or the `X-API-Key` header).
    #[serde(default)]
    pub api_key: Option<String>,
    /// `summary` (default), `recent` or `distribution`.
    #[serde(default)]
    pub action: Option<String>,
    /// For `recent`: how many, at most 200, default 50.
    #[serde(default)]
    pub limit: Option<String>,
    /// For `distribution`: `YYYY-MM`, default the current month.
    #[serde(default)]
    pub month: Option<String>,
}

/// How verdicts that were verified are spread over the classes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Distribution {
    /// Verifications counted.
    pub total: u64,
    /// Of which human.
    pub human: u64,
    /// Of which suspicious.
    pub suspicious: u64,
    /// Of which bot.
    pub bot: u64,
    /// The mean score, 0 when there are none.
    pub avg_score: f64,
}

/// Counters of one month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageMonth {
    /// `YYYY-MM`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{4}-[0-9]{2}$"))]
    pub year_month: String,
    /// Sessions opened.
    pub total_inits: u64,
    /// Sessions scored.
    pub total_scores: u64,
    /// Tokens verified (first use).
    pub total_verifications: u64,
    /// Verified human.
    pub total_human: u64,
    /// Verified suspicious.
    pub total_suspicious: u64,
    /// Verified bot.
    pub total_bot: u64,
}

/// `GET /stats?action=summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsSummary {
    /// All verifications of the site.
    pub distribution: Distribution,
    /// Month by month, newest first.
    pub usage: Vec<UsageMonth>,
}

/// One verification, as listed by `GET /stats?action=recent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecentVerification {
    /// When it was verified, RFC 3339.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub verified_at: String,
    /// The session.
    #[cfg_attr(feature = "openapi", schema(pattern = "^co_"))]
    pub session_id: String,
    /// The score.
    #[cfg_attr(feature = "openapi", schema(maximum = 100))]
    pub score: u8,
    /// Its class.
    pub classification: Classification,
    /// The page's hostname.
    pub hostname: String,
    /// The page's action.
    pub action: Option<String>,
    /// What raised the score.
    pub reasons: Vec<String>,
}

/// `GET /stats?action=recent`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsRecent {
    /// Newest first.
    pub recent: Vec<RecentVerification>,
}

/// `GET /stats?action=distribution&month=YYYY-MM`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsDistribution {
    /// `YYYY-MM`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{4}-[0-9]{2}$"))]
    pub month: String,
    /// Verifications of that month.
    pub distribution: Distribution,
    /// Counts of scores in ten bands: 0-9, 10-19, ... 90-100.
    #[cfg_attr(feature = "openapi", schema(min_items = 10, max_items = 10))]
    pub histogram: [u64; 10],
}

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthResponse {
    /// `ok`, or `degraded` when a component is down (the store does not
    /// answer, say); the answer is then 503.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(ok|degraded)$"))]
    pub status: String,
    /// `oculto`.
    pub service: String,
    /// The verifier's version.
    pub version: String,
    /// The store in use: `sqlite` or `redis`.
    pub architecture: String,
    /// Each part the verifier needs: `store` (answers a ping within 2 s),
    /// `keys` (the signing key signs what the published keys accept) and
    /// `clock` (not before 2026), each `ok` or `down` with `details` for
    /// people. `status` is `ok` only when all are.
    #[serde(default)]
    pub components: std::collections::BTreeMap<String, HealthComponent>,
}

/// `POST /valider-captcha` (CaptchEtat-compatible), JSON or form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaptchetatValidate {
    /// The challenge's id, from the image answer.
    #[serde(default)]
    pub uuid: Option<String>,
    /// What the person typed.
    #[serde(default)]
    pub code: Option<String>,
}

/// `GET /simple-captcha-endpoint?get=image&c=...&format=json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaptchetatImage {
    /// The challenge's id, for `get=sound&t=` and `/valider-captcha`.
    pub uuid: String,
    /// The image, as a `data:image/png;base64,...` URL.
    pub imageb64: String,
}

/// `GET /healthcheck` (CaptchEtat-compatible, in Spring's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Healthcheck {
    /// `UP` or `DOWN`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^(UP|DOWN)$"))]
    pub status: String,
    /// Each part: `store`, `keys`, `clock`, `challenges`.
    pub components: std::collections::BTreeMap<String, HealthComponent>,
}

/// One part of [`Healthcheck`] or [`HealthResponse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthComponent {
    /// `UP` or `DOWN` in [`Healthcheck`], `ok` or `down` in
    /// [`HealthResponse`].
    #[cfg_attr(feature = "openapi", schema(pattern = "^(ok|down|UP|DOWN)$"))]
    pub status: String,
    /// What was checked, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// `POST /api/generate`, JSON or form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GenerateRequest {
    /// The site's public key.
    #[serde(default)]
    pub site_key: Option<String>,
    /// `image` (distorted characters) or `math` (a question like `7 + 4 = ?`).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

/// Answer to `POST /api/generate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GenerateResponse {
    /// The challenge's id, for `/api/validate`.
    #[cfg_attr(feature = "openapi", schema(pattern = "^ch_"))]
    pub captcha_id: String,
    /// `image` or `math`.
    #[serde(rename = "type")]
    pub kind: String,
    /// For `image`: a `data:image/png;base64,...` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// For `math`: the question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// Seconds the challenge stays valid.
    pub expires_in: u64,
    /// When it expires, seconds since the Unix epoch.
    pub expires_at: u64,
}

/// `POST /api/validate`, JSON or form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValidateRequest {
    /// The site's public key.
    #[serde(default)]
    pub site_key: Option<String>,
    /// From [`GenerateResponse::captcha_id`].
    #[serde(default)]
    pub captcha_id: Option<String>,
    /// What the person typed.
    #[serde(default)]
    pub user_input: Option<String>,
}

/// Answer to `POST /api/validate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValidateResponse {
    /// Whether the answer was right (and the challenge live and unused).
    pub valid: bool,
    /// When valid: a verdict token that `/verify` and `/siteverify` accept.
    pub token: Option<String>,
}

/// An error of the generate/validate API: `{"detail": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DetailError {
    /// What went wrong, for people.
    pub detail: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_contract_bands() {
        assert_eq!(Classification::from_score(0), Classification::Human);
        assert_eq!(Classification::from_score(25), Classification::Human);
        assert_eq!(Classification::from_score(26), Classification::Suspicious);
        assert_eq!(Classification::from_score(50), Classification::Suspicious);
        assert_eq!(Classification::from_score(51), Classification::Bot);
        assert_eq!(Classification::from_score(100), Classification::Bot);
    }

    #[test]
    fn wire_names_match_serde() {
        for &c in ErrorCode::ALL {
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{}\"", c.as_str()));
            assert_eq!(ErrorCode::from_code(c.as_str()), Some(c));
        }
        assert_eq!(ErrorCode::from_code("nope"), None);
    }

    #[test]
    fn error_codes_are_snake_case() {
        let body = ErrorBody { error: ErrorCode::AlreadyVerified, message: "x".into() };
        assert_eq!(serde_json::to_string(&body).unwrap(), r#"{"error":"already_verified","message":"x"}"#);
    }
}
