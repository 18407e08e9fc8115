//! Calendar integration: the secret `.ics` feed of a user's booked and
//! hosted slots and sessions, and an `.ics` per confirmation.

use actix_web::{web, HttpResponse};
use lyceum_protocol::{BookingId, ErrorCode, UserId};
use serde_json::json;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::routes::calendar::ics;
use crate::state::AppState;

fn ics_response(name: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Content-Type", "text/calendar; charset=utf-8"))
        .insert_header(("Content-Disposition", format!("inline; filename=\"{name}.ics\"")))
        .insert_header(("Cache-Control", "private, max-age=300"))
        .body(body)
}

const EVENT_SQL: &str =
    "SELECT o.id, o.starts_at, o.ends_at, o.kind, o.title, o.description, o.state, o.updated_at, u.display_name
   FROM offerings o JOIN users u ON u.id = o.mentor_id";

fn event(r: &tokio_postgres::Row, booking_cancelled: bool) -> ics::Event {
    let kind: String = r.get(3);
    let title: String = r.get(4);
    let mentor: String = r.get(8);
    let summary = if title.is_empty() {
        if kind == "slot" {
            format!("Mentorship with {mentor}")
        } else {
            format!("Session with {mentor}")
        }
    } else {
        format!("{title} ({mentor})")
    };
    ics::Event {
        uid: r.get(0),
        starts_at: r.get(1),
        ends_at: r.get(2),
        summary,
        description: r.get(5),
        cancelled: booking_cancelled || r.get::<_, String>(6) == "cancelled",
        updated_at: r.get(7),
    }
}

/// Creates (once) and returns the user's feed URL; `rotate` replaces it.
pub async fn feed_url(
    state: web::Data<AppState>,
    user: AuthUser,
    path: Option<web::Path<String>>,
) -> Result<HttpResponse, ApiError> {
    let rotate = path.is_some_and(|p| p.as_str() == "rotate");
    let client = state.pool.get().await?;
    let fresh = crate::auth::refresh::generate();
    let token: String = if rotate {
        client
            .execute(
                "UPDATE users SET calendar_token = $2 WHERE id = $1",
                &[&user.id, &fresh],
            )
            .await?;
        fresh
    } else {
        client
            .query_one(
                "UPDATE users SET calendar_token = coalesce(calendar_token, $2) WHERE id = $1 RETURNING calendar_token",
                &[&user.id, &fresh],
            )
            .await?
            .get(0)
    };
    Ok(HttpResponse::Ok().json(json!({"url": format!("/calendar/{token}.ics")})))
}

/// The feed itself: no sign-in (calendar apps cannot), the secret is the URL.
pub async fn feed(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let token = path.into_inner();
    let token = token.strip_suffix(".ics").unwrap_or(&token);
    let client = state.pool.get().await?;
    let user: UserId = client
        .query_opt("SELECT id FROM users WHERE calendar_token = $1", &[&token])
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::FeedNotFound, "no such calendar feed"))?
        .get(0);
    // What they booked, and what they host; the last 90 days and the future.
    let rows = client
        .query(
            &format!(
                "{EVENT_SQL} WHERE o.ends_at > now() - interval '90 days' AND (
                    o.mentor_id = $1 OR EXISTS (SELECT 1 FROM bookings b WHERE b.offering_id = o.id AND b.mentee_id = $1
                                                   AND b.status = 'confirmed'))
                 ORDER BY o.starts_at LIMIT 2000"
            ),
            &[&user],
        )
        .await?;
    let events: Vec<ics::Event> = rows.iter().map(|r| event(r, false)).collect();
    Ok(ics_response("lyceum", ics::calendar("Lyceum", &events)))
}

/// One booking as an `.ics` event: its mentee or the mentor.
pub async fn booking_ics(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let raw = path.into_inner();
    let id: BookingId = raw
        .strip_suffix(".ics")
        .unwrap_or(&raw)
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::InvalidPath, "expected /api/bookings/{id}.ics"))?;
    let client = state.pool.get().await?;
    let r = client
        .query_opt(
            &format!("{EVENT_SQL} JOIN bookings b ON b.offering_id = o.id WHERE b.id = $1 AND (b.mentee_id = $2 OR o.mentor_id = $2)"),
            &[&id, &user.id],
        )
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::BookingNotFound, "no such booking"))?;
    let status: String = client
        .query_one("SELECT status FROM bookings WHERE id = $1", &[&id])
        .await?
        .get(0);
    let e = event(&r, status == "cancelled");
    Ok(ics_response("booking", ics::calendar("Lyceum booking", &[e])))
}
