//! HTTP routes by domain: `accounts`, `chat`, `calendar`, the mentor
//! `directory`, `ops` (health and metrics) and the `web_app` files. Each
//! module owns one resource family; `configure` mounts them all, and the
//! JSON error rules for extractor failures live here.

pub mod accounts;
pub mod calendar;
pub mod chat;
pub mod directory;
pub mod json;
pub mod ops;
pub mod web_app;

use accounts::{admin, auth, keys, me, two_factor, users};
use calendar::{feeds, notes, sessions, slots};
use chat::{attachments, guests, rooms, ws};
use ops::{health, metrics};

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{web, HttpResponse};
use lyceum_protocol::ErrorCode;

use crate::error::{status_of, ApiError, ErrorBody};

/// The largest JSON body any route accepts.
pub const MAX_JSON_BYTES: usize = 64 * 1024;
/// The most `chat.max_attachment_bytes` may be: uploads are streamed to
/// disk, so this bounds disk per file, not memory.
pub const MAX_ATTACHMENT_PAYLOAD: usize = 64 * 1024 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::JsonConfig::default().limit(MAX_JSON_BYTES).error_handler(|e, _| {
        let code = match &e {
            actix_web::error::JsonPayloadError::OverflowKnownLength { .. }
            | actix_web::error::JsonPayloadError::Overflow { .. } => ErrorCode::PayloadTooLarge,
            actix_web::error::JsonPayloadError::ContentType => ErrorCode::UnsupportedMediaType,
            _ => ErrorCode::InvalidJson,
        };
        ApiError::new(code, e.to_string()).into()
    }))
    .app_data(
        web::QueryConfig::default().error_handler(|e, _| ApiError::new(ErrorCode::InvalidQuery, e.to_string()).into()),
    )
    .app_data(
        web::PathConfig::default().error_handler(|e, _| ApiError::new(ErrorCode::InvalidPath, e.to_string()).into()),
    )
    .service(web::resource("/healthz").route(web::get().to(health::healthz)))
    .service(web::resource("/readyz").route(web::get().to(health::readyz)))
    .service(web::resource("/ws").route(web::get().to(ws::upgrade)))
    .service(web::resource("/metrics").route(web::get().to(metrics::metrics)))
    .service(web::resource("/").route(web::get().to(web_app::root)))
    .service(web::resource("/app").route(web::get().to(web_app::index)))
    .service(web::resource("/app/{file}").route(web::get().to(web_app::file)))
    .service(web::resource("/calendar/{token}").route(web::get().to(feeds::feed)))
    .service(
        web::scope("/api")
            .service(
                web::scope("/auth")
                    .service(web::resource("/register").route(web::post().to(auth::register)))
                    .service(web::resource("/login").route(web::post().to(auth::login)))
                    .service(web::resource("/refresh").route(web::post().to(auth::refresh)))
                    .service(web::resource("/logout").route(web::post().to(auth::logout)))
                    .service(web::resource("/logout-all").route(web::post().to(auth::logout_all))),
            )
            .service(web::resource("/me").route(web::get().to(me::get_me)))
            .service(web::resource("/me/2fa").route(web::get().to(two_factor::status)))
            .service(web::resource("/me/2fa/enroll").route(web::post().to(two_factor::enroll)))
            .service(web::resource("/me/2fa/confirm").route(web::post().to(two_factor::confirm)))
            .service(web::resource("/me/2fa/disable").route(web::post().to(two_factor::disable)))
            .service(
                web::resource("/me/2fa/recovery-codes").route(web::post().to(two_factor::regenerate_recovery_codes)),
            )
            .service(
                web::resource("/me/profile")
                    .route(web::get().to(me::get_profile))
                    .route(web::patch().to(me::patch_profile)),
            )
            .service(web::resource("/users/{id}").route(web::get().to(users::get_user)))
            .service(web::resource("/mentors").route(web::get().to(directory::search)))
            .service(web::resource("/admin/audit").route(web::get().to(admin::audit)))
            .service(web::resource("/admin/users/{id}/role").route(web::put().to(admin::set_role)))
            .service(web::resource("/ws/ticket").route(web::post().to(ws::ticket)))
            .service(web::resource("/me/public-key").route(web::put().to(keys::publish)))
            .service(web::resource("/users/{id}/public-key").route(web::get().to(keys::get)))
            .service(
                web::resource("/rooms")
                    .route(web::get().to(rooms::list_mine))
                    .route(web::post().to(rooms::create)),
            )
            .service(web::resource("/rooms/public").route(web::get().to(rooms::list_public)))
            .service(web::resource("/rooms/direct").route(web::post().to(rooms::open_direct)))
            .service(web::resource("/rooms/{id}").route(web::get().to(rooms::get)))
            .service(web::resource("/rooms/{id}/join").route(web::post().to(rooms::join)))
            .service(web::resource("/rooms/{id}/guests").route(web::post().to(guests::join_as_guest)))
            .service(web::resource("/rooms/{id}/members").route(web::post().to(rooms::invite)))
            .service(web::resource("/rooms/{id}/members/{user}").route(web::delete().to(rooms::remove_member)))
            .service(web::resource("/rooms/{id}/members/{user}/mute").route(web::put().to(rooms::mute)))
            .service(web::resource("/rooms/{id}/members/{user}/role").route(web::put().to(rooms::set_room_role)))
            .service(
                web::resource("/rooms/{id}/messages")
                    .route(web::get().to(rooms::history))
                    .route(web::post().to(rooms::send)),
            )
            .service(web::resource("/rooms/{id}/messages/{seq}").route(web::delete().to(rooms::delete_message)))
            .service(web::resource("/rooms/{id}/attachments").route(web::post().to(attachments::upload)))
            .service(web::resource("/attachments/{id}").route(web::get().to(attachments::download)))
            .service(
                web::scope("/slots")
                    .service(web::resource("").route(web::post().to(slots::create)))
                    .service(web::resource("/recurring").route(web::post().to(slots::create_recurring)))
                    .service(web::resource("/alumni/{alumni_id}").route(web::get().to(slots::of_mentor)))
                    .service(web::resource("/my-slots").route(web::get().to(slots::my_slots)))
                    .service(web::resource("/book").route(web::post().to(slots::book)))
                    .service(web::resource("/cancel").route(web::post().to(slots::cancel)))
                    .service(web::resource("/my-bookings").route(web::get().to(slots::my_bookings)))
                    .service(web::resource("/{slot_id}/bookings").route(web::get().to(slots::bookings_of)))
                    .service(web::resource("/{slot_id}").route(web::delete().to(slots::delete))),
            )
            .service(
                web::resource("/sessions")
                    .route(web::get().to(sessions::browse))
                    .route(web::post().to(sessions::create)),
            )
            .service(web::resource("/sessions/{id}").route(web::get().to(sessions::get)))
            .service(web::resource("/sessions/{id}/register").route(web::post().to(sessions::register)))
            .service(web::resource("/sessions/{id}/unregister").route(web::post().to(sessions::unregister)))
            .service(web::resource("/sessions/{id}/registrations").route(web::get().to(slots::bookings_of)))
            .service(web::resource("/sessions/{id}/{action}").route(web::post().to(sessions::transition)))
            .service(
                web::resource("/offerings/{id}/notes")
                    .route(web::get().to(notes::get_note))
                    .route(web::put().to(notes::put_note)),
            )
            .service(web::resource("/calendar/feed").route(web::get().to(feeds::feed_url)))
            .service(web::resource("/calendar/feed/{rotate}").route(web::post().to(feeds::feed_url)))
            .service(web::resource("/bookings/{file}").route(web::get().to(feeds::booking_ics)))
            .service(web::resource("/notifications").route(web::get().to(notes::notifications))),
    )
    .default_service(web::to(|| async {
        HttpResponse::from_error(ApiError::new(ErrorCode::NotFound, "no such route"))
    }));
}

