//! HTTP handlers: one short function per route, each calling one domain
//! function or store method.

use actix_cors::Cors;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError as _};
use oculto_shared::api::{
    routes, ErrorBody, ErrorCode, HealthComponent, HealthResponse, InitRequest, InitResponse, ScoreRequest,
    ScoreResponse, SiteverifyRequest, SiteverifyResponse, StatsQuery, StatsRecent, StatsSummary, VerifyRequest,
    VerifyResponse,
};
use oculto_shared::token::Jwks;

use crate::body::Input;
use crate::error::ApiError;
use crate::limits::{client_addr, client_ip};
use crate::openapi::StatsAnswer;
use crate::{clock, health, session, store, verdict, State};

type Data = web::Data<State>;

fn origin(req: &HttpRequest) -> Option<&str> {
    req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

fn api_key_header(req: &HttpRequest) -> Option<String> {
    req.headers().get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn no_store(res: &mut actix_web::HttpResponseBuilder) -> &mut actix_web::HttpResponseBuilder {
    res.insert_header((header::CACHE_CONTROL, "no-store"))
}

/// `POST /init`: opens a session with a proof of work challenge.
#[utoipa::path(
    post, path = routes::INIT, tag = "widget",
    summary = "Open a session with a proof of work challenge",
    description = "Called by the widget from a page whose `Origin` is registered for the site. 30 a minute per address.",
    request_body(content((InitRequest = "application/json"), (InitRequest = "text/plain"))),
    responses(
        (status = 200, description = "The session and its challenge", body = InitResponse),
        (status = 400, description = "`site_key_required`, `invalid_site_key`, `bad_request`", body = ErrorBody),
        (status = 403, description = "`origin_not_allowed`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn init(
    state: Data,
    req: HttpRequest,
    Input(body): Input<InitRequest>,
) -> Result<HttpResponse, ApiError> {
    let flooded = state.limits.init(&state.store, &client_ip(&req, &state.config.trusted_proxies)).await?;
    let res = session::open(&state, body, origin(&req), flooded).await?;
    Ok(no_store(&mut HttpResponse::Ok()).json(res))
}

/// `POST /score`: scores a session and answers with a verdict token.
#[utoipa::path(
    post, path = routes::SCORE, tag = "widget",
    summary = "Score a session: a verdict token, or a step-up challenge first",
    description = "Takes the proof of work and the signals (or `pow_gave_up_ms`), or the answer to a step-up \
        challenge, from the origin that opened the session. 20 a minute per address.",
    request_body(content((ScoreRequest = "application/json"), (ScoreRequest = "text/plain"))),
    responses(
        (status = 200, description = "`{verdict, expires_at}` or `{step_up}`", body = ScoreResponse),
        (status = 400, description = "`invalid_signals`, `session_expired`, `challenge_expired`, `bad_request`", body = ErrorBody),
        (status = 403, description = "`origin_not_allowed`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `challenge_not_found`", body = ErrorBody),
        (status = 409, description = "`session_used`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`; see `Retry-After`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn score(
    state: Data,
    req: HttpRequest,
    Input(body): Input<ScoreRequest>,
) -> Result<HttpResponse, ApiError> {
    state.limits.score(&state.store, &client_ip(&req, &state.config.trusted_proxies)).await?;
    let res = session::score(&state, body, origin(&req)).await?;
    Ok(no_store(&mut HttpResponse::Ok()).json(res))
}

/// `POST /verify`: checks a verdict token once, for a site's backend.
#[utoipa::path(
    post, path = routes::VERIFY, tag = "backend",
    summary = "Check a verdict token, once",
    description = "The API key comes in the body or the `X-API-Key` header. A retry with the same \
        `idempotency_key` gets the first answer again instead of 409.",
    params(("X-API-Key" = Option<String>, Header, description = "The site's API key, instead of `api_key`")),
    request_body(content((VerifyRequest = "application/json"), (VerifyRequest = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "A genuine, unexpired token, seen for the first time", body = VerifyResponse),
        (status = 400, description = "`token_required`, `api_key_required`, `invalid_token`, `bad_request`", body = ErrorBody),
        (status = 401, description = "`invalid_api_key`", body = ErrorBody),
        (status = 409, description = "`already_verified`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`: never valid; retry (`Retry-After`)", body = ErrorBody),
    )
)]
pub(crate) async fn verify(
    state: Data,
    req: HttpRequest,
    Input(body): Input<VerifyRequest>,
) -> Result<HttpResponse, ApiError> {
    let api_key = body.api_key.or_else(|| api_key_header(&req));
    let res =
        verdict::check(&state, body.token.as_deref(), api_key.as_deref(), body.idempotency_key.as_deref()).await?;
    Ok(no_store(&mut HttpResponse::Ok()).json(res))
}

/// `POST /siteverify`: the same check in Turnstile's shape, always 200.
#[utoipa::path(
    post, path = routes::SITEVERIFY, tag = "backend",
    summary = "Check a verdict token, once, as Cloudflare Turnstile does",
    request_body(content((SiteverifyRequest = "application/json"), (SiteverifyRequest = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "Always 200; refusals are in `error-codes`", body = SiteverifyResponse),
    )
)]
pub(crate) async fn siteverify(state: Data, body: Result<Input<SiteverifyRequest>, ApiError>) -> HttpResponse {
    let res = match body {
        Err(_) => SiteverifyResponse { error_codes: vec!["bad-request".into()], ..Default::default() },
        Ok(Input(b)) => {
            match verdict::check(&state, b.response.as_deref(), b.secret.as_deref(), b.idempotency_key.as_deref()).await
            {
                Ok(v) => SiteverifyResponse {
                    success: v.valid,
                    error_codes: Vec::new(),
                    challenge_ts: Some(v.challenge_ts),
                    hostname: Some(v.hostname),
                    action: v.action,
                    cdata: v.cdata,
                    score: Some(v.score),
                    classification: Some(v.classification),
                },
                Err(r) => SiteverifyResponse { error_codes: vec![r.turnstile_code().into()], ..Default::default() },
            }
        }
    };
    no_store(&mut HttpResponse::Ok()).json(res)
}

/// `GET /stats`: a site's summary, recent verifications or a month's
/// distribution.
#[utoipa::path(
    get, path = routes::STATS, tag = "backend",
    summary = "A site's summary, recent verifications or a month's distribution",
    params(StatsQuery, ("X-API-Key" = Option<String>, Header, description = "The site's API key, instead of `api_key`")),
    responses(
        (status = 200, description = "By `action`: summary, recent or distribution", body = StatsAnswer),
        (status = 400, description = "`api_key_required`, `bad_request`", body = ErrorBody),
        (status = 401, description = "`invalid_api_key`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn stats(state: Data, req: HttpRequest, q: web::Query<StatsQuery>) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let key = q.api_key.or_else(|| api_key_header(&req)).filter(|k| !k.trim().is_empty());
    let key = key.ok_or_else(|| ApiError::from(verdict::Refusal::ApiKeyRequired))?;
    let site = state.sites.by_api_key(key.trim()).ok_or_else(|| ApiError::from(verdict::Refusal::InvalidApiKey))?;
    let mut ok = HttpResponse::Ok();
    let res = no_store(&mut ok);
    match q.action.as_deref().unwrap_or("summary") {
        "summary" => {
            let (distribution, usage) = state.store.summary(&site.site_key).await?;
            Ok(res.json(StatsSummary { distribution, usage }))
        }
        "recent" => {
            let limit = match q.limit.as_deref() {
                None => 50,
                Some(l) => l
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=200).contains(n))
                    .ok_or_else(|| ApiError::bad_request("limit must be a whole number from 1 to 200"))?,
            };
            Ok(res.json(StatsRecent { recent: state.store.recent(&site.site_key, limit).await? }))
        }
        "distribution" => {
            let month = match q.month {
                None => store::year_month(clock::now_secs()),
                Some(m) if valid_month(&m) => m,
                Some(_) => return Err(ApiError::bad_request("month must be YYYY-MM")),
            };
            Ok(res.json(state.store.distribution(&site.site_key, &month).await?))
        }
        _ => Err(ApiError::bad_request("action must be summary, recent or distribution")),
    }
}

fn valid_month(m: &str) -> bool {
    let b = m.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit)
        && matches!(m[5..].parse::<u8>(), Ok(1..=12))
}

