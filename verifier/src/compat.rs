//! The seed systems' APIs, so that existing code can point at Oculto:
//!
//! - CaptchEtat style: `GET /simple-captcha-endpoint?get=image|sound&c=<type>`
//!   (a PNG with its id in `X-Captcha-Uuid`, or `{uuid, imageb64}` with
//!   `format=json` or `Accept: application/json`; `get=sound&t=<uuid>` speaks
//!   it), `POST /valider-captcha {uuid, code}` → `true`/`false` once, and
//!   `GET /healthcheck` → `{status, components}`.
//! - Generate/validate: `POST /api/generate {site_key, type}` and
//!   `POST /api/validate {site_key, captcha_id, user_input}` → `{valid,
//!   token}`, where the token is a verdict that `/verify` accepts. Limited per
//!   site key per hour; errors are `{"detail": ...}`.
//!
//! Both keep their challenges in the store like the widget's step-up
//! ([`crate::captcha`]): single use, expiring, the answer never sent.

use std::collections::BTreeMap;

use actix_cors::Cors;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use oculto_shared::api::{
    routes, CaptchetatImage, CaptchetatValidate, DetailError, ErrorBody, GenerateRequest, GenerateResponse,
    HealthComponent, Healthcheck, ValidateRequest, ValidateResponse,
};
use oculto_shared::SESSION_PREFIX;
use serde::Deserialize;

use crate::body::Input;
use crate::captcha::{self, Answered};
use crate::challenge::{captchetat_spec, Kind, Lang, Spec};
use crate::error::{status_of, ApiError};
use crate::limits::client_ip;
use crate::sites::{hostname_of, normalize_origin, test_keys};
use crate::store::PendingVerdict;
use crate::{health, random, session, State};

type Data = web::Data<State>;

/// The score of a verdict from `/api/validate`: a right answer, and no
/// behaviour seen (the reason `captcha_only` says so).
pub const CAPTCHA_ONLY_SCORE: u8 = 10;

/// The spec of the generate API's `image` type: CaptchEtat's default
/// (`captchaEN`), alphanumeric, 6 to 9 characters.
const GENERATE_SPEC: Spec = Spec { kind: Kind::Alphanumeric, min_len: 6, max_len: 9, light: false };

fn no_store(res: &mut actix_web::HttpResponseBuilder) -> &mut actix_web::HttpResponseBuilder {
    res.insert_header((header::CACHE_CONTROL, "no-store"))
}

/// `GET /simple-captcha-endpoint`'s query.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CaptchetatQuery {
    /// `image` or `sound`.
    get: Option<String>,
    /// The CaptchEtat type, e.g. `captchaFR`, `numerique6_7CaptchaEN`.
    c: Option<String>,
    /// With `get=sound`: the uuid of the image to speak.
    t: Option<String>,
    /// `json`: answer `{uuid, imageb64}` instead of the PNG.
    format: Option<String>,
}

fn wants_json(req: &HttpRequest, format: Option<&str>) -> bool {
    format == Some("json")
        || req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json"))
}

fn captchetat_type(c: Option<&str>) -> Result<(Spec, Lang), ApiError> {
    let c = c.filter(|c| !c.is_empty()).ok_or_else(|| ApiError::bad_request("c (the captcha type) is required"))?;
    captchetat_spec(c).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown captcha type {:?}; known types: {}",
            c.chars().take(64).collect::<String>(),
            crate::challenge::CAPTCHETAT_TYPES.join(", ")
        ))
    })
}

