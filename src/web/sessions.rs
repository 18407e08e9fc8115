//! Group sessions and webinars: the list of upcoming ones and a session's
//! page (public, with JSON-LD Event), registering with an agenda through
//! the API's own handler, and one click to join when it is live.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use lyceum_actors::{OfferingId, Role};
use lyceum_protocol::ErrorCode;
use maud::html;
use serde::Deserialize;
use serde_json::json;

use super::auth_pages::{see_other, to_sign_in};
use super::bridge::{self, s};
use super::home::when;
use super::layout::{csrf_field, json_ld, notice, page, render, Page};
use super::mentors::not_found;
use super::session::Viewer;
use super::words::explain;
use crate::error::ApiError;
use crate::routes::calendar::{sessions, slots};
use crate::state::AppState;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    q: Option<String>,
    category: Option<String>,
    tag: Option<String>,
    /// `YYYY-MM-DD`: sessions on or after this day (UTC).
    from: Option<String>,
    /// `YYYY-MM-DD`: sessions starting before the end of this day (UTC).
    to: Option<String>,
    after: Option<String>,
    #[serde(rename = "afterId")]
    after_id: Option<String>,
}

const PAGE_SIZE: i64 = 24;

/// Upcoming sessions and webinars: search, filters, paging, for anyone.
pub async fn list_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let nonempty = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    let (text, category, tag) = (nonempty(&q.q), nonempty(&q.category), nonempty(&q.tag));
    let day = |field: &str, v: &Option<String>, end: bool| -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
        match nonempty(v) {
            None => Ok(None),
            Some(d) => chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d")
                .map(|d| {
                    let d = if end { d.succ_opt().unwrap_or(d) } else { d };
                    Some(d.and_time(chrono::NaiveTime::MIN).and_utc())
                })
                .map_err(|_| ApiError::new(ErrorCode::InvalidQuery, format!("{field} must be a date"))),
        }
    };
    let res = async {
        let browse = json!({
            "q": text, "category": category, "tag": tag,
            "from": day("From", &q.from, false)?, "to": day("Until", &q.to, true)?,
            "after": nonempty(&q.after), "afterId": nonempty(&q.after_id), "limit": PAGE_SIZE,
        });
        let b = bridge::query::<sessions::Browse>(browse)?.into_inner();
        sessions::browse_items(&state, b).await
    }
    .await;
    let (items, error) = match res {
        Ok(items) => (items, None),
        Err(e) if e.code().http_status() == 400 => (vec![], Some(explain(&e))),
        Err(e) => return Err(e),
    };
    let next = if items.len() as i64 == PAGE_SIZE {
        items.last().map(|l| {
            serde_urlencoded::to_string([
                ("q", text.as_deref().unwrap_or("")),
                ("category", category.as_deref().unwrap_or("")),
                ("tag", tag.as_deref().unwrap_or("")),
                ("from", q.from.as_deref().unwrap_or("")),
                ("to", q.to.as_deref().unwrap_or("")),
                ("after", s(l, "startsAt")),
                ("afterId", s(l, "id")),
            ])
            .unwrap_or_default()
        })
    } else {
        None
    };
    let filtered = text.is_some() || category.is_some() || tag.is_some() || q.from.is_some() || q.to.is_some();
    let body = html! {
        h1 { "Upcoming sessions and webinars" }
        form method="get" action="/sessions" class="filters" role="search" aria-label="Search sessions" {
            div { label for="sq" { "Search" } input id="sq" type="search" name="q" value=(text.as_deref().unwrap_or("")) placeholder="e.g. interviews"; }
            div { label for="scat" { "Category" } input id="scat" type="text" name="category" value=(category.as_deref().unwrap_or("")) placeholder="e.g. placements"; }
            div { label for="stag" { "Tag" } input id="stag" type="text" name="tag" value=(tag.as_deref().unwrap_or("")); }
            div { label for="sfrom" { "From" } input id="sfrom" type="date" name="from" value=(q.from.as_deref().unwrap_or("")); }
            div { label for="sto" { "Until" } input id="sto" type="date" name="to" value=(q.to.as_deref().unwrap_or("")); }
            div { button type="submit" { "Search" } }
        }
        @if let Some(e) = &error { (notice("error", e)) }
        @if items.is_empty() && error.is_none() {
            p { @if filtered { "No session matches. " a href="/sessions" { "See all upcoming sessions" } "." } @else { "No sessions are scheduled right now." } }
        }
        ul class="cards" id="sessions" {
            @for o in &items {
                li class="card" {
                    h2 { a href=(format!("/sessions/{}", s(o, "id"))) { (s(o, "title")) } }
                    p { "with " (s(o, "mentorName")) }
                    @if let Some(t) = o["startsAt"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) {
                        p { (when(t.with_timezone(&chrono::Utc))) " · " (o["durationMinutes"].as_i64().unwrap_or(0)) " min" }
                    }
                    @if s(o, "state") == "live" { p class="badge live" { "Live now" } }
                    @if let Some(c) = o["category"].as_str() { p class="hint" { (c) @for t in o["tags"].as_array().into_iter().flatten() { " · " (t.as_str().unwrap_or("")) } } }
                    p class="seats" data-seats=(s(o, "id")) { (o["remainingSeats"].as_i64().unwrap_or(0)) " of " (o["maxParticipants"].as_i64().unwrap_or(0)) " seats left" }
                }
            }
        }
        @if let Some(n) = next { p class="pager" { a href=(format!("/sessions?{n}")) { "More sessions" } } }
    };
    let pg = Page {
        title: "Sessions",
        description: Some("Upcoming group sessions and webinars on Lyceum."),
        canonical: Some("/sessions".to_owned()),
        current: Some("/sessions"),
        ..Default::default()
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(render(&state, &viewer, status, page(&viewer, pg, body)))
}

