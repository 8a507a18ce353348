//! The demo (`oculto serve --demo`): a registered demo site whose pages are
//! served from `www/`, and a small "site backend" at `/demo/submit` that
//! checks the form's verdict with the demo site's API key, as a real site's
//! backend would.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use oculto_shared::FORM_FIELD;

use crate::body::Input;
use crate::sites::hash_api_key;
use crate::store::{SiteRecord, StepUpPolicy, Store, StoreError};
use crate::{clock, random, verdict, State};

/// One demo site's keys, held in memory for the demo backend.
pub struct DemoKeys {
    /// Its site key.
    pub site_key: String,
    /// Its API key, made anew at each start.
    pub api_key: String,
}

/// The demo's two sites: the usual one, and one that always asks for a
/// step-up challenge (`/?challenge=always`), to show what the few people
/// who get one see.
pub struct DemoSite {
    /// Step-up when suspicious, the default.
    pub main: DemoKeys,
    /// Step-up always.
    pub step_up: DemoKeys,
}

/// Registers the demo sites (or reuses them) for the origins of `port`, with
/// fresh API keys.
pub async fn prepare(store: &Store, port: u16) -> Result<DemoSite, StoreError> {
    let origins = vec![format!("http://127.0.0.1:{port}"), format!("http://localhost:{port}")];
    let main = prepare_one(store, "demo", &origins, StepUpPolicy::Never).await?;
    let step_up = prepare_one(store, "demo (step-up always)", &origins, StepUpPolicy::Always).await?;
    Ok(DemoSite { main, step_up })
}

async fn prepare_one(
    store: &Store,
    name: &str,
    origins: &[String],
    step_up: StepUpPolicy,
) -> Result<DemoKeys, StoreError> {
    let api_key = random::secret(oculto_shared::API_KEY_PREFIX);
    let existing = store.sites().await?.into_iter().find(|s| s.name == name && s.origins == origins);
    let site_key = match existing {
        Some(site) => {
            store.set_api_key_hash(&site.site_key, hash_api_key(&api_key)).await?;
            site.site_key
        }
        None => {
            let site_key = random::id(oculto_shared::SITE_KEY_PREFIX);
            store
                .add_site(SiteRecord {
                    site_key: site_key.clone(),
                    name: name.into(),
                    origins: origins.to_vec(),
                    threshold: 50,
                    step_up,
                    api_key_hash: hash_api_key(&api_key),
                    created_at: clock::now_secs(),
                })
                .await?;
            site_key
        }
    };
    Ok(DemoKeys { site_key, api_key })
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// The demo pages, with the demo site key and the verifier's address filled
/// in.
async fn page(state: web::Data<State>, req: HttpRequest) -> HttpResponse {
    let Some(demo) = &state.demo else { return HttpResponse::NotFound().finish() };
    let name = match req.path() {
        "/" | "/index.html" => "index.html",
        "/embed.html" => "embed.html",
        _ => return HttpResponse::NotFound().finish(),
    };
    let Ok(text) = std::fs::read_to_string(state.config.www_dir.join(name)) else {
        return HttpResponse::NotFound().finish();
    };
    let info = req.connection_info();
    let verifier = format!("{}://{}", info.scheme(), info.host());
    let always = req.query_string().split('&').any(|p| p == "challenge=always");
    let keys = if always { &demo.step_up } else { &demo.main };
    html(text.replace("__SITE_KEY__", &keys.site_key).replace("__VERIFIER__", &escape(&verifier)))
}

/// `POST /demo/submit`: what a site's backend does with the form.
async fn submit(state: web::Data<State>, form: Input<std::collections::HashMap<String, String>>) -> HttpResponse {
    let Some(demo) = &state.demo else { return HttpResponse::NotFound().finish() };
    let token = form.0.get(FORM_FIELD).map(String::as_str);
    let name = form.0.get("name").map(String::as_str).unwrap_or("");
    // Which of the demo's sites the token says it is for picks the API key;
    // the check itself trusts nothing in it.
    let sub = token.and_then(|t| oculto_shared::token::decode(t).ok()).map(|p| p.claims.sub);
    let keys = if sub.as_deref() == Some(demo.step_up.site_key.as_str()) { &demo.step_up } else { &demo.main };
    let body = match verdict::check(&state, token, Some(&keys.api_key), None).await {
        Ok(v) => {
            let cls = v.classification.as_str();
            let reasons = if v.reasons.is_empty() { "none".to_owned() } else { v.reasons.join(", ") };
            let outcome = if v.valid { "Account created" } else { "Sign-up held for review" };
            format!(
                "<h1>{outcome}</h1><p class=lead>Welcome, {}. This is what the backend learned from <code>/verify</code>:</p>\
                 <dl class=verdict><dt>valid</dt><dd>{}</dd><dt>score</dt><dd>{} / 100</dd>\
                 <dt>classification</dt><dd><span class=\"badge {cls}\">{cls}</span></dd>\
                 <dt>reasons</dt><dd>{}</dd><dt>hostname</dt><dd>{}</dd><dt>action</dt><dd>{}</dd></dl>\
                 <details><summary>Raw answer</summary><pre>{}</pre></details>",
                escape(name),
                v.valid,
                v.score,
                escape(&reasons),
                escape(&v.hostname),
                escape(v.action.as_deref().unwrap_or("")),
                escape(&serde_json::to_string_pretty(&v).unwrap_or_default()),
            )
        }
        Err(r) => {
            let e = crate::error::ApiError::from(r);
            format!(
                "<h1>Not accepted</h1><p class=lead>The backend refused the form: <code>{}</code>, {}.</p>",
                escape(&serde_json::to_string(&e.code).unwrap_or_default()),
                escape(&e.message)
            )
        }
    };
    html(format!(
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content=\"width=device-width, initial-scale=1\">\
         <title>Northwind Books · Sign-up</title><link rel=stylesheet href=/demo.css>\
         <header class=top><a class=logo href=/>Northwind Books</a></header>\
         <main class=card>{body}<p><a href=/>Back to the form</a></p></main></html>"
    ))
}

/// Registers the demo routes and the static pages.
pub fn configure(cfg: &mut web::ServiceConfig, www: &std::path::Path) {
    cfg.route("/demo/submit", web::post().to(submit))
        .route("/", web::get().to(page))
        .route("/index.html", web::get().to(page))
        .route("/embed.html", web::get().to(page))
        .service(actix_files::Files::new("/", www));
}
