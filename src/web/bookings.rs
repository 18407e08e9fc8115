//! My bookings (slots and sessions, with status, waitlist position, agenda,
//! cancel, "add to calendar", and a review of the mentor once attended), and
//! the notifications list. Signed in
//! only: a visitor is sent to sign in and back.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use lyceum_actors::OfferingId;
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::auth_pages::{see_other, to_sign_in};
use super::bridge::{self, s};
use super::home::when;
use super::layout::{csrf_field, notice, page, render, Page};
use super::session::Viewer;
use super::words::explain;
use crate::error::ApiError;
use crate::routes::calendar::{feeds, sessions, slots};
use crate::routes::reviews;
use crate::state::AppState;

#[derive(Deserialize, Default)]
pub struct BookingsQuery {
    cancelled: Option<String>,
    reviewed: Option<String>,
    error: Option<String>,
}

fn instant(v: &serde_json::Value) -> Option<chrono::DateTime<chrono::Utc>> {
    v.as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

pub async fn bookings_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    q: web::Query<BookingsQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/bookings"));
    };
    let v = bridge::json_of(slots::my_bookings(state.clone(), user.auth).await).await?;
    let items = v["items"].as_array().cloned().unwrap_or_default();
    let now = chrono::Utc::now();
    let body = html! {
        h1 { "My bookings" }
        p { a href="/matching" { "Find a mentor for your goals" } " · " a href="/mentorships" { "My mentorships" } }
        @if q.cancelled.is_some() { (notice("ok", "Cancelled. Your seat went to the next person on the waitlist, if any.")) }
        @if q.reviewed.is_some() { (notice("ok", "Thank you! Your review is on the mentor's page; you can change it for 14 days.")) }
        @if let Some(e) = &q.error { (notice("error", e)) }
        @if items.is_empty() {
            p { "No bookings yet. " a href="/mentors" { "Find a mentor" } " or " a href="/sessions" { "browse sessions" } "." }
        } @else {
            table {
                thead { tr { th scope="col" { "What" } th scope="col" { "When" } th scope="col" { "Status" } th scope="col" { "Actions" } } }
                tbody {
                    @for b in &items {
                        @let slot = &b["slot"];
                        @let title = if s(slot, "title").is_empty() { format!("Slot with {}", s(slot, "mentorName")) } else { s(slot, "title").to_owned() };
                        @let status = s(b, "status");
                        // A session its mentor ended is over, whatever its scheduled end.
                        @let upcoming = instant(&slot["endsAt"]).is_some_and(|t| t > now) && s(slot, "state") != "completed";
                        tr data-booking=(s(b, "id")) {
                            td {
                                @if s(slot, "kind") == "group" {
                                    a href=(format!("/sessions/{}", s(slot, "id"))) { (title) }
                                } @else {
                                    (title)
                                }
                                " with " a href=(format!("/mentors/{}", s(slot, "mentorId"))) { (s(slot, "mentorName")) }
                                @if !s(&b["agenda"], "goals").is_empty() { br; span class="hint" { "Goals: " (s(&b["agenda"], "goals")) } }
                            }
                            td {
                                @if let Some(t) = instant(&slot["startsAt"]) {
                                    (when(t))
                                    @if t > now && status != "cancelled" { br; span data-countdown=(t.to_rfc3339()) {} }
                                }
                            }
                            td data-status {
                                @match status {
                                    "confirmed" => "Confirmed",
                                    "waitlisted" => { "Waitlist, number " (b["waitlistPosition"].as_i64().unwrap_or(0)) },
                                    "cancelled" => "Cancelled",
                                    other => (other),
                                }
                                @if s(slot, "state") == "live" { " · " span class="badge live" { "Live now" } }
                            }
                            td {
                                @if s(slot, "state") == "live" && status == "confirmed" && s(slot, "kind") == "group" {
                                    a class="button secondary" href=(format!("/app/#session={}", s(slot, "id"))) { "Join " (title) }
                                    " "
                                }
                                @if b["reviewId"].is_string() {
                                    "You reviewed " (s(slot, "mentorName")) " for this. "
                                } @else if b["attendedAt"].is_string() {
                                    (review_form(&viewer, b, &title))
                                }
                                @if status != "cancelled" && upcoming {
                                    a href=(format!("/bookings/{}.ics", s(b, "id"))) { "Add " (title) " to my calendar" }
                                    form method="post" action="/bookings/cancel" class="inline" {
                                        (csrf_field(&viewer))
                                        input type="hidden" name="offeringId" value=(s(slot, "id"));
                                        input type="hidden" name="kind" value=(s(slot, "kind"));
                                        " "
                                        button type="submit" class="danger" { "Cancel " (title) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let pg = Page {
        title: "My bookings",
        scripts: &["bookings.js"],
        current: Some("/bookings"),
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}

/// Rating a mentor after an attended booking: stars and words.
fn review_form(viewer: &Viewer, b: &serde_json::Value, title: &str) -> maud::Markup {
    let id = s(b, "id");
    html! {
        form method="post" action="/bookings/review" class="review" {
            (csrf_field(viewer))
            input type="hidden" name="bookingId" value=(id);
            label for=(format!("rating-{id}")) { "Your rating of " (title) }
            select id=(format!("rating-{id}")) name="rating" {
                @for n in (1..=5).rev() { option value=(n) { (n) " of 5" } }
            }
            label for=(format!("text-{id}")) { "What went well, what could be better (optional)" }
            textarea id=(format!("text-{id}")) name="text" rows="3" maxlength="4000" {}
            button type="submit" { "Send my review" }
        }
    }
}

#[derive(Deserialize)]
pub struct ReviewForm {
    csrf: Option<String>,
    #[serde(rename = "bookingId")]
    booking_id: String,
    rating: String,
    #[serde(default)]
    text: String,
}

/// `POST /bookings/review`: the mentee's review through `POST /api/reviews`.
pub async fn review(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<ReviewForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/bookings"));
    };
    let form = form.into_inner();
    viewer.check_csrf(&req, form.csrf.as_deref())?;
    // A rating that is not a number is out of range, as the API would say.
    let rating: i64 = form.rating.trim().parse().unwrap_or(0);
    let res = match bridge::body(json!({"bookingId": form.booking_id, "rating": rating, "text": form.text})) {
        Ok(b) => reviews::create(state.clone(), user.auth, b).await,
        Err(e) => Err(e),
    };
    Ok(match bridge::json_of(res).await {
        Ok(_) => see_other("/bookings?reviewed=1"),
        Err(e) => see_other(&format!(
            "/bookings?{}",
            serde_urlencoded::to_string([("error", explain(&e))]).unwrap_or_default()
        )),
    })
}

#[derive(Deserialize)]
pub struct CancelForm {
    csrf: Option<String>,
    #[serde(rename = "offeringId")]
    offering_id: OfferingId,
    kind: String,
}

pub async fn cancel(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<CancelForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/bookings"));
    };
    let form = form.into_inner();
    viewer.check_csrf(&req, form.csrf.as_deref())?;
    let res = if form.kind == "group" {
        sessions::unregister(state.clone(), user.auth, web::Path::from(form.offering_id)).await
    } else {
        match bridge::body(json!({"slotId": form.offering_id})) {
            Ok(b) => slots::cancel(state.clone(), user.auth, b).await,
            Err(e) => Err(e),
        }
    };
    Ok(match bridge::json_of(res).await {
        Ok(_) => see_other("/bookings?cancelled=1"),
        Err(e) => see_other(&format!(
            "/bookings?{}",
            serde_urlencoded::to_string([("error", explain(&e))]).unwrap_or_default()
        )),
    })
}

/// `/bookings/{id}.ics`: the API's one-booking calendar file, for the page's user.
pub async fn ics(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/bookings"));
    };
    feeds::booking_ics(state.clone(), user.auth, path).await
}

#[derive(Deserialize, Default)]
pub struct NotificationsQuery {
    saved: Option<String>,
    error: Option<String>,
    /// `read` (one marked read) or `all` (all of them).
    done: Option<String>,
    /// Older ones: the API's `nextCursor` of the page before.
    cursor: Option<String>,
}

/// A notification in plain words (what a "Mark as read" button names).
fn notification_words(n: &serde_json::Value) -> String {
    let p = &n["payload"];
    let by = s(&p["by"], "displayName");
    let title = s(p, "title");
    match s(n, "kind") {
        "reminder" => format!("Reminder: {title}"),
        "board_reply" => format!("{by} replied in {title}"),
        "board_mention" => format!("{by} mentioned you in {title}"),
        "board_answer_accepted" => format!("{by} accepted your answer in {title}"),
        "board_moderation" => format!("A moderator acted on your post in {title}"),
        "direct_message" => format!("{by} sent you a message while you were away"),
        k if k.starts_with("mentorship_") || k.starts_with("review_") || k.starts_with("booking_") => title.to_owned(),
        other if title.is_empty() => other.replace('_', " "),
        other => format!("{}: {title}", other.replace('_', " ")),
    }
}

/// The notifications page a form goes back to: the same page of them.
fn notifications_back(cursor: Option<&str>) -> String {
    match cursor.filter(|c| !c.is_empty()) {
        Some(c) => format!(
            "/notifications?{}",
            serde_urlencoded::to_string([("cursor", c)]).unwrap_or_default()
        ),
        None => "/notifications".to_owned(),
    }
}

pub async fn notifications_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    q: web::Query<NotificationsQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/notifications"));
    };
    let prefs = bridge::json_of(crate::routes::notifications::get_preferences(state.clone(), user.auth).await).await?;
    let prefs = prefs["items"].as_array().cloned().unwrap_or_default();
    let mut cursor = q.cursor.as_deref().filter(|c| !c.is_empty());
    let list = |cursor: Option<&str>| {
        let state = state.clone();
        let q = bridge::query(json!({ "cursor": cursor }));
        async move {
            match q {
                Ok(q) => bridge::json_of(crate::routes::notifications::list(state, user.auth, q).await).await,
                Err(e) => Err(e),
            }
        }
    };
    // A cursor the API refuses (a mangled link): the newest ones, and why.
    let (v, cursor_error) = match list(cursor).await {
        Ok(v) => (v, None),
        Err(e) if cursor.is_some() => {
            cursor = None;
            (list(None).await?, Some(explain(&e)))
        }
        Err(e) => return Err(e),
    };
    let items = v["items"].as_array().cloned().unwrap_or_default();
    let unread = v["unread"].as_i64().unwrap_or(0);
    let next = s(&v, "nextCursor");
    let body = html! {
        h1 { "Notifications" }
        @if q.saved.is_some() { (notice("ok", "Your email choices are saved.")) }
        @match q.done.as_deref() {
            Some("read") => { (notice("ok", "Marked as read.")) },
            Some("all") => { (notice("ok", "All your notifications are marked as read.")) },
            _ => {},
        }
        @if let Some(e) = &q.error { (notice("error", e)) }
        @if let Some(e) = &cursor_error { (notice("error", e)) }
        div class="actions" id="notifications-summary" {
            p id="unread-total" tabindex="-1" {
                @match unread {
                    0 => { "No unread notifications." },
                    1 => { "1 unread notification." },
                    n => { (n) " unread notifications." },
                }
            }
            // Hidden with none unread (`notifications.js` shows it when one arrives).
            form method="post" action="/notifications/read-all" class="inline" id="mark-all" hidden[unread == 0] {
                (csrf_field(&viewer))
                @if let Some(c) = cursor { input type="hidden" name="cursor" value=(c); }
                button type="submit" class="secondary" { "Mark all as read" }
            }
        }
        @if items.is_empty() && cursor.is_none() { p { "Nothing yet. Bookings, reminders before your sessions, replies on the boards, messages, mentorships and reviews will appear here." } }
        @if items.is_empty() && cursor.is_some() { p { "No older notifications." } }
        ul id="notifications" class="notifications" data-unread=(unread) {
            @for n in &items {
                @let p = &n["payload"];
                @let is_unread = n["readAt"].is_null();
                li id=(format!("n-{}", n["id"])) data-id=(n["id"]) class=[is_unread.then_some("unread")] {
                    @if is_unread { span class="badge unread" { "Unread" } " " }
                    @match s(n, "kind") {
                        "reminder" => { "Reminder: " strong { (s(p, "title")) } " starts " @if let Some(t) = instant(&p["startsAt"]) { (when(t)) } },
                        "board_reply" | "board_mention" | "board_answer_accepted" | "board_moderation" => {
                            @let by = s(&p["by"], "displayName");
                            @match s(n, "kind") {
                                "board_reply" => { (by) " replied in " },
                                "board_mention" => { (by) " mentioned you in " },
                                "board_answer_accepted" => { (by) " accepted your answer in " },
                                _ => { "A moderator acted on your post in " },
                            }
                            a href=(format!("/boards/threads/{}", s(p, "threadId"))) { (s(p, "title")) }
                        },
                        "direct_message" => { (s(&p["by"], "displayName")) " sent you a message while you were away" },
                        k if k.starts_with("mentorship_") => { a href="/mentorships" { (s(p, "title")) } },
                        k if k.starts_with("review_") && s(p, "about") == "mentor" => {
                            a href=(format!("/mentors/{}", s(p, "mentorId"))) { (s(p, "title")) }
                        },
                        k if k.starts_with("review_") => { (s(p, "title")) },
                        k if k.starts_with("booking_") => { a href=(crate::notify::booking_link(p)) { (s(p, "title")) } },
                        other => { (other.replace('_', " ")) @if !s(p, "title").is_empty() { ": " (s(p, "title")) } },
                    }
                    @if let Some(t) = instant(&n["createdAt"]) { " · " span class="hint" { (when(t)) } }
                    @if is_unread {
                        " "
                        form method="post" action=(format!("/notifications/{}/read", n["id"])) class="inline mark-read" {
                            (csrf_field(&viewer))
                            @if let Some(c) = cursor { input type="hidden" name="cursor" value=(c); }
                            // Its name says which: "Mark as read: Marco replied in …".
                            button type="submit" class="secondary" {
                                "Mark as read" span class="visually-hidden" { ": " (notification_words(n)) }
                            }
                        }
                    }
                }
            }
        }
        @if cursor.is_some() || !next.is_empty() {
            nav aria-label="Older and newer notifications" {
                p {
                    @if cursor.is_some() { a href="/notifications" { "Newest notifications" } }
                    @if cursor.is_some() && !next.is_empty() { " · " }
                    @if !next.is_empty() {
                        a href=(notifications_back(Some(next))) rel="next" { "Older notifications" }
                    }
                }
            }
        }
        section id="preferences" aria-labelledby="preferences-heading" {
            h2 id="preferences-heading" { "Emails" }
            p { "Every notification appears here; these also come by email, when this server sends email." }
            @if !state.email_notifications {
                p class="hint" { "This server sends no email at the moment; your choices apply when it does." }
            }
            form method="post" action="/notifications/preferences" {
                (csrf_field(&viewer))
                fieldset {
                    legend { "Email me about" }
                    @for pr in &prefs {
                        @let kind = s(pr, "kind");
                        div {
                            input type="checkbox" id=(format!("email-{kind}")) name="email" value=(kind) checked[pr["email"] == true];
                            " "
                            label for=(format!("email-{kind}")) { (super::unsubscribe::kind_words(kind)) }
                        }
                    }
                }
                button type="submit" { "Save my email choices" }
            }
        }
    };
    let pg = Page {
        title: "Notifications",
        scripts: &["notifications.js"],
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}

/// `POST /notifications/preferences`: the checked kinds (`email=<kind>`,
/// repeated) come by email, the others not, through `PUT
/// /api/me/notification-preferences`.
pub async fn save_preferences(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/notifications"));
    };
    let fields = form.into_inner();
    let csrf = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
    viewer.check_csrf(&req, csrf)?;
    let checked: Vec<&str> = fields
        .iter()
        .filter(|(k, _)| k == "email")
        .map(|(_, v)| v.as_str())
        .collect();
    // Every kind is said: the checked ones on, the others off (an unknown
    // kind checked is refused by the API's handler, as it would be there).
    let mut email = serde_json::Map::new();
    for k in crate::routes::notifications::KINDS {
        email.insert((*k).to_owned(), json!(checked.contains(k)));
    }
    for k in &checked {
        email.entry((*k).to_owned()).or_insert(json!(true));
    }
    let res = match bridge::body(json!({ "email": email })) {
        Ok(b) => crate::routes::notifications::put_preferences(state.clone(), user.auth, b).await,
        Err(e) => Err(e),
    };
    Ok(match bridge::json_of(res).await {
        Ok(_) => see_other("/notifications?saved=1#preferences"),
        Err(e) => see_other(&format!(
            "/notifications?{}#preferences",
            serde_urlencoded::to_string([("error", explain(&e))]).unwrap_or_default()
        )),
    })
}

#[derive(Deserialize)]
pub struct MarkReadForm {
    csrf: Option<String>,
    /// The page of notifications the form was on.
    cursor: Option<String>,
}

/// `POST /notifications/{id}/read`: through `POST /api/notifications/{id}/read`
/// (someone else's id is the API's 404, said in words); back to the same page.
pub async fn mark_read(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    id: web::Path<i64>,
    form: web::Form<MarkReadForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = viewer.form_user(&req, form.csrf.as_deref())? else {
        return Ok(to_sign_in("/notifications"));
    };
    let res = bridge::json_of(crate::routes::notifications::mark_read(state.clone(), user, id).await).await;
    Ok(bridge::back_to(
        &notifications_back(form.cursor.as_deref()),
        res.map(|_| "done=read".to_owned()),
    ))
}

/// `POST /notifications/read-all`: through `POST /api/notifications/read-all`.
pub async fn mark_all_read(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<MarkReadForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = viewer.form_user(&req, form.csrf.as_deref())? else {
        return Ok(to_sign_in("/notifications"));
    };
    let res = bridge::json_of(crate::routes::notifications::mark_all_read(state.clone(), user).await).await;
    Ok(bridge::back_to(
        &notifications_back(form.cursor.as_deref()),
        res.map(|_| "done=all".to_owned()),
    ))
}
