//! The web client: the files under `web/`, compiled into the binary (no
//! build step, nothing fetched from elsewhere) and served under `/app/`.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS};
use actix_web::{web, HttpResponse};
use lyceum_protocol::ErrorCode;

use crate::error::ApiError;

const FILES: &[(&str, &str, &str)] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../web/index.html"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web/app.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../web/style.css"),
    ),
];

fn serve(name: &str) -> Result<HttpResponse, ApiError> {
    let (_, ctype, body) = FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such file"))?;
    Ok(HttpResponse::Ok()
        .content_type(*ctype)
        .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        // Everything the page needs comes from this origin.
        .insert_header((
            CONTENT_SECURITY_POLICY,
            "default-src 'self'; connect-src 'self' ws: wss:; media-src 'self' blob: mediastream:; img-src 'self' data:; object-src 'none'; base-uri 'none'",
        ))
        .body(*body))
}

pub async fn index() -> Result<HttpResponse, ApiError> {
    serve("index.html")
}

pub async fn file(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve(&path.into_inner())
}
