//! Request bodies: read up to the configured limit, then parsed as JSON or
//! as a form, by content type. Every failure is one of the contract's JSON
//! errors (413, 415, 400), never actix's plain-text ones.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{dev, web, FromRequest, HttpRequest};
use futures_util::StreamExt as _;
use oculto_shared::api::ErrorCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::State;

/// A parsed body. JSON (`application/json`, or `text/plain` so that a page
/// can post without a CORS preflight) or a form
/// (`application/x-www-form-urlencoded`); a form body that is plainly JSON,
/// as `curl -d '{...}'` sends, is read as JSON.
pub struct Input<T>(pub T);

fn too_large(limit: usize) -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, format!("request body is larger than {limit} bytes"))
}

fn parse_error(e: impl std::fmt::Display) -> ApiError {
    let mut m = format!("request body is not valid: {e}");
    if m.len() > 240 {
        let mut cut = 240;
        while !m.is_char_boundary(cut) {
            cut -= 1;
        }
        m.truncate(cut);
    }
    ApiError::bad_request(m)
}

/// Parses a JSON body, which must be an object: serde would otherwise take
/// an array as a struct's fields in order (`["site_..."]` as an `/init`).
fn json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::bad_request("request body must be a JSON object"));
    }
    serde_json::from_slice(bytes).map_err(parse_error)
}

/// Parses `bytes` by content type.
pub fn parse<T: DeserializeOwned>(content_type: &str, bytes: &[u8]) -> Result<T, ApiError> {
    let mime = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let looks_json = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    match mime.as_str() {
        "application/json" | "text/plain" | "" => json(bytes),
        "application/x-www-form-urlencoded" if looks_json => json(bytes),
        "application/x-www-form-urlencoded" => serde_urlencoded::from_bytes(bytes).map_err(parse_error),
        _ => Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send application/json or application/x-www-form-urlencoded",
        )),
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Input<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut dev::Payload) -> Self::Future {
        let limit = req.app_data::<web::Data<State>>().map_or(64 * 1024, |s| s.config.body_limit);
        let content_type =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > limit) {
                return Err(too_large(limit));
            }
            let mut buf = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|_| ApiError::bad_request("request body could not be read"))?;
                if buf.len() + chunk.len() > limit {
                    return Err(too_large(limit));
                }
                buf.extend_from_slice(&chunk);
            }
            if buf.is_empty() {
                // No body is an object with no fields: the endpoint then
                // names the field that is missing.
                return serde_json::from_slice(b"{}").map(Input).map_err(parse_error);
            }
            parse(&content_type, &buf).map(Input)
        })
    }
}
