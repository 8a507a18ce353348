//! The one error type of the HTTP API, and how each error becomes a status
//! and the contract's `{"error": "<code>", "message": "..."}` body.

use std::borrow::Cow;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use oculto_shared::api::{ErrorBody, ErrorCode};

use crate::store::StoreError;

/// An answer that is not a success.
#[derive(Debug, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    /// The stable code.
    pub code: ErrorCode,
    /// Text for people.
    pub message: Cow<'static, str>,
    /// Seconds to wait before retrying, sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self { code, message: message.into(), retry_after: None }
    }

    /// `429 rate_limited` with `Retry-After`.
    pub fn rate_limited(retry_after: u64) -> Self {
        Self {
            code: ErrorCode::RateLimited,
            message: "too many requests from this address; retry later".into(),
            retry_after: Some(retry_after.max(1)),
        }
    }

    /// `400 bad_request`.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::warn!(error = %e, "store error");
        Self {
            code: ErrorCode::StoreUnavailable,
            message: "the verifier's store is unavailable; retry shortly".into(),
            retry_after: Some(1),
        }
    }
}

/// The HTTP status of each code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode::*;
    match code {
        TokenRequired | ApiKeyRequired | InvalidToken | SiteKeyRequired | InvalidSiteKey | SessionExpired
        | InvalidSignals | ChallengeExpired | BadRequest => StatusCode::BAD_REQUEST,
        InvalidApiKey => StatusCode::UNAUTHORIZED,
        OriginNotAllowed => StatusCode::FORBIDDEN,
        SessionNotFound | ChallengeNotFound | NotFound => StatusCode::NOT_FOUND,
        MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        AlreadyVerified | SessionUsed => StatusCode::CONFLICT,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        RateLimited => StatusCode::TOO_MANY_REQUESTS,
        StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(self.code)
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        res.json(ErrorBody { error: self.code, message: self.message.to_string() })
    }
}