/// `GET /simple-captcha-endpoint?get=image|sound&c=<type>[&t=<uuid>][&format=json]`.
#[utoipa::path(
    get, path = routes::CAPTCHETAT, tag = "captchetat",
    summary = "A new image challenge, as JSON or a PNG, or the audio of one",
    description = "CaptchEtat's endpoint. `get=image` answers the PNG with its id in `X-Captcha-Uuid`, or \
        `{uuid, imageb64}` with `format=json` or `Accept: application/json`; `get=sound&t=<uuid>` answers a WAV. \
        60 a minute per address.",
    params(CaptchetatQuery),
    responses(
        (status = 200, description = "The challenge",
            headers(("X-Captcha-Uuid" = String, description = "With the PNG: the challenge's id")),
            content((CaptchetatImage = "application/json"), ("image/png"), ("audio/wav"))),
        (status = 400, description = "`bad_request`: a missing or unknown `get` or `c` (the message lists the types)", body = ErrorBody),
        (status = 404, description = "`challenge_not_found`: no such `t`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn captchetat(
    state: Data,
    req: HttpRequest,
    q: web::Query<CaptchetatQuery>,
) -> Result<HttpResponse, ApiError> {
    state.limits.captchetat(&state.store, &client_ip(&req, &state.config.trusted_proxies)).await?;
    let (spec, lang) = captchetat_type(q.c.as_deref())?;
    match q.get.as_deref() {
        Some("image") => {
            let made = captcha::make_text(&state, spec, lang, None, None).await?;
            if wants_json(&req, q.format.as_deref()) {
                let body = CaptchetatImage { uuid: made.record.id.clone(), imageb64: made.data_url() };
                return Ok(no_store(&mut HttpResponse::Ok()).json(body));
            }
            Ok(no_store(&mut HttpResponse::Ok())
                .insert_header(("X-Captcha-Uuid", made.record.id.as_str()))
                .content_type("image/png")
                .body(made.png))
        }
        Some("sound") => {
            let t = q.t.as_deref().filter(|t| !t.is_empty());
            let t = t.ok_or_else(|| ApiError::bad_request("t (the uuid of the image) is required with get=sound"))?;
            let wav = captcha::audio(&state, t, Some(lang)).await?;
            Ok(no_store(&mut HttpResponse::Ok()).content_type(crate::challenge::audio::CONTENT_TYPE).body(wav))
        }
        Some(_) => Err(ApiError::bad_request("get must be image or sound")),
        None => Err(ApiError::bad_request("get (image or sound) is required")),
    }
}

/// `POST /valider-captcha {uuid, code}` → `true` once for the right code,
/// else `false`.
#[utoipa::path(
    post, path = routes::CAPTCHETAT_VALIDATE, tag = "captchetat",
    summary = "Check an answer to a CaptchEtat-style challenge, once",
    request_body(content((CaptchetatValidate = "application/json"), (CaptchetatValidate = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "`true` once for the right code; `false` for a wrong one, an unknown or used uuid",
            content((bool = "application/json"))),
        (status = 400, description = "`bad_request`: no uuid or code", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn captchetat_validate(
    state: Data,
    req: HttpRequest,
    Input(body): Input<CaptchetatValidate>,
) -> Result<HttpResponse, ApiError> {
    state.limits.captchetat(&state.store, &client_ip(&req, &state.config.trusted_proxies)).await?;
    let uuid = body.uuid.filter(|u| !u.is_empty()).ok_or_else(|| ApiError::bad_request("uuid is required"))?;
    let code = body.code.ok_or_else(|| ApiError::bad_request("code is required"))?;
    let outcome = captcha::answer(&state, &uuid, &code, |c| c.site_key.is_none()).await?;
    let right = matches!(outcome, Answered::Checked { right: true, .. });
    Ok(no_store(&mut HttpResponse::Ok()).json(right))
}

/// `GET /healthcheck`: each part's state, 503 when one is down.
#[utoipa::path(
    get, path = routes::HEALTHCHECK, tag = "captchetat",
    summary = "CaptchEtat's health check, in Spring's shape",
    responses(
        (status = 200, description = "`UP`: every component is `UP`", body = Healthcheck),
        (status = 503, description = "`DOWN`: a component is `DOWN`", body = Healthcheck),
    )
)]
pub(crate) async fn healthcheck(state: Data) -> HttpResponse {
    let up = |ok: bool| if ok { "UP" } else { "DOWN" }.to_owned();
    let parts = health::check(&state).await;
    let all = parts.iter().all(|p| p.ok);
    let mut components: BTreeMap<String, HealthComponent> = parts
        .into_iter()
        .map(|p| (p.name.to_owned(), HealthComponent { status: up(p.ok), details: Some(p.details) }))
        .collect();
    let challenges = format!("{} types, image and audio", crate::challenge::CAPTCHETAT_TYPES.len());
    components.insert("challenges".into(), HealthComponent { status: up(true), details: Some(challenges) });
    let mut res = if all { HttpResponse::Ok() } else { HttpResponse::ServiceUnavailable() };
    no_store(&mut res).json(Healthcheck { status: up(all), components })
}

/// An error of the generate/validate API, in its `{"detail": ...}` shape.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {detail}")]
pub struct Detail {
    status: StatusCode,
    detail: String,
    retry_after: Option<u64>,
}

impl Detail {
    fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self { status, detail: detail.into(), retry_after: None }
    }
}

impl From<ApiError> for Detail {
    fn from(e: ApiError) -> Self {
        Self { status: status_of(e.code), detail: e.message.into_owned(), retry_after: e.retry_after }
    }
}

impl ResponseError for Detail {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        no_store(&mut res).json(DetailError { detail: self.detail.clone() })
    }
}

