//! The mentor directory page (search, filters, paging) and a mentor's page
//! (profile, upcoming slots with live seats and countdowns, booking with an
//! agenda). Both are public and rendered on the server; a mentor's page
//! carries its title, description, canonical link, OpenGraph tags and
//! JSON-LD (Person; with reviews, the mentorship as a Service with its
//! AggregateRating and the newest reviews) for search engines, and no private
//! detail. Reviews show the reviewer's display name only.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use lyceum_actors::{Role, UserId};
use lyceum_protocol::ErrorCode;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth_pages::{see_other, to_sign_in};
use super::bridge::{self, s};
use super::home::when;
use super::layout::{csrf_field, json_ld, notice, page, render, Page};
use super::session::Viewer;
use super::words::explain;
use crate::error::ApiError;
use crate::profiles;
use crate::routes::{calendar::slots, directory};
use crate::state::AppState;

/// The directory's query from a page's form: empty fields dropped, numbers
/// and the availability box read as the API expects them.
fn directory_query(params: &HashMap<String, String>) -> Result<Value, ApiError> {
    let mut q = Map::new();
    for (k, v) in params {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        let value = match k.as_str() {
            "q" | "skill" | "tag" | "cursor" | "sort" => json!(v),
            "minYears" => json!(v
                .parse::<i32>()
                .map_err(|_| { ApiError::new(ErrorCode::InvalidQuery, "minimum years must be a whole number") })?),
            "minRating" => json!(v
                .parse::<f64>()
                .map_err(|_| ApiError::new(ErrorCode::InvalidQuery, "minimum rating must be a number from 0 to 5"))?),
            "available" => json!(v == "true" || v == "on"),
            _ => continue,
        };
        q.insert(k.clone(), value);
    }
    Ok(Value::Object(q))
}

fn skills_text(m: &Value) -> String {
    m["skills"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|sk| s(sk, "name").to_owned())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn rating_text(r: &Value) -> Option<String> {
    let count = r["count"].as_i64().unwrap_or(0);
    (count > 0).then(|| format!("{:.1} ★ ({count} reviews)", r["average"].as_f64().unwrap_or(0.0)))
}

pub async fn directory_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    params: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let p = |k: &str| params.get(k).map(String::as_str).unwrap_or("");
    let result = match directory_query(&params).and_then(bridge::query::<directory::DirectoryQuery>) {
        Ok(q) => bridge::json_of(directory::run(&state, q.into_inner()).await).await,
        Err(e) => Err(e),
    };
    let (status, items, next, error) = match result {
        Ok(v) => (
            StatusCode::OK,
            v["items"].as_array().cloned().unwrap_or_default(),
            v["nextCursor"].as_str().map(str::to_owned),
            None,
        ),
        Err(e) if e.code() == ErrorCode::InvalidQuery || e.code() == ErrorCode::InvalidCursor => {
            (StatusCode::BAD_REQUEST, Vec::new(), None, Some(explain(&e)))
        }
        Err(e) => return Err(e),
    };
    let next_link = next.map(|c| {
        let mut q: Vec<(String, String)> = params
            .iter()
            .filter(|(k, v)| k.as_str() != "cursor" && !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        q.sort();
        q.push(("cursor".to_owned(), c));
        format!("/mentors?{}", serde_urlencoded::to_string(&q).unwrap_or_default())
    });
    let body = html! {
        h1 { "Find a mentor" }
        @if params.contains_key("welcome") { (notice("ok", "Welcome to Lyceum! Find a mentor by skill or topic, then book one of their slots.")) }
        form method="get" action="/mentors" class="filters" role="search" aria-label="Mentors" {
            div { label for="q" { "Search" } input id="q" name="q" type="search" value=(p("q")) placeholder="name, skill, employer…"; }
            div { label for="skill" { "Skill" } input id="skill" name="skill" type="text" value=(p("skill")) aria-describedby="skill-hint"; span id="skill-hint" class="hint" { "comma-separated" } }
            div { label for="tag" { "Tag" } input id="tag" name="tag" type="text" value=(p("tag")); }
            div { label for="minYears" { "Years of experience, at least" } input id="minYears" name="minYears" type="number" min="0" max="80" value=(p("minYears")); }
            div { label for="minRating" { "Rating, at least" } input id="minRating" name="minRating" type="number" min="0" max="5" step="0.5" value=(p("minRating")); }
            div { label class="choice" { input type="checkbox" name="available" value="true" checked[p("available") == "true"]; " Has a free slot" } }
            div {
                label for="sort" { "Sort by" }
                select id="sort" name="sort" {
                    option value="" { "Best match" }
                    option value="rating" selected[p("sort") == "rating"] { "Rating" }
                    option value="experience" selected[p("sort") == "experience"] { "Experience" }
                }
            }
            div { button type="submit" { "Search" } }
        }
        @if let Some(e) = &error { (notice("error", e)) }
        @if items.is_empty() && error.is_none() {
            p { "No mentor matches. Try fewer filters or another word." }
        }
        ul class="cards" aria-label="Mentors found" {
            @for m in &items {
                li class="card" {
                    h2 class="h3" { a href=(format!("/mentors/{}", s(m, "userId"))) { (s(m, "displayName")) } }
                    @if !s(m, "headline").is_empty() { p { (s(m, "headline")) } }
                    @let skills = skills_text(m);
                    @if !skills.is_empty() { p { "Skills: " (skills) } }
                    p { (m["yearsOfExperience"].as_i64().unwrap_or(0)) " years of experience"
                        @if let Some(e) = m["employer"].as_str() { " · " (e) } }
                    @if let Some(r) = rating_text(&m["rating"]) { p { (r) } }
                }
            }
        }
        @if let Some(link) = next_link { nav class="pager" aria-label="Pages" { a href=(link) { "More mentors" } } }
    };
    let pg = Page {
        title: "Find a mentor",
        description: Some("Search Lyceum's mentors by skill, topic, experience, rating and availability."),
        canonical: Some("/mentors".to_owned()),
        current: Some("/mentors"),
        ..Default::default()
    };
    Ok(render(&state, &viewer, status, page(&viewer, pg, body)))
}

#[derive(Deserialize, Default)]
pub struct MentorPageQuery {
    booked: Option<String>,
    position: Option<i64>,
    error: Option<String>,
}

async fn mentor_profile(state: &AppState, id: UserId) -> Result<Value, ApiError> {
    let client = state.pool.get().await?;
    let (profile, _phone) = profiles::load(&client, id, false)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::UserNotFound, "no such mentor"))?;
    if !matches!(profile.role, Role::Mentor | Role::Admin) {
        return Err(ApiError::new(ErrorCode::UserNotFound, "no such mentor"));
    }
    serde_json::to_value(&profile).map_err(|e| ApiError::Internal(e.into()))
}

