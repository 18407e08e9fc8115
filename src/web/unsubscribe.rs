//! `/unsubscribe`: the link at the end of every notification email. It
//! works without signing in: the link carries the user, the kind of email
//! and an HMAC of both under the server's key (`notify::MailLinks`), which
//! is all the authority it needs. GET shows what it will turn off and a
//! button; POST (the button, or a mail client's one-click unsubscribe to the
//! same address) turns that kind of email off for that user. A link whose
//! signature does not match (tampered, cut short) is a 400 page; a link for
//! an account that no longer exists is a 404 page. A client that does not
//! ask for HTML (no `text/html` in `Accept`) gets those refusals as the API's
//! JSON errors instead: `400 invalid_unsubscribe_link`, `404 not_found`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use lyceum_protocol::ErrorCode;
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

use super::layout::{page, render, Page};
use super::session::Viewer;
use crate::error::ApiError;
use crate::routes::notifications::KINDS;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct Link {
    u: Option<String>,
    k: Option<String>,
    s: Option<String>,
}

/// What a kind of email is about, in words.
pub fn kind_words(kind: &str) -> &'static str {
    match kind {
        "reminder" => "reminders before your sessions",
        "board_reply" => "replies to your posts on the boards",
        "board_mention" => "mentions of you on the boards",
        "board_answer_accepted" => "your answers being accepted on the boards",
        "board_moderation" => "moderators acting on your posts",
        "direct_message" => "direct messages you receive while you are away",
        "mentorship_requested" => "requests for a mentorship with you",
        "mentorship_accepted" => "your mentorship requests being accepted",
        "mentorship_declined" => "your mentorship requests being declined",
        "mentorship_ended" => "a mentorship ended by the other person",
        "review_received" => "reviews of you",
        "review_replied" => "a mentor's reply to your review",
        "booking_confirmed" => "your bookings and registrations being confirmed",
        "booking_promoted" => "a seat opening for you from a waitlist",
        "booking_cancelled" => "bookings cancelled by the other side",
        "booking_received" => "mentees booking your slots",
        _ => "these notifications",
    }
}

enum Checked {
    Good(Uuid, &'static str),
    Bad(HttpResponse),
}

/// Whether the client asked for a page (a browser), not JSON.
fn wants_page(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

async fn check(state: &AppState, viewer: &Viewer, req: &HttpRequest, l: &Link) -> Result<Checked, ApiError> {
    let user = l.u.as_deref().and_then(|u| u.parse::<Uuid>().ok());
    let kind = l.k.as_deref().and_then(|k| KINDS.iter().copied().find(|x| *x == k));
    let good = match (user, kind, l.s.as_deref()) {
        (Some(user), Some(kind), Some(sig)) if state.mail_links.verify(user, kind, sig) => Some((user, kind)),
        _ => None,
    };
    let Some((user, kind)) = good else {
        if !wants_page(req) {
            return Err(ApiError::new(
                ErrorCode::InvalidUnsubscribeLink,
                "this unsubscribe link is not valid: its signature does not match its user and kind",
            ));
        }
        return Ok(Checked::Bad(invalid(state, viewer)));
    };
    let client = state.pool.get().await?;
    if client
        .query_opt("SELECT 1 FROM users WHERE id = $1", &[&user])
        .await?
        .is_none()
    {
        if !wants_page(req) {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "the account of this link no longer exists",
            ));
        }
        let body = html! {
            h1 { "No such account" }
            p { "The account this link was for no longer exists, so it gets no emails." }
        };
        let pg = Page {
            title: "No such account",
            ..Default::default()
        };
        return Ok(Checked::Bad(render(
            state,
            viewer,
            StatusCode::NOT_FOUND,
            page(viewer, pg, body),
        )));
    }
    Ok(Checked::Good(user, kind))
}

fn invalid(state: &AppState, viewer: &Viewer) -> HttpResponse {
    let body = html! {
        h1 { "This link does not work" }
        p { "This unsubscribe link is not valid: it may have been cut short or changed. Open the link from the email again, in full, or choose which emails you get on your "
            a href="/notifications#preferences" { "notifications page" } "." }
    };
    let pg = Page {
        title: "This link does not work",
        ..Default::default()
    };
    render(state, viewer, StatusCode::BAD_REQUEST, page(viewer, pg, body))
}

fn action(l: &Link) -> String {
    format!(
        "/unsubscribe?{}",
        serde_urlencoded::to_string([
            ("u", l.u.as_deref().unwrap_or("")),
            ("k", l.k.as_deref().unwrap_or("")),
            ("s", l.s.as_deref().unwrap_or("")),
        ])
        .unwrap_or_default()
    )
}

/// `GET /unsubscribe?u=&k=&s=`: what the button will turn off.
pub async fn confirm_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    q: web::Query<Link>,
) -> Result<HttpResponse, ApiError> {
    let (user, kind) = match check(&state, &viewer, &req, &q).await? {
        Checked::Good(u, k) => (u, k),
        Checked::Bad(res) => return Ok(res),
    };
    let client = state.pool.get().await?;
    let wanted: bool = client
        .query_one("SELECT email_wanted($1, $2)", &[&user, &kind])
        .await?
        .get(0);
    let body = html! {
        h1 { "Stop these emails?" }
        @if wanted {
            p { "You get an email about " (kind_words(kind)) ". Stop them? You still see them in the app, and you can turn the emails on again on your "
                a href="/notifications#preferences" { "notifications page" } "." }
        } @else {
            p { "Emails about " (kind_words(kind)) " are already off for this account." }
        }
        form method="post" action=(action(&q)) {
            button type="submit" { "Stop emails about " (kind_words(kind)) }
        }
    };
    let pg = Page {
        title: "Stop these emails?",
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}

/// `POST /unsubscribe?u=&k=&s=`: that kind of email off for that user.
pub async fn unsubscribe(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    q: web::Query<Link>,
) -> Result<HttpResponse, ApiError> {
    let (user, kind) = match check(&state, &viewer, &req, &q).await? {
        Checked::Good(u, k) => (u, k),
        Checked::Bad(res) => return Ok(res),
    };
    let client = state.pool.get().await?;
    client
        .execute(
            "INSERT INTO notification_preferences (user_id, kind, email) VALUES ($1, $2, false)
             ON CONFLICT (user_id, kind) DO UPDATE SET email = false",
            &[&user, &kind],
        )
        .await?;
    let body = html! {
        h1 { "Done" }
        p role="status" { "You will no longer get emails about " (kind_words(kind)) ". They still appear in the app, and you can turn the emails on again on your "
            a href="/notifications#preferences" { "notifications page" } "." }
    };
    let pg = Page {
        title: "Emails stopped",
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}
