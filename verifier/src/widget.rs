//! Serves the built widget at `/widget/`: the `oculto.js` loader (cached
//! briefly, so a new release reaches pages soon), and the content-hashed
//! module, glue and wasm (cached for a year, immutable). Pages on other
//! origins load these as ES modules, so they carry CORS headers.

use actix_files::NamedFile;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use oculto_shared::api::{routes, ErrorBody, ErrorCode};

use crate::error::ApiError;
use crate::State;

/// Whether a file name is one the build makes: no paths, no dot files.
fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Whether a name carries a content hash (`name.<hex>.ext`).
fn hashed(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() >= 3
        && parts[parts.len() - 2].len() >= 8
        && parts[parts.len() - 2].bytes().all(|b| b.is_ascii_hexdigit())
}

/// `GET /widget/{file}`.
#[utoipa::path(
    get, path = routes::WIDGET_FILE, tag = "widget",
    summary = "The built widget: the `oculto.js` loader and its content-hashed files",
    params(("file" = String, Path, description = "`oculto.js`, `manifest.json`, or a content-hashed name it lists")),
    responses(
        (status = 200, description = "The file, with CORS headers; hashed names are cached for a year",
            content(("text/javascript"), ("application/wasm"), ("application/json"))),
        (status = 404, description = "`not_found`: no such file, or the widget was not built", body = ErrorBody),
    )
)]
pub(crate) async fn file(
    state: web::Data<State>,
    name: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let missing = || ApiError::new(ErrorCode::NotFound, "no such widget file; was the widget built (make widget)?");
    if !safe_name(&name) {
        return Err(missing());
    }
    let f = NamedFile::open_async(state.config.widget_dir.join(&name)).await.map_err(|_| missing())?;
    let mut res = f.use_etag(true).use_last_modified(true).into_response(&req);
    let cache = if hashed(&name) { "public, max-age=31536000, immutable" } else { "public, max-age=300" };
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, header::HeaderValue::from_static(cache));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, header::HeaderValue::from_static("*"));
    h.insert(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        header::HeaderValue::from_static("cross-origin"),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    Ok(res)
}

/// Registers `/widget/{file}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(routes::WIDGET_FILE)
            .route(web::get().to(file))
            .default_service(web::to(crate::routes::method_not_allowed)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(safe_name("oculto.js"));
        assert!(safe_name("oculto_widget_bg.0123abcd4567.wasm"));
        assert!(!safe_name("../oculto.db"));
        assert!(!safe_name(".env"));
        assert!(!safe_name("a/b.js"));
        assert!(hashed("api.0123abcd4567.js"));
        assert!(!hashed("oculto.js"));
        assert!(!hashed("manifest.json"));
    }
}