fn slot_item(viewer: &Viewer, mentor: &str, slot: &Value) -> Markup {
    let id = s(slot, "id");
    let remaining = slot["remainingSeats"].as_i64().unwrap_or(0);
    let title = if s(slot, "title").is_empty() {
        "Mentoring slot"
    } else {
        s(slot, "title")
    };
    let starts = slot["startsAt"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    let can_book = viewer.role() == Some(Role::Mentee);
    html! {
        li class="card" data-slot=(id) {
            h3 { (title) }
            @if let Some(t) = starts {
                p { (when(t.with_timezone(&chrono::Utc))) " · " (slot["durationMinutes"].as_i64().unwrap_or(0)) " min" }
                p class="countdown" data-countdown=(t.to_rfc3339()) {}
            }
            @if !s(slot, "description").is_empty() { p { (s(slot, "description")) } }
            p class="seats" data-seats=(id) {
                (remaining) " of " (slot["maxParticipants"].as_i64().unwrap_or(0)) " seats left"
            }
            @if can_book {
                details {
                    summary { @if remaining > 0 { "Book this slot" } @else { "Join the waitlist" } }
                    form method="post" action=(format!("/mentors/{mentor}/book")) class="stack" {
                        (csrf_field(viewer))
                        input type="hidden" name="slotId" value=(id);
                        label for=(format!("goals-{id}")) { "Your goals for this session" }
                        textarea id=(format!("goals-{id}")) name="goals" rows="3" maxlength="2000" {}
                        label for=(format!("questions-{id}")) { "Questions (one per line)" }
                        textarea id=(format!("questions-{id}")) name="questions" rows="3" maxlength="4000" {}
                        button type="submit" { @if remaining > 0 { "Book" } @else { "Join the waitlist" } }
                    }
                }
            } @else if viewer.user.is_none() {
                p { a href=(format!("/signin?next=/mentors/{mentor}")) { "Sign in to book" } }
            }
        }
    }
}

/// How many of the newest reviews a mentor's page shows (and its JSON-LD lists).
const REVIEWS_SHOWN: i64 = 10;

/// One review: stars in words, the reviewer's display name (never contact
/// details), the text and the mentor's reply.
fn review_item(rv: &Value) -> Markup {
    let rating = rv["rating"].as_i64().unwrap_or(0);
    let date = s(rv, "createdAt").get(..10).unwrap_or("");
    html! {
        li {
            p {
                strong { (rating) " of 5" } " from " (s(&rv["reviewer"], "displayName"))
                " · " time datetime=(s(rv, "createdAt")) { (date) }
            }
            @if !s(rv, "text").is_empty() { p { (s(rv, "text")) } }
            @if rv["reply"].is_object() {
                p { em { "The mentor replied: " } (s(&rv["reply"], "text")) }
            }
        }
    }
}

/// The mentor's reviews as schema.org data. `aggregateRating` is not a
/// property of a Person, so they rate the mentorship the mentor provides
/// (a Service whose provider is the page's Person); None without reviews.
fn mentorship_ld(name: &str, canonical: &str, reviews: &Value) -> Option<Value> {
    let count = reviews["rating"]["count"].as_i64().unwrap_or(0);
    if count == 0 {
        return None;
    }
    let items: Vec<Value> = reviews["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|rv| {
            json!({
                "@type": "Review",
                "author": {"@type": "Person", "name": s(&rv["reviewer"], "displayName")},
                "datePublished": s(rv, "createdAt").get(..10).unwrap_or(""),
                "reviewBody": s(rv, "text"),
                "reviewRating": {"@type": "Rating", "ratingValue": rv["rating"], "bestRating": 5, "worstRating": 1},
            })
        })
        .collect();
    Some(json!({
        "@context": "https://schema.org", "@type": "Service",
        "name": format!("Mentorship with {name}"),
        "provider": {"@id": canonical},
        "aggregateRating": {
            "@type": "AggregateRating", "ratingValue": reviews["rating"]["average"],
            "reviewCount": count, "bestRating": 5, "worstRating": 1,
        },
        "review": items,
    }))
}