/// Refuses a request whose path or query holds an encoded NUL (`%00`):
/// 400 `invalid_text` before any route sees it. (A raw NUL cannot be in a
/// request line; `%00` is the only way one gets into a path or a query
/// parameter, and no parameter accepts it.)
pub async fn refuse_nul(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let uri = req.uri();
    if uri.path().contains("%00") || uri.query().is_some_and(|q| q.contains("%00")) {
        return Err(ApiError::new(
            ErrorCode::InvalidText,
            "the address must not contain an encoded NUL (%00)",
        )
        .into());
    }
    next.call(req).await
}

/// Turns any error response that is not already JSON (a 405 from the router,
/// a 413 from the payload limit) into the API's one error shape.
pub fn json_errors<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .response()
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let code = match status.as_u16() {
        401 => ErrorCode::Unauthorized,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        405 => ErrorCode::MethodNotAllowed,
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        s if s >= 500 => ErrorCode::Internal,
        _ => ErrorCode::BadRequest,
    };
    let body = serde_json::to_string(&ErrorBody {
        error: code.as_str(),
        message: status.canonical_reason().unwrap_or("error").to_lowercase(),
    })
    .unwrap_or_default();
    let (req, mut res) = res.into_parts();
    // A code has one status wherever it is sent: a framework 413 or 415
    // becomes the 400 the JSON routes give `payload_too_large` and
    // `unsupported_media_type`.
    *res.status_mut() = status_of(code);
    let mut res = res.set_body(BoxBody::new(body));
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let res: ServiceResponse<EitherBody<B, BoxBody>> = ServiceResponse::new(req, res).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}