/// The site key of a generate/validate call: registered (403 otherwise),
/// from one of its origins when the call comes from a page.
fn site_of(state: &State, req: &HttpRequest, site_key: Option<&str>) -> Result<String, Detail> {
    let site_key = site_key.map(str::trim).filter(|k| !k.is_empty());
    let site_key = site_key.ok_or_else(|| Detail::new(StatusCode::BAD_REQUEST, "site_key is required"))?;
    if test_keys::site(site_key).is_some() {
        return Ok(site_key.to_owned());
    }
    let site =
        state.sites.by_site_key(site_key).ok_or_else(|| Detail::new(StatusCode::FORBIDDEN, "Invalid site key"))?;
    if let Some(origin) = page_origin(req) {
        if !site.origins.contains(&origin) {
            return Err(Detail::new(StatusCode::FORBIDDEN, "This origin is not allowed for the site key"));
        }
    }
    Ok(site.site_key.clone())
}

/// The normalized `Origin` of a call made from a page, if any.
fn page_origin(req: &HttpRequest) -> Option<String> {
    req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).and_then(normalize_origin)
}

fn rate_limited(e: ApiError) -> Detail {
    Detail { detail: "Rate limit exceeded for this site key; retry later".into(), ..Detail::from(e) }
}

/// `POST /api/generate {site_key, type: image|math}`.
#[utoipa::path(
    post, path = routes::API_GENERATE, tag = "generate-validate",
    summary = "A new image or math challenge for a site",
    description = "From a page (its `Origin` must be the site's) or a backend. 100 an hour per site key.",
    request_body(content((GenerateRequest = "application/json"), (GenerateRequest = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "The challenge: `image` or `question`", body = GenerateResponse),
        (status = 400, description = "A missing site key, an unknown type, a bad body", body = DetailError),
        (status = 403, description = "An unknown site key, or an origin that is not the site's", body = DetailError),
        (status = 413, description = "The body is too large", body = DetailError),
        (status = 415, description = "Not JSON or a form", body = DetailError),
        (status = 429, description = "Too many for this site key; see `Retry-After`", body = DetailError),
        (status = 503, description = "The store is unavailable", body = DetailError),
    )
)]
pub(crate) async fn generate(
    state: Data,
    req: HttpRequest,
    body: Result<Input<GenerateRequest>, ApiError>,
) -> Result<HttpResponse, Detail> {
    let Input(body) = body?;
    let site_key = site_of(&state, &req, body.site_key.as_deref())?;
    let kind = body.kind.as_deref().unwrap_or("image");
    if !matches!(kind, "image" | "math") {
        return Err(Detail::new(StatusCode::BAD_REQUEST, "type must be image or math"));
    }
    state.limits.generate(&state.store, &site_key).await.map_err(rate_limited)?;
    let ttl = state.config.challenge.ttl_secs;
    let res = if kind == "math" {
        let (record, question) = captcha::make_math(&state, site_key).await?;
        GenerateResponse {
            captcha_id: record.id,
            kind: kind.into(),
            image: None,
            question: Some(question),
            expires_in: ttl,
            expires_at: record.expires_at,
        }
    } else {
        let made = captcha::make_text(&state, GENERATE_SPEC, Lang::En, Some(site_key), None).await?;
        GenerateResponse {
            image: Some(made.data_url()),
            captcha_id: made.record.id,
            kind: kind.into(),
            question: None,
            expires_in: ttl,
            expires_at: made.record.expires_at,
        }
    };
    Ok(no_store(&mut HttpResponse::Ok()).json(res))
}

/// `POST /api/validate {site_key, captcha_id, user_input}` → `{valid, token}`.
#[utoipa::path(
    post, path = routes::API_VALIDATE, tag = "generate-validate",
    summary = "Check an answer once; a right one gets a verdict token that /verify accepts",
    description = "200 an hour per site key, failed attempts included.",
    request_body(content((ValidateRequest = "application/json"), (ValidateRequest = "application/x-www-form-urlencoded"))),
    responses(
        (status = 200, description = "`{valid: true, token}` for a right answer, else `{valid: false}`", body = ValidateResponse),
        (status = 400, description = "A missing field, a bad body", body = DetailError),
        (status = 403, description = "An unknown site key, or an origin that is not the site's", body = DetailError),
        (status = 413, description = "The body is too large", body = DetailError),
        (status = 415, description = "Not JSON or a form", body = DetailError),
        (status = 429, description = "Too many for this site key; see `Retry-After`", body = DetailError),
        (status = 503, description = "The store is unavailable", body = DetailError),
    )
)]
pub(crate) async fn validate(
    state: Data,
    req: HttpRequest,
    body: Result<Input<ValidateRequest>, ApiError>,
) -> Result<HttpResponse, Detail> {
    let Input(body) = body?;
    let site_key = site_of(&state, &req, body.site_key.as_deref())?;
    let id = body.captcha_id.filter(|i| !i.is_empty());
    let id = id.ok_or_else(|| Detail::new(StatusCode::BAD_REQUEST, "captcha_id is required"))?;
    let input = body.user_input.ok_or_else(|| Detail::new(StatusCode::BAD_REQUEST, "user_input is required"))?;
    // Every attempt counts, failed ones included.
    state.limits.validate(&state.store, &site_key).await.map_err(rate_limited)?;
    let outcome = captcha::answer(&state, &id, &input, |c| c.site_key.as_deref() == Some(&site_key)).await?;
    let res = match outcome {
        Answered::Checked { right: true, .. } => {
            ValidateResponse { valid: true, token: Some(sign(&state, &req, site_key).await?) }
        }
        _ => ValidateResponse { valid: false, token: None },
    };
    Ok(no_store(&mut HttpResponse::Ok()).json(res))
}