pub async fn mentor_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<UserId>,
    q: web::Query<MentorPageQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let profile = match mentor_profile(&state, id).await {
        Ok(p) => p,
        Err(e) if e.code() == ErrorCode::UserNotFound => return Ok(not_found(&state, &viewer)),
        Err(e) => return Err(e),
    };
    let slots_json = bridge::json_of(slots::of_mentor(state.clone(), web::Path::from(id)).await).await?;
    let slots = slots_json["items"].as_array().cloned().unwrap_or_default();
    let name = s(&profile, "displayName").to_owned();
    let headline = s(&profile, "headline").to_owned();
    let description = if headline.is_empty() {
        format!("{name}, a mentor on Lyceum: profile and upcoming slots.")
    } else {
        format!("{name}: {headline}. Mentor on Lyceum.")
    };
    let canonical = format!("/mentors/{id}");
    let mut person = json!({
        "@context": "https://schema.org", "@type": "Person", "@id": canonical, "name": name,
        "url": canonical,
    });
    if !headline.is_empty() {
        person["jobTitle"] = json!(headline);
    }
    if let Some(e) = profile["employer"].as_str() {
        person["worksFor"] = json!({"@type": "Organization", "name": e});
    }
    let skills = skills_text(&profile);
    if !skills.is_empty() {
        person["knowsAbout"] = json!(skills);
    }
    let reviews = crate::routes::reviews::public_of(&state, id, REVIEWS_SHOWN, None).await?;
    let review_items = reviews["items"].as_array().cloned().unwrap_or_default();
    let service = mentorship_ld(&name, &canonical, &reviews);
    let head = html! {
        meta property="og:type" content="profile";
        meta property="og:title" content=(name);
        meta property="og:description" content=(description);
        meta property="og:url" content=(canonical);
        (json_ld(&person))
        @if let Some(sv) = &service { (json_ld(sv)) }
    };
    let flash = match (q.booked.as_deref(), q.error.as_deref()) {
        (Some("confirmed"), _) => Some(notice("ok", "Booked! Your seat is confirmed; it is in My bookings.")),
        (Some("waitlisted"), _) => Some(notice(
            "ok",
            &format!(
                "You are on the waitlist, number {}. You will get the seat as soon as one frees up.",
                q.position.unwrap_or(0)
            ),
        )),
        (_, Some(e)) => Some(notice("error", e)),
        _ => None,
    };
    let body = html! {
        article {
            @if s(&profile, "avatarUrl").starts_with("/avatars/") {
                img class="avatar" src=(s(&profile, "avatarUrl")) alt=(format!("Picture of {name}")) width="96" height="96";
            }
            h1 { (name) }
            @if !headline.is_empty() { p class="lead" { (headline) } }
            @if let Some(f) = flash { (f) }
            @if viewer.user.as_ref().is_some_and(|u| u.auth.id != id) {
                // A call from a person's page: the live room with them named.
                div class="actions" {
                    form method="post" action="/chat/direct" class="inline" {
                        (csrf_field(&viewer))
                        input type="hidden" name="userId" value=(id);
                        input type="hidden" name="back" value=(format!("/mentors/{id}"));
                        button type="submit" id="message-mentor" { "Message " (name) }
                    }
                    form method="post" action="/chat/direct" class="inline" {
                        (csrf_field(&viewer))
                        input type="hidden" name="userId" value=(id);
                        input type="hidden" name="e2ee" value="1";
                        input type="hidden" name="back" value=(format!("/mentors/{id}"));
                        button type="submit" id="e2ee-mentor" class="secondary" { "Encrypted message to " (name) }
                    }
                    a id="call-mentor" class="button secondary" href=(format!("/app/#call={id}")) { "Call " (name) }
                }
            }
            @if let Some(r) = rating_text(&profile["rating"]) { p { (r) } }
            p {
                (profile["yearsOfExperience"].as_i64().unwrap_or(0)) " years of experience"
                @if let Some(e) = profile["employer"].as_str() { " · " (e) }
                @if profile["isAlumni"].as_bool() == Some(true) {
                    " · Alumnus" @if let Some(y) = profile["graduationYear"].as_i64() { ", class of " (y) }
                }
            }
            @if !s(&profile, "bio").is_empty() { h2 { "About" } p { (s(&profile, "bio")) } }
            @if !skills.is_empty() {
                h2 { "Skills" }
                ul { @for sk in profile["skills"].as_array().into_iter().flatten() { li { (s(sk, "name")) " (" (s(sk, "level")) ")" } } }
            }
            @if let Some(xs) = profile["experience"].as_array().filter(|a| !a.is_empty()) {
                h2 { "Experience" }
                ul { @for x in xs { li { (s(x, "title")) @if !s(x, "organization").is_empty() { ", " (s(x, "organization")) } } } }
            }
            section aria-labelledby="reviews" {
                h2 id="reviews" { "Reviews" }
                @if let Some(r) = rating_text(&reviews["rating"]) { p { (r) } }
                @if review_items.is_empty() { p { "No reviews yet." } }
                ul class="cards" {
                    @for rv in &review_items { (review_item(rv)) }
                }
            }
            section aria-labelledby="mentorship" {
                h2 id="mentorship" { "Mentorship: upcoming slots" }
                @if slots.is_empty() { p { "No upcoming slots right now." } }
                ul class="cards" id="slots" data-mentor=(id) {
                    @for sl in &slots { (slot_item(&viewer, &id.to_string(), sl)) }
                }
            }
        }
    };
    let pg = Page {
        title: &name,
        description: Some(&description),
        canonical: Some(canonical.clone()),
        head: Some(head),
        scripts: &["mentor.js"],
        current: Some("/mentors"),
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}