/// `GET /health`: whether the store answers, the signing key works and the
/// clock is sane, and which store it is.
#[utoipa::path(
    get, path = routes::HEALTH, tag = "operators",
    summary = "Liveness, the store in use, and each part's state",
    responses(
        (status = 200, description = "`ok`: every component is `ok`", body = HealthResponse),
        (status = 503, description = "`degraded`: a component is `down`", body = HealthResponse),
    )
)]
pub(crate) async fn health(state: Data) -> HttpResponse {
    let parts = health::check(&state).await;
    let ok = parts.iter().all(|p| p.ok);
    let components = parts
        .into_iter()
        .map(|p| {
            let status = if p.ok { "ok" } else { "down" }.to_owned();
            (p.name.to_owned(), HealthComponent { status, details: Some(p.details) })
        })
        .collect();
    let body = HealthResponse {
        status: if ok { "ok" } else { "degraded" }.into(),
        service: "oculto".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        architecture: state.store.architecture().into(),
        components,
    };
    let mut res = if ok { HttpResponse::Ok() } else { HttpResponse::ServiceUnavailable() };
    no_store(&mut res).json(body)
}

/// `GET /.well-known/jwks.json`: the public keys that sign verdicts.
#[utoipa::path(
    get, path = routes::JWKS, tag = "backend",
    summary = "The public keys that sign verdicts (OKP / Ed25519 JWK set)",
    responses((status = 200, description = "Every key whose tokens may still be alive", body = Jwks))
)]
pub(crate) async fn jwks(state: Data) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "public, max-age=60")).json(state.keys.get().jwks())
}

