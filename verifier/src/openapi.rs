//! `GET /openapi.json`: the OpenAPI 3.1 description of every route the
//! verifier registers, generated from the handlers' `#[utoipa::path]`
//! attributes and the wire types' `ToSchema` derives (`oculto-shared`'s
//! `openapi` feature), so it cannot drift from the code. The demo's pages
//! (`--demo`) are not part of the API and are left out.

use std::sync::OnceLock;

use oculto_shared::api::{StatsDistribution, StatsRecent, StatsSummary};
use oculto_shared::signals::{
    Click, FocusChange, KeyTiming, PointerKind, PointerSample, ScrollSample, TouchKind, TouchSample, VisibilityChange,
};
use utoipa::OpenApi;

use crate::{compat, routes, widget};

/// What `GET /stats` answers, by its `action`.
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
pub enum StatsAnswer {
    /// `action=summary` (the default).
    Summary(StatsSummary),
    /// `action=recent`.
    Recent(StatsRecent),
    /// `action=distribution`.
    Distribution(StatsDistribution),
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Oculto verifier",
        description = "Oculto's HTTP API: the widget's calls (`/init`, `/score`), the site backend's \
            (`/verify`, `/siteverify`, `/stats`, the JWK set), the CaptchEtat-style and generate/validate \
            compatibility APIs, and the operators' (`/health`, `/metrics`, this document).\n\n\
            Errors are `{\"error\": \"<code>\", \"message\": \"...\"}` (the generate/validate API's are \
            `{\"detail\": \"...\"}`). Every route answers 405 `method_not_allowed` to another method, and \
            unknown paths answer 404 `not_found`."
    ),
    paths(
        routes::init,
        routes::score,
        compat::step_up_audio,
        routes::verify,
        routes::siteverify,
        routes::stats,
        routes::jwks,
        routes::health,
        routes::metrics,
        routes::openapi,
        compat::captchetat,
        compat::captchetat_validate,
        compat::healthcheck,
        compat::generate,
        compat::validate,
        widget::file,
    ),
    // The signals' sample lists name these by `$ref` (layout-1 objects).
    components(schemas(
        PointerSample, PointerKind, TouchSample, TouchKind, Click, KeyTiming, ScrollSample, FocusChange, VisibilityChange
    )),
    tags(
        (name = "widget", description = "Called by the widget in pages"),
        (name = "backend", description = "Called by a site's backend with its API key"),
        (name = "operators", description = "Health, metrics and this document"),
        (name = "captchetat", description = "Compatible with CaptchEtat's endpoints"),
        (name = "generate-validate", description = "A plain captcha API whose tokens /verify accepts"),
    )
)]
pub struct ApiDoc;

/// The document as JSON, made once.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oculto_shared::api::routes as paths;

    /// Every route `configure` registers is in the document (tracker issue 6).
    #[test]
    fn documents_every_route() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let documented: Vec<&str> = doc["paths"].as_object().unwrap().keys().map(String::as_str).collect();
        for path in [
            paths::INIT,
            paths::SCORE,
            paths::VERIFY,
            paths::SITEVERIFY,
            paths::STATS,
            paths::HEALTH,
            paths::JWKS,
            paths::CHALLENGE_AUDIO,
            paths::CAPTCHETAT,
            paths::CAPTCHETAT_VALIDATE,
            paths::HEALTHCHECK,
            paths::API_GENERATE,
            paths::API_VALIDATE,
            paths::METRICS,
            paths::OPENAPI,
            paths::WIDGET_FILE,
        ] {
            assert!(documented.contains(&path), "{path} is not documented; documented: {documented:?}");
        }
        assert_eq!(documented.len(), 16, "{documented:?}");
    }

    /// Every route registered in the verifier's sources (`web::resource(..)`,
    /// `.route(..)`) names a path constant listed above, so a new route
    /// cannot be left out of the document. The demo's pages are not the API.
    #[test]
    fn every_registration_is_a_documented_constant() {
        let this = include_str!("openapi.rs");
        let listed = &this[this.find("fn documents_every_route").unwrap()..];
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut registrations = 0;
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("demo.rs") || path.ends_with("openapi.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for opener in ["web::resource(", "cfg.route(", ".route(\"", "web::scope("] {
                for (at, _) in text.match_indices(opener) {
                    let arg = &text[at + opener.len()..];
                    let arg = arg[..arg.find([')', ',']).unwrap()].trim();
                    let name = arg.strip_prefix("routes::").unwrap_or_else(|| {
                        panic!("{}: a route registered as {arg:?}, not a routes:: constant", path.display())
                    });
                    assert!(listed.contains(&format!("paths::{name},")), "routes::{name} is not documented");
                    registrations += 1;
                }
            }
        }
        assert!(registrations >= 16, "found only {registrations} registrations");
    }
}
