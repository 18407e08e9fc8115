//! The live room's web client: the files under `web/`, compiled into the binary (no
//! build step, nothing fetched from elsewhere) and served under `/app/`.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS};
use actix_web::{web, HttpResponse};
use lyceum_protocol::ErrorCode;

use crate::error::ApiError;
use crate::state::AppState;
use crate::web::Viewer;

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

/// The page itself carries the viewer's CSRF token (as every page does), so
/// a page sign-in gets the live room its access tokens from `POST
/// /web/token`, which rotates nothing: any number of tabs share the sign-in.
async fn index_page(state: &AppState, viewer: &Viewer) -> Result<HttpResponse, ApiError> {
    let (_, ctype, body) = FILES[0];
    let meta = format!(
        r#"<meta charset="utf-8">
  <meta name="csrf-token" content="{}">"#,
        viewer.csrf
    );
    let html = body.replacen(r#"<meta charset="utf-8">"#, &meta, 1);
    let mut res = serve("index.html")?;
    res.headers_mut().insert(
        actix_web::http::header::CONTENT_TYPE,
        actix_web::http::header::HeaderValue::from_static(ctype),
    );
    for c in viewer.cookies(&state.web) {
        res.add_cookie(&c)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("a cookie: {e}")))?;
    }
    Ok(res.set_body(actix_web::body::BoxBody::new(html)))
}

pub async fn index(state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, ApiError> {
    index_page(&state, &viewer).await
}

pub async fn file(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    match path.into_inner().as_str() {
        "" | "index.html" => index_page(&state, &viewer).await,
        name => serve(name),
    }
}