#[derive(Deserialize, Default)]
pub struct SessionPageQuery {
    registered: Option<String>,
    position: Option<i64>,
    error: Option<String>,
}

pub async fn session_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<OfferingId>,
    q: web::Query<SessionPageQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let o = match slots::offering(&state, id).await {
        Ok(o) if s(&o, "kind") == "group" => o,
        Ok(_) => return Ok(not_found(&state, &viewer)),
        Err(e) if e.code() == ErrorCode::OfferingNotFound || e.code() == ErrorCode::NotFound => {
            return Ok(not_found(&state, &viewer))
        }
        Err(e) => return Err(e),
    };
    let title = s(&o, "title").to_owned();
    let mentor = s(&o, "mentorName").to_owned();
    let description = if s(&o, "description").is_empty() {
        format!("{title}: a session with {mentor} on Lyceum.")
    } else {
        s(&o, "description").to_owned()
    };
    let canonical = format!("/sessions/{id}");
    let state_ = s(&o, "state").to_owned();
    let event = json!({
        "@context": "https://schema.org", "@type": "Event", "name": title,
        "description": description, "startDate": o["startsAt"], "endDate": o["endsAt"],
        "eventStatus": if state_ == "cancelled" { "https://schema.org/EventCancelled" } else { "https://schema.org/EventScheduled" },
        "eventAttendanceMode": "https://schema.org/OnlineEventAttendanceMode",
        "location": {"@type": "VirtualLocation", "url": canonical},
        "organizer": {"@type": "Person", "name": mentor, "url": format!("/mentors/{}", s(&o, "mentorId"))},
        "url": canonical,
    });
    let head = html! {
        meta property="og:type" content="website";
        meta property="og:title" content=(title);
        meta property="og:description" content=(description);
        meta property="og:url" content=(canonical);
        (json_ld(&event))
    };
    let starts = o["startsAt"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    let remaining = o["remainingSeats"].as_i64().unwrap_or(0);
    let is_host = viewer
        .user
        .as_ref()
        .is_some_and(|u| u.id().to_string() == s(&o, "mentorId"));
    let flash = match (q.registered.as_deref(), q.error.as_deref()) {
        (Some("confirmed"), _) => Some(notice("ok", "You are registered. It is in My bookings.")),
        (Some("waitlisted"), _) => Some(notice(
            "ok",
            &format!("You are on the waitlist, number {}.", q.position.unwrap_or(0)),
        )),
        (_, Some(e)) => Some(notice("error", e)),
        _ => None,
    };
    let body = html! {
        article {
            h1 { (title) }
            @if let Some(f) = flash { (f) }
            p { "with " a href=(format!("/mentors/{}", s(&o, "mentorId"))) { (mentor) } }
            @if let Some(t) = starts {
                p { (when(t)) " · " (o["durationMinutes"].as_i64().unwrap_or(0)) " min" }
                @if state_ == "scheduled" { p data-countdown=(t.to_rfc3339()) {} }
            }
            @if state_ == "live" { p class="badge live" { "Live now" } }
            @if state_ == "cancelled" { p class="notice error" { "This session was cancelled." } }
            @if !s(&o, "description").is_empty() { p { (s(&o, "description")) } }
            p class="seats" data-seats=(id) { (remaining) " of " (o["maxParticipants"].as_i64().unwrap_or(0)) " seats left" }
            @if state_ == "live" && viewer.user.is_some() {
                p { a class="button secondary" href=(format!("/app/#session={id}")) id="join" data-session=(id) { "Join the live session" } }
            } @else if viewer.user.is_some() && state_ == "scheduled" {
                // sessions.js puts the join link here when the host starts it.
                p id="join-slot" data-session=(id) data-mentor=(s(&o, "mentorId")) {}
            }
            @if viewer.role() == Some(Role::Mentee) && (state_ == "scheduled" || state_ == "live") {
                form method="post" action=(format!("/sessions/{id}/register")) class="stack" {
                    (csrf_field(&viewer))
                    label for="goals" { "What do you hope to learn? (optional)" }
                    textarea id="goals" name="goals" rows="3" maxlength="2000" {}
                    button type="submit" { @if remaining > 0 { "Register" } @else { "Join the waitlist" } }
                }
            } @else if viewer.user.is_none() {
                p { a href=(format!("/signin?next=/sessions/{id}")) { "Sign in to register" } }
            } @else if is_host {
                p { "You host this session." }
            }
        }
    };
    let pg = Page {
        title: &title,
        description: Some(&description),
        canonical: Some(canonical.clone()),
        head: Some(head),
        scripts: &["sessions.js"],
        current: Some("/sessions"),
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}

#[derive(Deserialize)]
pub struct RegisterForm {
    csrf: Option<String>,
    #[serde(default)]
    goals: String,
}

pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    path: web::Path<OfferingId>,
    form: web::Form<RegisterForm>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let back = format!("/sessions/{id}");
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in(&back));
    };
    let form = form.into_inner();
    viewer.check_csrf(&req, form.csrf.as_deref())?;
    let body = json!({"agenda": {"goals": form.goals.trim(), "questions": []}});
    let res = bridge::json_of(
        sessions::register(state.clone(), user.auth, web::Path::from(id), Some(bridge::body(body)?)).await,
    )
    .await;
    let to = match res {
        Ok(v) => format!(
            "{back}?registered={}&position={}",
            s(&v["booking"], "status"),
            v["booking"]["waitlistPosition"].as_i64().unwrap_or(0)
        ),
        Err(e) => format!(
            "{back}?{}",
            serde_urlencoded::to_string([("error", explain(&e))]).unwrap_or_default()
        ),
    };
    Ok(see_other(&to))
}