/// `GET /metrics`: Prometheus's text format, when metrics are on and the
/// client is allowed; otherwise the same 404 as an unknown route.
#[utoipa::path(
    get, path = routes::METRICS, tag = "operators",
    summary = "Prometheus metrics",
    description = "Requests by route, method and status; latencies; verdicts issued by class; replays refused; \
        store errors. 404 when `metrics.enabled` is off or the client is not in `metrics.allow`.",
    responses(
        (status = 200, description = "Prometheus text exposition format 0.0.4", content(("text/plain"))),
        (status = 404, description = "`not_found`: metrics are off, or not for this client", body = ErrorBody),
    )
)]
pub(crate) async fn metrics(state: Data, req: HttpRequest) -> HttpResponse {
    let client = client_addr(&req, &state.config.trusted_proxies);
    let handle = state.metrics.as_ref().filter(|_| crate::metrics::allowed(&state.config.metrics.allow, &client));
    match handle {
        Some(h) => {
            no_store(&mut HttpResponse::Ok()).content_type("text/plain; version=0.0.4; charset=utf-8").body(h.render())
        }
        None => not_found().await,
    }
}

/// `GET /openapi.json`: this API, described from the code.
#[utoipa::path(
    get, path = routes::OPENAPI, tag = "operators",
    summary = "This document: every route, generated from the code",
    responses((status = 200, description = "OpenAPI 3.1", body = Object))
)]
pub(crate) async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/json")
        .body(crate::openapi::json())
}

async fn not_found() -> HttpResponse {
    ApiError::new(ErrorCode::NotFound, "no such endpoint").error_response()
}

/// The answer of a route to a method it does not take.
pub(crate) async fn method_not_allowed() -> HttpResponse {
    ApiError::new(ErrorCode::MethodNotAllowed, "this endpoint does not take that method").error_response()
}

/// CORS for the endpoints pages call: any origin may ask (each site's origins
/// are checked per request against the site key), without credentials.
fn widget_cors() -> Cors {
    Cors::default().allow_any_origin().allowed_methods(["POST"]).allowed_headers([header::CONTENT_TYPE]).max_age(86_400)
}

/// Registers every route; used by `main` and by tests alike.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(
        web::QueryConfig::default()
            .error_handler(|e, _| ApiError::bad_request(format!("query string is not valid: {e}")).into()),
    )
    .service(
        web::resource(routes::INIT)
            .wrap(widget_cors())
            .route(web::post().to(init))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource(routes::SCORE)
            .wrap(widget_cors())
            .route(web::post().to(score))
            .default_service(web::to(method_not_allowed)),
    )
    .service(web::resource(routes::VERIFY).route(web::post().to(verify)).default_service(web::to(method_not_allowed)))
    .service(
        web::resource(routes::SITEVERIFY)
            .route(web::post().to(siteverify))
            .default_service(web::to(method_not_allowed)),
    )
    .service(web::resource(routes::STATS).route(web::get().to(stats)).default_service(web::to(method_not_allowed)))
    .service(web::resource(routes::HEALTH).route(web::get().to(health)).default_service(web::to(method_not_allowed)))
    .service(web::resource(routes::JWKS).route(web::get().to(jwks)).default_service(web::to(method_not_allowed)))
    .service(web::resource(routes::METRICS).route(web::get().to(metrics)).default_service(web::to(method_not_allowed)))
    .service(web::resource(routes::OPENAPI).route(web::get().to(openapi)).default_service(web::to(method_not_allowed)));
    crate::compat::configure(cfg, || web::to(method_not_allowed));
}

/// The answer for anything no route takes.
pub fn fallback() -> actix_web::Route {
    web::to(not_found)
}

#[cfg(test)]
mod tests {
    use super::valid_month;

    #[test]
    fn months_are_checked() {
        assert!(valid_month("2026-11"));
        assert!(!valid_month("2026-13"));
        assert!(!valid_month("2026-1"));
        assert!(!valid_month("２０２６-11"));
    }
}
