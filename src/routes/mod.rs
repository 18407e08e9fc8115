//! HTTP routes by domain: `accounts`, `chat`, `calendar`, the mentor
//! `directory`, the discussion `boards`, `notifications`, `reviews` (both ways, the
//! moderation queue), `mentorships`, `matching`, `goals`, `dashboard`, `live` (the TURN relay for live rooms), `ops` (health and metrics); the pages and the live room's files are in `crate::web`. Each
//! module owns one resource family; `configure` mounts them all (from the
//! one route table, `ROUTES`), and the
//! JSON error rules for extractor failures live here.

pub mod accounts;
pub mod boards;
pub mod calendar;
pub mod chat;
pub mod dashboard;
pub mod directory;
pub mod goals;
pub mod json;
pub mod live;
pub mod matching;
pub mod mentorships;
pub mod notifications;
pub mod ops;
pub mod paging;
pub mod reviews;

use accounts::{admin, auth, avatar, keys, me, two_factor, users};
use calendar::{attendance, feeds, notes, sessions, slots};
use chat::{attachments, guests, rooms, ws};
use ops::{health, metrics};

use actix_web::body::{BoxBody, EitherBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::http::Method;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{web, HttpResponse};
use lyceum_protocol::ErrorCode;

use crate::error::{status_of, ApiError, ErrorBody};

/// The largest JSON body any route accepts.
pub const MAX_JSON_BYTES: usize = 64 * 1024;
/// The most `chat.max_attachment_bytes` may be: uploads are streamed to
/// disk, so this bounds disk per file, not memory.
pub const MAX_ATTACHMENT_PAYLOAD: usize = 64 * 1024 * 1024;

/// The route table: every HTTP route the server mounts, in matching order
/// (a literal segment before a `{param}` at the same place). It mounts the
/// routes (`mount`) and lists them (`ROUTES`), so the list cannot drift from
/// what is served; tests/api/authz.rs fails on a route it has no rows for.
/// One line per path: `"path" [app_data, …]? => { METHOD handler, … }`.
macro_rules! route_table {
    ($( $path:literal $( [ $($data:expr),* $(,)? ] )? => { $( $method:ident $handler:path ),+ $(,)? } ),* $(,)?) => {
        /// Every mounted route as (method, path pattern), in mounting order.
        pub const ROUTES: &[(&str, &str)] = &[ $( $( (stringify!($method), $path), )+ )* ];

        fn mount(cfg: &mut web::ServiceConfig) {
            $(
                cfg.service(
                    web::resource($path)
                        $( $( .app_data($data) )* )?
                        $( .route(web::method(Method::$method).to($handler)) )+
                );
            )*
        }
    };
}

route_table! {
    "/healthz" => { GET health::healthz },
    "/readyz" => { GET health::readyz },
    "/ws" => { GET ws::upgrade },
    "/metrics" => { GET metrics::metrics },
    "/" => { GET crate::web::home::landing },
    "/signin" => { GET crate::web::auth_pages::sign_in_page, POST crate::web::auth_pages::sign_in },
    "/signup" => { GET crate::web::auth_pages::sign_up_page, POST crate::web::auth_pages::sign_up },
    "/signout" => { POST crate::web::auth_pages::sign_out },
    "/web/token" => { POST crate::web::auth_pages::token },
    "/assets/{file}" => { GET crate::web::assets::asset },
    "/mentors" => { GET crate::web::mentors::directory_page },
    "/mentors/{id}" => { GET crate::web::mentors::mentor_page },
    "/mentors/{id}/book" => { POST crate::web::mentors::book },
    "/sessions" => { GET crate::web::sessions::list_page },
    "/sessions/{id}" => { GET crate::web::sessions::session_page },
    "/sessions/{id}/register" => { POST crate::web::sessions::register },
    "/bookings" => { GET crate::web::bookings::bookings_page },
    "/bookings/cancel" => { POST crate::web::bookings::cancel },
    "/bookings/review" => { POST crate::web::bookings::review },
    "/bookings/{file}" => { GET crate::web::bookings::ics },
    "/matching" => { GET crate::web::mentorships::matching_page },
    "/dashboard" => { GET crate::web::mentorships::dashboard_page },
    "/mentorships" => { GET crate::web::mentorships::mentorships_page, POST crate::web::mentorships::request },
    "/mentorships/{id}/{action}" => { POST crate::web::mentorships::act },
    "/notifications" => { GET crate::web::bookings::notifications_page },
    "/notifications/preferences" => { POST crate::web::bookings::save_preferences },
    "/notifications/read-all" => { POST crate::web::bookings::mark_all_read },
    "/notifications/{id}/read" => { POST crate::web::bookings::mark_read },
    "/boards" => { GET crate::web::boards::boards_page },
    "/boards/threads/{id}" => { GET crate::web::boards::thread_page },
    "/boards/threads" => { POST crate::web::boards::ask },
    "/boards/threads/{id}/replies" => { POST crate::web::boards::answer },
    "/boards/threads/{id}/accept" => { POST crate::web::boards::accept },
    "/boards/threads/{id}/posts/{post}/vote" => { POST crate::web::boards::vote },
    "/boards/threads/{id}/posts/{post}/flag" => { POST crate::web::boards::flag },
    "/boards/threads/{id}/posts/{post}/edit" => { POST crate::web::boards::edit },
    "/boards/threads/{id}/posts/{post}/review" => { POST crate::web::boards::decide },
    "/unsubscribe" => { GET crate::web::unsubscribe::confirm_page, POST crate::web::unsubscribe::unsubscribe },
    "/calendar" => { GET crate::web::calendar::calendar_page },
    "/profile" => { GET crate::web::profile::profile_page, POST crate::web::profile::save },
    "/admin" => { GET crate::web::admin::users_page },
    "/admin/users/{id}/role" => { POST crate::web::admin::set_role },
    "/admin/audit" => { GET crate::web::admin::audit_page },
    "/calendar/availability" => { POST crate::web::calendar::add_one },
    "/calendar/availability/weekly" => { POST crate::web::calendar::add_weekly },
    "/calendar/sessions" => { POST crate::web::calendar::schedule },
    "/calendar/manage/{id}" => { GET crate::web::calendar::manage_page, POST crate::web::calendar::manage },
    "/sitemap.xml" => { GET crate::web::seo::sitemap },
    "/sitemaps/{file}" => { GET crate::web::seo::sitemap_file },
    "/robots.txt" => { GET crate::web::seo::robots },
    "/chat" => { GET crate::web::chat::list_page, POST crate::web::chat::create },
    "/chat/direct" => { POST crate::web::chat::open_direct },
    "/chat/files/{id}" => { GET crate::web::chat::file },
    "/chat/{id}" => { GET crate::web::chat::room_page, POST crate::web::chat::act },
    "/chat/{id}/guest" => { GET crate::web::chat::guest_page },
    "/app" => { GET crate::web::live_room::index },
    "/app/{file}" => { GET crate::web::live_room::file },
    "/calendar/{token}" => { GET feeds::feed },
    "/api/auth/register" => { POST auth::register },
    "/api/auth/login" => { POST auth::login },
    "/api/auth/refresh" => { POST auth::refresh },
    "/api/auth/logout" => { POST auth::logout },
    "/api/auth/logout-all" => { POST auth::logout_all },
    "/api/me" => { GET me::get_me },
    "/api/me/profile" => { GET me::get_profile, PATCH me::patch_profile },
    "/api/me/avatar" => { PUT avatar::put, DELETE avatar::delete },
    "/avatars/{file}" => { GET avatar::serve },
    "/api/me/2fa" => { GET two_factor::status },
    "/api/me/2fa/enroll" => { POST two_factor::enroll },
    "/api/me/2fa/confirm" => { POST two_factor::confirm },
    "/api/me/2fa/disable" => { POST two_factor::disable },
    "/api/me/2fa/recovery-codes" => { POST two_factor::regenerate_recovery_codes },
    "/api/users/{id}" => { GET users::get_user },
    "/api/mentors" => { GET directory::search },
    "/api/admin/audit" => { GET admin::audit },
    "/api/admin/users" => { GET admin::users },
    "/api/admin/users/{id}/role" => { PUT admin::set_role },
    "/api/ws/ticket" => { POST ws::ticket },
    "/api/me/public-key" => { PUT keys::publish },
    "/api/users/{id}/public-key" => { GET keys::get },
    "/api/me/devices/{device}/key" => { PUT keys::put_device },
    "/api/me/devices/{device}" => { DELETE keys::delete_device },
    "/api/users/{id}/devices" => { GET keys::list_devices },
    "/api/users/{id}/reviews" => { GET reviews::of_user },
    "/api/users/{id}/skills" => { GET goals::skills_of },
    "/api/me/skills" => { POST goals::assess },
    "/api/me/reviews" => { GET reviews::mine },
    "/api/me/dashboard" => { GET dashboard::dashboard },
    "/api/reviews" => { POST reviews::create },
    "/api/reviews/{id}" => { PATCH reviews::edit },
    "/api/reviews/{id}/reply" => { POST reviews::reply },
    "/api/reviews/{id}/report" => { POST reviews::report },
    "/api/admin/review-reports" => { GET reviews::reports },
    "/api/admin/review-reports/{id}/resolve" => { POST reviews::resolve },
    "/api/matching" => { POST matching::matching },
    "/api/goals" => { GET goals::list, POST goals::create },
    "/api/goals/{id}" => { GET goals::get },
    "/api/goals/{id}/{action}" => { GET goals::chart, POST goals::update },
    "/api/mentorships" => { GET mentorships::list, POST mentorships::request },
    "/api/mentorships/{id}/{action}" => { POST mentorships::act },
    "/api/rooms" => { GET rooms::list_mine, POST rooms::create },
    "/api/rooms/public" => { GET rooms::list_public },
    "/api/rooms/direct" => { POST rooms::open_direct },
    "/api/rooms/{id}" => { GET rooms::get },
    "/api/rooms/{id}/join" => { POST rooms::join },
    "/api/rooms/{id}/guests" => { POST guests::join_as_guest },
    "/api/rooms/{id}/members" => { POST rooms::invite },
    "/api/rooms/{id}/members/{user}" => { DELETE rooms::remove_member },
    "/api/rooms/{id}/members/{user}/mute" => { PUT rooms::mute },
    "/api/rooms/{id}/members/{user}/role" => { PUT rooms::set_room_role },
    "/api/rooms/{id}/messages" => { GET rooms::history, POST rooms::send },
    "/api/rooms/{id}/messages/{seq}" => { DELETE rooms::delete_message },
    "/api/rooms/{id}/attachments" => { POST attachments::upload },
    "/api/attachments/{id}" => { GET attachments::download },
    "/api/slots" => { POST slots::create },
    "/api/slots/recurring" => { POST slots::create_recurring },
    "/api/slots/alumni/{alumni_id}" => { GET slots::of_mentor },
    "/api/slots/my-slots" => { GET slots::my_slots },
    "/api/slots/book" => { POST slots::book },
    "/api/slots/cancel" => { POST slots::cancel },
    "/api/slots/my-bookings" => { GET slots::my_bookings },
    "/api/slots/{slot_id}/bookings" => { GET slots::bookings_of },
    "/api/slots/{slot_id}" => { DELETE slots::delete },
    "/api/sessions" => { GET sessions::browse, POST sessions::create },
    "/api/sessions/{id}" => { GET sessions::get },
    "/api/sessions/{id}/register" => { POST sessions::register },
    "/api/sessions/{id}/unregister" => { POST sessions::unregister },
    "/api/sessions/{id}/registrations" => { GET slots::bookings_of },
    "/api/sessions/{id}/{action}" => { POST sessions::transition },
    "/api/offerings/{id}/notes" => { GET notes::get_note, PUT notes::put_note },
    "/api/offerings/{id}/attendance" => { POST attendance::mark },
    "/api/calendar/feed" => { GET feeds::feed_url },
    "/api/calendar/feed/{rotate}" => { POST feeds::feed_url },
    "/api/bookings/{file}" => { GET feeds::booking_ics },
    "/api/notifications" => { GET notifications::list },
    "/api/notifications/unread-count" => { GET notifications::unread },
    "/api/notifications/read-all" => { POST notifications::mark_all_read },
    "/api/notifications/{id}/read" => { POST notifications::mark_read },
    "/api/me/notification-preferences" => { GET notifications::get_preferences, PUT notifications::put_preferences },
    "/api/boards/categories" => { GET boards::categories::list, POST boards::categories::create },
    "/api/boards/categories/{id}" => { PATCH boards::categories::update },
    "/api/boards/categories/{id}/moderators/{user}" => { PUT boards::categories::appoint, DELETE boards::categories::dismiss },
    "/api/boards/categories/{id}/bans/{user}" => { PUT boards::categories::ban, DELETE boards::categories::unban },
    "/api/boards/threads" => { GET boards::threads::list, POST boards::threads::create },
    "/api/boards/threads/{id}" => { GET boards::threads::get },
    "/api/boards/threads/{id}/replies" => { POST boards::threads::reply },
    "/api/boards/threads/{id}/accept" => { POST boards::threads::accept },
    "/api/boards/threads/{id}/moderate" => { POST boards::threads::moderate },
    "/api/boards/posts/{id}" => { PATCH boards::posts::edit, DELETE boards::posts::delete },
    "/api/boards/posts/{id}/vote" => { POST boards::posts::vote },
    "/api/boards/posts/{id}/flag" => { POST boards::posts::flag },
    "/api/boards/posts/{id}/revisions" => { GET boards::posts::revisions },
    "/api/boards/posts/{id}/moderate" => { POST boards::posts::moderate },
    "/api/boards/posts/{id}/review" => { POST boards::review::decide },
    "/api/boards/held" => { GET boards::review::queue },
    "/api/boards/flags" => { GET boards::flags::queue },
    "/api/boards/flags/{id}/dismiss" => { POST boards::flags::dismiss },
    "/api/live/ice-servers" => { GET live::ice_servers },
}

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
    .configure(mount)
    .default_service(web::to(unknown_path));
}

/// A path no route serves: a page saying so for a browser asking for a page
/// (a GET outside `/api/` that accepts `text/html`), the JSON `404
/// not_found` for everything else.
async fn unknown_path(req: actix_web::HttpRequest) -> HttpResponse {
    let wants_page = req.method() == Method::GET
        && !req.path().starts_with("/api/")
        && req
            .headers()
            .get(actix_web::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    if wants_page {
        if let (Some(state), Ok(viewer)) = (
            req.app_data::<web::Data<crate::state::AppState>>(),
            crate::web::session::viewer(&req).await,
        ) {
            return crate::web::mentors::not_found(state, &viewer);
        }
    }
    HttpResponse::from_error(ApiError::new(ErrorCode::NotFound, "no such route"))
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
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json") || v.as_bytes().starts_with(b"text/html"));
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