pub fn not_found(state: &AppState, viewer: &Viewer) -> HttpResponse {
    let body = html! {
        h1 { "Not found" }
        p { "There is nothing here: it may have been removed. " a href="/mentors" { "Find a mentor" } " or " a href="/sessions" { "browse sessions" } "." }
    };
    let pg = Page {
        title: "Not found",
        ..Default::default()
    };
    render(state, viewer, StatusCode::NOT_FOUND, page(viewer, pg, body))
}

#[derive(Deserialize)]
pub struct BookForm {
    csrf: Option<String>,
    #[serde(rename = "slotId")]
    slot_id: String,
    #[serde(default)]
    goals: String,
    #[serde(default)]
    questions: String,
}

/// `POST /mentors/{id}/book`: books through `POST /api/slots/book`'s own
/// handler and comes back to the mentor's page with the outcome in words.
pub async fn book(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    path: web::Path<UserId>,
    form: web::Form<BookForm>,
) -> Result<HttpResponse, ApiError> {
    let mentor = path.into_inner();
    let back = format!("/mentors/{mentor}");
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in(&back));
    };
    let form = form.into_inner();
    viewer.check_csrf(&req, form.csrf.as_deref())?;
    let questions: Vec<&str> = form
        .questions
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let body = json!({"slotId": form.slot_id, "agenda": {"goals": form.goals.trim(), "questions": questions}});
    let res = match bridge::body(body) {
        Ok(b) => bridge::json_of(slots::book(state.clone(), user.auth, b).await).await,
        Err(e) => Err(e),
    };
    let to = match res {
        Ok(v) => {
            let b = &v["booking"];
            format!(
                "{back}?booked={}&position={}#slots",
                s(b, "status"),
                b["waitlistPosition"].as_i64().unwrap_or(0)
            )
        }
        Err(e) => format!(
            "{back}?{}#slots",
            serde_urlencoded::to_string([("error", explain(&e))]).unwrap_or_default()
        ),
    };
    Ok(see_other(&to))
}
