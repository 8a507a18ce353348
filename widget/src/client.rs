//! Calls to the verifier: `POST /init` and `POST /score`, with the shared
//! request and response types.
//!
//! Bodies are sent as `text/plain` JSON, which makes them CORS "simple
//! requests": no preflight round trip before each call.

use oculto_shared::api::{ErrorCode, InitResponse, ScoreResponse};
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
            Self::Api(ErrorCode::SessionExpired | ErrorCode::SessionNotFound | ErrorCode::SessionUsed) => "session",
            Self::Api(_) => "verifier",
        }
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

/// Reads `/score`'s answer.
pub fn read_score(v: &JsValue) -> Option<ScoreResponse> {
    Some(ScoreResponse {
        verdict: get(v, "verdict").as_string(),
        expires_at: get(v, "expires_at").as_f64().map(|e| e as u64),
        step_up: None,
    })
}

/// Posts `body` to `base` + `path`, then reads the answer with `read`.
pub async fn post<Q: Serialize, A>(
    base: &str,
    path: &str,
    body: &Q,
    read: fn(&JsValue) -> Option<A>,
) -> Result<A, ClientError> {
    let window = web_sys::window().ok_or(ClientError::Network)?;
    let value =
        body.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).map_err(|_| ClientError::Protocol)?;
    let text = js_sys::JSON::stringify(&value).map_err(|_| ClientError::Protocol)?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_mode(RequestMode::Cors);
    init.set_credentials(RequestCredentials::Omit);
    init.set_body(&text);
    let headers = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&headers, &"content-type".into(), &"text/plain".into());
    init.set_headers(&headers);
    let abort = AbortController::new().ok();
    // Cleared when this function returns, whichever way.
    let _timer = abort.as_ref().and_then(|a| {
        init.set_signal(Some(&a.signal()));
        let a = a.clone();
        crate::timer::Timeout::new(TIMEOUT_MS, move || a.abort())
    });
    let mut url = String::with_capacity(base.len() + path.len());
    url.push_str(base.trim_end_matches('/'));
    url.push_str(path);
    let res = JsFuture::from(window.fetch_with_str_and_init(&url, &init)).await;
    let res: Response = res.map_err(|_| ClientError::Network)?.dyn_into().map_err(|_| ClientError::Protocol)?;
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