/// A verdict for a solved generate/validate challenge.
async fn sign(state: &State, req: &HttpRequest, site_key: String) -> Result<String, ApiError> {
    let score = test_keys::site(&site_key).map_or(CAPTCHA_ONLY_SCORE, |b| b.score());
    let verdict = PendingVerdict {
        session_id: random::ordered_id(SESSION_PREFIX),
        binding: None,
        hostname: page_origin(req).map(|o| hostname_of(&o)).unwrap_or_default(),
        action: None,
        cdata: None,
        score,
        reasons: vec!["captcha_only".to_owned()],
        attempts_left: 0,
        refreshes_left: 0,
    };
    Ok(session::issue(state, site_key, verdict).await?.0)
}

/// `GET /challenge/{id}/audio?lang=en|fr`: the spoken step-up challenge.
#[utoipa::path(
    get, path = routes::CHALLENGE_AUDIO, tag = "widget",
    summary = "The step-up challenge, spoken",
    params(("id" = String, Path, description = "The step-up's `challenge_id`"), LangQuery),
    responses(
        (status = 200, description = "8-bit PCM WAV at 11025 Hz", content(("audio/wav"))),
        (status = 400, description = "`bad_request`: `lang` is not `en` or `fr`", body = ErrorBody),
        (status = 404, description = "`challenge_not_found`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 503, description = "`store_unavailable`", body = ErrorBody),
    )
)]
pub(crate) async fn step_up_audio(
    state: Data,
    req: HttpRequest,
    id: web::Path<String>,
    q: web::Query<LangQuery>,
) -> Result<HttpResponse, ApiError> {
    state.limits.captchetat(&state.store, &client_ip(&req, &state.config.trusted_proxies)).await?;
    let lang = match q.lang.as_deref() {
        None => None,
        Some(l) => Some(Lang::parse(l).ok_or_else(|| ApiError::bad_request("lang must be en or fr"))?),
    };
    let wav = captcha::audio(&state, &id, lang).await?;
    Ok(no_store(&mut HttpResponse::Ok()).content_type(crate::challenge::audio::CONTENT_TYPE).body(wav))
}

/// `?lang=`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct LangQuery {
    /// `en` or `fr`; default the challenge's own.
    lang: Option<String>,
}

/// CORS for calls from pages: any origin may ask, without credentials (the
/// site key and its origins are checked per request where they apply).
fn open_cors(methods: &[&'static str]) -> Cors {
    Cors::default()
        .allow_any_origin()
        .allowed_methods(methods.iter().copied())
        .allowed_headers([header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers(["X-Captcha-Uuid"])
        .max_age(86_400)
}

/// Registers the compatibility routes and the step-up audio.
pub fn configure(cfg: &mut web::ServiceConfig, method_not_allowed: fn() -> actix_web::Route) {
    cfg.service(
        web::resource(routes::CHALLENGE_AUDIO)
            .wrap(open_cors(&["GET"]))
            .route(web::get().to(step_up_audio))
            .default_service(method_not_allowed()),
    )
    .service(
        web::resource(routes::CAPTCHETAT)
            .wrap(open_cors(&["GET"]))
            .route(web::get().to(captchetat))
            .default_service(method_not_allowed()),
    )
    .service(
        web::resource(routes::CAPTCHETAT_VALIDATE)
            .wrap(open_cors(&["POST"]))
            .route(web::post().to(captchetat_validate))
            .default_service(method_not_allowed()),
    )
    .service(web::resource(routes::HEALTHCHECK).route(web::get().to(healthcheck)).default_service(method_not_allowed()))
    .service(
        web::resource(routes::API_GENERATE)
            .wrap(open_cors(&["POST"]))
            .route(web::post().to(generate))
            .default_service(method_not_allowed()),
    )
    .service(
        web::resource(routes::API_VALIDATE)
            .wrap(open_cors(&["POST"]))
            .route(web::post().to(validate))
            .default_service(method_not_allowed()),
    );
}
