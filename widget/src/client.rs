//! Calls to the verifier: `POST /init` and `POST /score`, with the shared
//! request and response types, and `GET` for a step-up's audio.
//!
//! Bodies are sent as `text/plain` JSON, which makes them CORS "simple
//! requests": no preflight round trip before each call.

use oculto_shared::api::{ErrorCode, InitResponse, ScoreResponse, StepUp};
use oculto_shared::pow::PowChallenge;
use serde::Serialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, RequestCredentials, RequestInit, RequestMode, Response};

/// How long a call may take before the widget gives up, ms.
const TIMEOUT_MS: i32 = 10_000;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// No answer: the verifier is down, unreachable or too slow.
    Network,
    /// The verifier refused, with its code.
    Api(ErrorCode),
    /// An answer the widget does not understand.
    Protocol,
}

impl ClientError {
    /// A short code for the page's `error-callback`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Network => "network",
            Self::Protocol => "protocol",
            Self::Api(ErrorCode::RateLimited) => "rate_limited",
            Self::Api(ErrorCode::InvalidSiteKey | ErrorCode::SiteKeyRequired) => "invalid_site_key",
            Self::Api(ErrorCode::OriginNotAllowed) => "origin_not_allowed",
            Self::Api(_) if self.starts_over() => "session",
            Self::Api(_) => "verifier",
        }
    }

    /// Whether the session or its challenge is gone (expired, used, never
    /// known): the cure is a new session from `/init`.
    pub fn starts_over(&self) -> bool {
        matches!(
            self,
            Self::Api(
                ErrorCode::SessionExpired
                    | ErrorCode::SessionNotFound
                    | ErrorCode::SessionUsed
                    | ErrorCode::ChallengeExpired
                    | ErrorCode::ChallengeNotFound
            )
        )
    }

    /// Whether trying again may help.
    pub fn retryable(&self) -> bool {
        !matches!(self, Self::Api(ErrorCode::InvalidSiteKey | ErrorCode::SiteKeyRequired | ErrorCode::OriginNotAllowed))
    }
}

fn get(v: &JsValue, k: &str) -> JsValue {
    js_sys::Reflect::get(v, &k.into()).unwrap_or(JsValue::UNDEFINED)
}

// Answers are read field by field rather than through a deserializer: the
// widget reads three small shapes, and serde's visitors would be most of the
// download.

/// Reads `/init`'s answer.
pub fn read_init(v: &JsValue) -> Option<InitResponse> {
    let ch = get(v, "challenge");
    Some(InitResponse {
        session_id: get(v, "session_id").as_string()?,
        challenge: PowChallenge {
            algorithm: get(&ch, "algorithm").as_string()?,
            salt: get(&ch, "salt").as_string()?,
            difficulty: get(&ch, "difficulty").as_f64()? as u8,
        },
        expires_at: get(v, "expires_at").as_f64()? as u64,
    })
}

/// Reads `/score`'s answer: a verdict, or a step-up challenge to show.
pub fn read_score(v: &JsValue) -> Option<ScoreResponse> {
    let step = get(v, "step_up");
    let step_up = if step.is_object() { Some(read_step_up(&step)?) } else { None };
    let verdict = get(v, "verdict").as_string();
    // One or the other: an answer with neither is not understood.
    if verdict.is_none() && step_up.is_none() {
        return None;
    }
    Some(ScoreResponse { verdict, expires_at: get(v, "expires_at").as_f64().map(|e| e as u64), step_up })
}

fn read_step_up(v: &JsValue) -> Option<StepUp> {
    let small = |k: &str| get(v, k).as_f64().map(|n| n.clamp(0.0, 255.0) as u8);
    Some(StepUp {
        challenge_id: get(v, "challenge_id").as_string()?,
        kind: get(v, "kind").as_string().unwrap_or_default(),
        image: get(v, "image").as_string(),
        audio: get(v, "audio").as_string(),
        prompt: get(v, "prompt").as_string().unwrap_or_default(),
        length: small("length").unwrap_or(0),
        attempts_left: small("attempts_left").unwrap_or(1),
        refreshes_left: small("refreshes_left").unwrap_or(0),
        expires_at: get(v, "expires_at").as_f64()? as u64,
    })
}

/// `base` + `path`, without a doubled slash.
pub fn url(base: &str, path: &str) -> String {
    let mut url = String::with_capacity(base.len() + path.len());
    url.push_str(base.trim_end_matches('/'));
    url.push_str(path);
    url
}

/// Starts a request with the widget's settings (CORS, no cookies) and its
/// timeout; resolves with the response, whatever its status.
async fn send(url: &str, init: RequestInit) -> Result<Response, ClientError> {
    let window = web_sys::window().ok_or(ClientError::Network)?;
    init.set_mode(RequestMode::Cors);
    init.set_credentials(RequestCredentials::Omit);
    let abort = AbortController::new().ok();
    // Cleared when this function returns, whichever way.
    let _timer = abort.as_ref().and_then(|a| {
        init.set_signal(Some(&a.signal()));
        let a = a.clone();
        crate::timer::Timeout::new(TIMEOUT_MS, move || a.abort())
    });
    let res = JsFuture::from(window.fetch_with_str_and_init(url, &init)).await;
    let res: Response = res.map_err(|_| ClientError::Network)?.dyn_into().map_err(|_| ClientError::Protocol)?;
    Ok(res)
}

/// Gets `url`'s body as bytes (a step-up's WAV).
pub async fn get_bytes(url: &str) -> Result<js_sys::ArrayBuffer, ClientError> {
    let init = RequestInit::new();
    init.set_method("GET");
    let res = send(url, init).await?;
    if !res.ok() {
        return Err(ClientError::Protocol);
    }
    let body = res.array_buffer().map_err(|_| ClientError::Protocol)?;
    JsFuture::from(body).await.map_err(|_| ClientError::Network)?.dyn_into().map_err(|_| ClientError::Protocol)
}

/// Posts `body` to `base` + `path`, then reads the answer with `read`.
pub async fn post<Q: Serialize, A>(
    base: &str,
    path: &str,
    body: &Q,
    read: fn(&JsValue) -> Option<A>,
) -> Result<A, ClientError> {
    let value =
        body.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|_| ClientError::Protocol)?;
    let text = js_sys::JSON::stringify(&value).map_err(|_| ClientError::Protocol)?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_body(&text);
    let headers = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&headers, &"content-type".into(), &"text/plain".into());
    init.set_headers(&headers);
    let res = send(&url(base, path), init).await?;
    let json: JsValue = match res.json() {
        Ok(p) => JsFuture::from(p).await.map_err(|_| ClientError::Protocol)?,
        Err(_) => return Err(ClientError::Protocol),
    };
    if !res.ok() {
        let code = get(&json, "error").as_string().and_then(|c| ErrorCode::from_code(&c));
        return Err(code.map_or(ClientError::Protocol, ClientError::Api));
    }
    read(&json).ok_or(ClientError::Protocol)
}
