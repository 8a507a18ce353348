//! HTTP handlers: one short function per route, each calling one domain
//! function or store method.

use actix_cors::Cors;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError as _};
use oculto_shared::api::{
    routes, ErrorCode, HealthResponse, InitRequest, ScoreRequest, SiteverifyRequest, SiteverifyResponse, StatsQuery,
    StatsRecent, StatsSummary, VerifyRequest,
};

use crate::body::Input;
use crate::error::ApiError;
use crate::limits::client_ip;
use crate::{clock, session, store, verdict, State};

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
async fn init(state: Data, req: HttpRequest, Input(body): Input<InitRequest>) -> Result<HttpResponse, ApiError> {
    let flooded = state.limits.init(&state.store, &client_ip(&req, &state.config.trusted_proxies)).await?;
    let res = session::open(&state, body, origin(&req), flooded).await?;
    Ok(no_store(&mut HttpResponse::Ok()).json(res))
}

/// `POST /score`: scores a session and answers with a verdict token.
async fn score(state: Data, req: HttpRequest, Input(body): Input<ScoreRequest>) -> Result<HttpResponse, ApiError> {
    state.limits.score(&state.store, &client_ip(&req, &state.config.trusted_proxies)).await?;
    let res = session::score(&state, body, origin(&req)).await?;
    Ok(no_store(&mut HttpResponse::Ok()).json(res))
}

/// `POST /verify`: checks a verdict token once, for a site's backend.
async fn verify(state: Data, req: HttpRequest, Input(body): Input<VerifyRequest>) -> Result<HttpResponse, ApiError> {
    let api_key = body.api_key.or_else(|| api_key_header(&req));
    let res =
        verdict::check(&state, body.token.as_deref(), api_key.as_deref(), body.idempotency_key.as_deref()).await?;
    Ok(no_store(&mut HttpResponse::Ok()).json(res))
}

/// `POST /siteverify`: the same check in Turnstile's shape, always 200.
async fn siteverify(state: Data, body: Result<Input<SiteverifyRequest>, ApiError>) -> HttpResponse {
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
async fn stats(state: Data, req: HttpRequest, q: web::Query<StatsQuery>) -> Result<HttpResponse, ApiError> {
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

/// `GET /health`: whether the store answers, and which store it is.
async fn health(state: Data) -> HttpResponse {
    let ok = tokio::time::timeout(std::time::Duration::from_secs(2), state.store.ping()).await.is_ok_and(|r| r.is_ok());
    let body = HealthResponse {
        status: if ok { "ok" } else { "degraded" }.into(),
        service: "oculto".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        architecture: state.store.architecture().into(),
    };
    let mut res = if ok { HttpResponse::Ok() } else { HttpResponse::ServiceUnavailable() };
    no_store(&mut res).json(body)
}

/// `GET /.well-known/jwks.json`: the public keys that sign verdicts.
async fn jwks(state: Data) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "public, max-age=60")).json(state.keys.get().jwks())
}

async fn not_found() -> HttpResponse {
    ApiError::new(ErrorCode::NotFound, "no such endpoint").error_response()
}

async fn method_not_allowed() -> HttpResponse {
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
    .service(web::resource(routes::JWKS).route(web::get().to(jwks)).default_service(web::to(method_not_allowed)));
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
