//! The pages' stylesheet and scripts, compiled into the binary from
//! `web/assets/` and served under `/assets/`.

use actix_web::http::header::{CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS};
use actix_web::{web, HttpResponse};
use lyceum_protocol::ErrorCode;

use crate::error::ApiError;

macro_rules! assets {
    ($( $name:literal => $ctype:literal ),* $(,)?) => {
        /// Every asset: (name, content type, body).
        pub const ASSETS: &[(&str, &str, &str)] = &[
            $( ($name, $ctype, include_str!(concat!("../../web/assets/", $name))), )*
        ];
    };
}

assets! {
    "site.css" => "text/css; charset=utf-8",
    "site.js" => "text/javascript; charset=utf-8",
    "mentor.js" => "text/javascript; charset=utf-8",
    "notifications.js" => "text/javascript; charset=utf-8",
    "calendar.js" => "text/javascript; charset=utf-8",
    "profile.js" => "text/javascript; charset=utf-8",
    "sessions.js" => "text/javascript; charset=utf-8",
    "bookings.js" => "text/javascript; charset=utf-8",
    "boards.js" => "text/javascript; charset=utf-8",
    "chat.js" => "text/javascript; charset=utf-8",
    "chat-list.js" => "text/javascript; charset=utf-8",
    "e2ee.js" => "text/javascript; charset=utf-8",
    "chat-e2ee.js" => "text/javascript; charset=utf-8",
}

pub async fn asset(path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = path.into_inner();
    let (_, ctype, body) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such file"))?;
    Ok(HttpResponse::Ok()
        .content_type(*ctype)
        .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((CACHE_CONTROL, "public, max-age=300"))
        .body(*body))
}
