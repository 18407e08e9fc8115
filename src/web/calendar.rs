//! The mentor's calendar (seed 001): a monthly calendar with a mark on each
//! day that has slots or sessions, "your availability" for the selected
//! date, the upcoming ones with countdowns, and forms to add availability
//! (one date, or weekly in the mentor's time zone) and to schedule a group
//! session or webinar. Seats and bookings change live (`calendar.js`
//! watches the mentor's own calendar). `/calendar/manage/{id}` is one slot
//! or session for its mentor: who booked with their agendas, start and end,
//! delete, and the mentor's private note.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use lyceum_actors::{OfferingId, Role};
use lyceum_protocol::ErrorCode;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth_pages::to_sign_in;
use super::bridge::{self, back_to, s};
use super::home::when;
use super::layout::{csrf_field, notice, page, render, Page};
use super::mentors::not_found;
use super::session::Viewer;
use crate::error::ApiError;
use crate::routes::calendar::{notes, sessions, slots};
use crate::state::AppState;

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

#[derive(Deserialize, Default)]
pub struct CalendarQuery {
    /// `YYYY-MM`
    month: Option<String>,
    /// `YYYY-MM-DD`
    date: Option<String>,
    added: Option<u32>,
    deleted: Option<u32>,
    error: Option<String>,
}

/// A page only a mentor (or an admin, for their own calendar) has: others
/// are told where to go instead.
fn mentors_only(state: &AppState, viewer: &Viewer) -> HttpResponse {
    let body = html! {
        h1 { "The calendar is for mentors" }
        p { "Mentors publish their availability here. " a href="/bookings" { "Your bookings" } " are on their own page, and you can " a href="/mentors" { "find a mentor" } "." }
    };
    let pg = Page {
        title: "Calendar",
        ..Default::default()
    };
    render(state, viewer, StatusCode::FORBIDDEN, page(viewer, pg, body))
}

fn instant(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn seats(o: &Value) -> Markup {
    let id = s(o, "id");
    html! {
        span data-seats=(id) data-remaining=(o["remainingSeats"].as_i64().unwrap_or(0)) {
            (o["bookedCount"].as_i64().unwrap_or(0)) " of " (o["maxParticipants"].as_i64().unwrap_or(0)) " booked"
            @if o["waitlistCount"].as_i64().unwrap_or(0) > 0 { ", " (o["waitlistCount"].as_i64().unwrap_or(0)) " waiting" }
        }
    }
}

fn kind_word(o: &Value) -> &'static str {
    if s(o, "kind") == "group" {
        "Session"
    } else {
        "Slot"
    }
}

fn label_of(o: &Value) -> String {
    if s(o, "title").is_empty() {
        format!("{} {}–{}", kind_word(o), s(o, "startTime"), s(o, "endTime"))
    } else {
        s(o, "title").to_owned()
    }
}

pub async fn calendar_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    q: web::Query<CalendarQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/calendar"));
    };
    if !matches!(user.role(), Role::Mentor | Role::Admin) {
        return Ok(mentors_only(&state, &viewer));
    }
    let tz_name = slots::user_time_zone(&state, user.id()).await?;
    let tz = slots::parse_tz(&tz_name).unwrap_or(chrono_tz::UTC);
    let today = Utc::now().with_timezone(&tz).date_naive();
    let selected = q
        .date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .unwrap_or(today);
    let first = q
        .month
        .as_deref()
        .and_then(|m| NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok())
        .unwrap_or_else(|| selected.with_day(1).unwrap_or(selected));
    let next_month = first.checked_add_months(chrono::Months::new(1)).unwrap_or(first);
    let prev_month = first.checked_sub_months(chrono::Months::new(1)).unwrap_or(first);
    let midnight = |d: NaiveDate| {
        slots::local_instant(tz, d, chrono::NaiveTime::MIN)
            .unwrap_or_else(|_| d.and_time(chrono::NaiveTime::MIN).and_utc())
    };
    let month_items = slots::mentor_window(&state, user.id(), midnight(first), midnight(next_month)).await?;
    let day_of = |o: &Value| instant(&o["startsAt"]).map(|t| t.with_timezone(&tz).date_naive());
    let on_selected: Vec<&Value> = month_items.iter().filter(|o| day_of(o) == Some(selected)).collect();
    let now = Utc::now();
    let upcoming = slots::mentor_window(&state, user.id(), now, now + Duration::days(60)).await?;
    let upcoming: Vec<&Value> = upcoming.iter().take(8).collect();

    // The month grid, Monday first.
    let lead = first.weekday().num_days_from_monday() as i64;
    let days_in_month = (next_month - first).num_days();
    let cells = lead + days_in_month;
    let weeks = (cells + 6) / 7;
    let month_param = |d: NaiveDate| d.format("%Y-%m").to_string();
    let flash = if let Some(n) = q.added {
        Some(notice(
            "ok",
            &if n == 1 {
                "Added one slot to your calendar.".to_owned()
            } else {
                format!("Added {n} weekly slots to your calendar.")
            },
        ))
    } else if q.deleted.is_some() {
        Some(notice("ok", "The slot was deleted. Everyone who booked it was told."))
    } else {
        q.error.as_deref().map(|e| notice("error", e))
    };
    let date_value = selected.format("%Y-%m-%d").to_string();
    let body = html! {
        h1 { "My calendar" }
        p { a href="/dashboard" { "Dashboard" } " · " a href="/mentorships" { "Mentorship requests" } }
        @if let Some(f) = flash { (f) }
        p class="hint" { "Times are in your time zone, " strong { (tz_name) } ". " a href="/profile" { "Change it in your profile" } "." }
        div id="calendar-live" data-mentor=(user.id()) {}
        div class="calendar-layout" {
            section aria-labelledby="month-title" class="month" {
                div class="month-nav" {
                    a href=(format!("/calendar?month={}", month_param(prev_month))) aria-label=(format!("Previous month, {}", prev_month.format("%B %Y"))) { "‹" }
                    h2 id="month-title" { (first.format("%B %Y")) }
                    a href=(format!("/calendar?month={}", month_param(next_month))) aria-label=(format!("Next month, {}", next_month.format("%B %Y"))) { "›" }
                }
                table class="month-grid" {
                    caption class="visually-hidden" { "Days of " (first.format("%B %Y")) "; a day with slots or sessions says how many." }
                    thead { tr { @for w in WEEKDAYS { th scope="col" abbr=(w) { (&w[..3]) } } } }
                    tbody {
                        @for week in 0..weeks {
                            tr {
                                @for wd in 0..7 {
                                    @let idx = week * 7 + wd - lead;
                                    @if idx < 0 || idx >= days_in_month {
                                        td {}
                                    } @else {
                                        @let day = first + Duration::days(idx);
                                        @let n = month_items.iter().filter(|o| day_of(o) == Some(day)).count();
                                        @let cls = format!("{}{}{}", if day == selected { "selected " } else { "" }, if day == today { "today " } else { "" }, if n > 0 { "busy" } else { "" });
                                        td class=(cls) {
                                            a href=(format!("/calendar?month={}&date={}", month_param(first), day.format("%Y-%m-%d")))
                                              aria-current=[(day == selected).then_some("date")] {
                                                // The name in words (an aria-label would not contain the visible "2" and "1").
                                                span aria-hidden="true" { (day.day()) }
                                                span class="visually-hidden" { (format!("{}{}", day.format("%A %-d %B"), match n { 0 => String::new(), 1 => ", 1 slot or session".to_owned(), n => format!(", {n} slots or sessions") })) }
                                                @if n > 0 { span class="dot" aria-hidden="true" { (n) } }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="day-title" class="day" {
                h2 id="day-title" { "Your availability on " (selected.format("%A %-d %B")) }
                @if on_selected.is_empty() {
                    p { "Nothing on this day yet. Add a slot below." }
                } @else {
                    ul class="cards" id="day-items" {
                        @for o in &on_selected {
                            li class="card" data-offering=(s(o, "id")) {
                                h3 { a href=(format!("/calendar/manage/{}", s(o, "id"))) { (label_of(o)) } }
                                p { (s(o, "startTime")) "–" (s(o, "endTime")) " · " (kind_word(o)) " · " (seats(o)) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="upcoming-title" {
            h2 id="upcoming-title" { "Upcoming" }
            @if upcoming.is_empty() { p { "No upcoming slots or sessions." } }
            ul class="cards" id="upcoming" {
                @for o in &upcoming {
                    li class="card" data-offering=(s(o, "id")) {
                        h3 { a href=(format!("/calendar/manage/{}", s(o, "id"))) { (label_of(o)) } }
                        @if let Some(t) = instant(&o["startsAt"]) {
                            p { (when(t)) " · " (kind_word(o)) @if s(o, "state") == "live" { " · " span class="badge live" { "Live now" } } }
                            @if t > now { p class="countdown" data-countdown=(t.to_rfc3339()) {} }
                        }
                        p { (seats(o)) }
                    }
                }
            }
        }
        section aria-labelledby="add-title" class="forms" {
            h2 id="add-title" { "Add availability" }
            form method="post" action="/calendar/availability" class="stack" aria-labelledby="add-one-title" {
                h3 id="add-one-title" { "On one date" }
                (csrf_field(&viewer))
                label for="one-date" { "Date" }
                input id="one-date" type="date" name="date" value=(date_value) required;
                label for="one-start" { "Start time" }
                input id="one-start" type="time" name="startTime" value="18:00" required;
                label for="one-end" { "End time" }
                input id="one-end" type="time" name="endTime" value="19:00" required;
                label for="one-seats" { "Seats" }
                input id="one-seats" type="number" name="maxParticipants" value="1" min="1" max=(slots::MAX_CAPACITY) required;
                label for="one-title" { "Title (optional)" }
                input id="one-title" type="text" name="title" maxlength="120";
                label for="one-description" { "What mentees can expect (optional)" }
                textarea id="one-description" name="description" rows="2" maxlength="2000" {}
                button type="submit" { "Add the slot" }
            }
            form method="post" action="/calendar/availability/weekly" class="stack" aria-labelledby="add-weekly-title" {
                h3 id="add-weekly-title" { "Every week" }
                (csrf_field(&viewer))
                label for="w-day" { "Day of the week" }
                select id="w-day" name="weekday" {
                    @for (i, w) in WEEKDAYS.iter().enumerate() {
                        option value=(i + 1) selected[i as u32 == selected.weekday().num_days_from_monday()] { (w) }
                    }
                }
                label for="w-start" { "Start time" }
                input id="w-start" type="time" name="startTime" value="18:00" required;
                label for="w-end" { "End time" }
                input id="w-end" type="time" name="endTime" value="19:00" required;
                label for="w-from" { "First week from" }
                input id="w-from" type="date" name="startDate" value=(date_value) required;
                label for="w-weeks" { "For how many weeks" }
                input id="w-weeks" type="number" name="weeks" value="8" min="1" max=(slots::MAX_WEEKS) required;
                label for="w-seats" { "Seats" }
                input id="w-seats" type="number" name="maxParticipants" value="1" min="1" max=(slots::MAX_CAPACITY) required;
                label for="w-title" { "Title (optional)" }
                input id="w-title" type="text" name="title" maxlength="120";
                button type="submit" { "Add weekly slots" }
            }
            form method="post" action="/calendar/sessions" class="stack" aria-labelledby="schedule-title" {
                h3 id="schedule-title" { "Schedule a group session or webinar" }
                (csrf_field(&viewer))
                label for="s-title" { "Title" }
                input id="s-title" type="text" name="title" maxlength="120" required;
                label for="s-description" { "Description" }
                textarea id="s-description" name="description" rows="3" maxlength="4000" {}
                label for="s-date" { "Date" }
                input id="s-date" type="date" name="date" value=(date_value) required;
                label for="s-start" { "Start time" }
                input id="s-start" type="time" name="startTime" value="18:00" required;
                label for="s-duration" { "Length in minutes" }
                input id="s-duration" type="number" name="durationMinutes" value="60" min=(slots::MIN_MINUTES) max=(slots::MAX_MINUTES) required;
                label for="s-capacity" { "Seats" }
                input id="s-capacity" type="number" name="capacity" value="100" min="1" max=(slots::MAX_CAPACITY) required;
                label for="s-category" { "Category (optional, e.g. placements)" }
                input id="s-category" type="text" name="category" maxlength="60";
                label for="s-tags" { "Tags (optional, comma separated)" }
                input id="s-tags" type="text" name="tags" maxlength="400";
                button type="submit" { "Schedule" }
            }
        }
    };
    let pg = Page {
        title: "My calendar",
        scripts: &["calendar.js"],
        current: Some("/calendar"),
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}

#[derive(Deserialize)]
pub struct OneForm {
    csrf: Option<String>,
    date: String,
    #[serde(rename = "startTime")]
    start_time: String,
    #[serde(rename = "endTime")]
    end_time: String,
    #[serde(rename = "maxParticipants")]
    max_participants: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
}

/// A number typed into a form, or the API's own `invalid_slot` error.
fn number<T: std::str::FromStr>(field: &str, v: &str) -> Result<T, ApiError> {
    v.trim()
        .parse()
        .map_err(|_| ApiError::new(ErrorCode::InvalidSlot, format!("{field} must be a whole number")))
}

fn date_of(field: &str, v: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::new(ErrorCode::InvalidSlot, format!("{field} must be a date")))
}

fn back_for(date: &str) -> String {
    match NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d") {
        Ok(d) => format!("/calendar?month={}&date={}", d.format("%Y-%m"), d.format("%Y-%m-%d")),
        Err(_) => "/calendar".to_owned(),
    }
}

pub async fn add_one(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<OneForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/calendar"));
    };
    let f = form.into_inner();
    viewer.check_csrf(&req, f.csrf.as_deref())?;
    let res = async {
        let body = json!({
            "date": date_of("date", &f.date)?, "startTime": f.start_time, "endTime": f.end_time,
            "maxParticipants": number::<i32>("maxParticipants", &f.max_participants)?,
            "title": f.title, "description": f.description,
        });
        bridge::json_of(slots::create(state.clone(), user.auth, bridge::body(body)?).await).await?;
        Ok("added=1".to_owned())
    }
    .await;
    Ok(back_to(&back_for(&f.date), res))
}

#[derive(Deserialize)]
pub struct WeeklyForm {
    csrf: Option<String>,
    weekday: String,
    #[serde(rename = "startTime")]
    start_time: String,
    #[serde(rename = "endTime")]
    end_time: String,
    #[serde(rename = "startDate")]
    start_date: String,
    weeks: String,
    #[serde(rename = "maxParticipants")]
    max_participants: String,
    #[serde(default)]
    title: String,
}

pub async fn add_weekly(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<WeeklyForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/calendar"));
    };
    let f = form.into_inner();
    viewer.check_csrf(&req, f.csrf.as_deref())?;
    let res = async {
        let body = json!({
            "weekday": number::<u32>("weekday", &f.weekday)?, "startTime": f.start_time, "endTime": f.end_time,
            "startDate": date_of("startDate", &f.start_date)?, "weeks": number::<u32>("weeks", &f.weeks)?,
            "maxParticipants": number::<i32>("maxParticipants", &f.max_participants)?, "title": f.title,
        });
        let v = bridge::json_of(slots::create_recurring(state.clone(), user.auth, bridge::body(body)?).await).await?;
        Ok(format!("added={}", v["items"].as_array().map_or(0, Vec::len)))
    }
    .await;
    Ok(back_to(&back_for(&f.start_date), res))
}

#[derive(Deserialize)]
pub struct ScheduleForm {
    csrf: Option<String>,
    title: String,
    #[serde(default)]
    description: String,
    date: String,
    #[serde(rename = "startTime")]
    start_time: String,
    #[serde(rename = "durationMinutes")]
    duration_minutes: String,
    capacity: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    tags: String,
}

pub async fn schedule(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<ScheduleForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/calendar"));
    };
    let f = form.into_inner();
    viewer.check_csrf(&req, f.csrf.as_deref())?;
    let res = async {
        slots::require_mentor(&user.auth)?;
        let tz = slots::parse_tz(&slots::user_time_zone(&state, user.id()).await?)?;
        let starts_at = slots::local_instant(
            tz,
            date_of("date", &f.date)?,
            slots::parse_time("startTime", &f.start_time)?,
        )?;
        let tags: Vec<&str> = f.tags.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
        let category = Some(f.category.trim()).filter(|c| !c.is_empty());
        let body = json!({
            "title": f.title, "description": f.description, "startsAt": starts_at,
            "durationMinutes": number::<i64>("durationMinutes", &f.duration_minutes)?,
            "capacity": number::<i32>("capacity", &f.capacity)?, "category": category, "tags": tags,
        });
        let v = bridge::json_of(sessions::create(state.clone(), user.auth, bridge::body(body)?).await).await?;
        Ok(s(&v, "id").to_owned())
    }
    .await;
    Ok(match res {
        Ok(id) => super::auth_pages::see_other(&format!("/calendar/manage/{id}?done=scheduled")),
        Err(e) => back_to(&back_for(&f.date), Err(e)),
    })
}

#[derive(Deserialize, Default)]
pub struct ManageQuery {
    done: Option<String>,
    error: Option<String>,
}

/// One slot or session, for its mentor.
pub async fn manage_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    path: web::Path<OfferingId>,
    q: web::Query<ManageQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let back = format!("/calendar/manage/{id}");
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in(&back));
    };
    let o = match slots::offering(&state, id).await {
        Ok(o) => o,
        Err(e) if e.code() == ErrorCode::OfferingNotFound || e.code() == ErrorCode::NotFound => {
            return Ok(not_found(&state, &viewer))
        }
        Err(e) => return Err(e),
    };
    if s(&o, "mentorId") != user.id().to_string() {
        // Someone else's: the public page when there is one, else nothing.
        return Ok(if s(&o, "kind") == "group" {
            super::auth_pages::see_other(&format!("/sessions/{id}"))
        } else {
            not_found(&state, &viewer)
        });
    }
    let people = bridge::json_of(slots::bookings_of(state.clone(), user.auth, web::Path::from(id)).await).await?;
    let people = people["items"].as_array().cloned().unwrap_or_default();
    let started = instant(&o["startsAt"]).is_some_and(|t| t <= Utc::now()) || s(&o, "state") != "scheduled";
    let note = if started {
        bridge::json_of(notes::get_note(state.clone(), user.auth, web::Path::from(id)).await)
            .await
            .ok()
            .and_then(|v| v["body"].as_str().map(str::to_owned))
    } else {
        None
    };
    let group = s(&o, "kind") == "group";
    let st = s(&o, "state");
    let title = label_of(&o);
    let flash = match (q.done.as_deref(), q.error.as_deref()) {
        (_, Some(e)) => Some(notice("error", e)),
        (Some("scheduled"), _) => Some(notice(
            "ok",
            "Scheduled. Mentees can find it under Sessions and register.",
        )),
        (Some("start"), _) => Some(notice("ok", "The session is live. Registered people can join now.")),
        (Some("complete"), _) => Some(notice("ok", "The session has ended.")),
        (Some("cancel"), _) => Some(notice("ok", "Cancelled. Everyone registered was told.")),
        (Some("delete"), _) => Some(notice("ok", "The slot was deleted. Everyone who booked it was told.")),
        (Some("note"), _) => Some(notice("ok", "Your note is saved.")),
        _ => None,
    };
    let action = |name: &str, label: &str, class: &str| {
        html! {
            form method="post" action=(back) class="inline" {
                (csrf_field(&viewer))
                input type="hidden" name="action" value=(name);
                button type="submit" class=(class) { (label) }
            }
        }
    };
    let body = html! {
        p { a href="/calendar" { "← My calendar" } }
        h1 { (title) }
        @if let Some(f) = flash { (f) }
        div id="calendar-live" data-mentor=(user.id()) {}
        @if let Some(t) = instant(&o["startsAt"]) {
            p { (when(t)) " · " (o["durationMinutes"].as_i64().unwrap_or(0)) " min · " (kind_word(&o)) }
            @if st == "scheduled" && t > Utc::now() { p class="countdown" data-countdown=(t.to_rfc3339()) {} }
        }
        p { "State: " strong { @match st { "live" => "live now", "completed" => "ended", "cancelled" => "cancelled", _ => "scheduled" } } " · " (seats(&o)) }
        @if group {
            p { a href=(format!("/sessions/{id}")) { "Public page of " (title) } }
        }
        div class="actions" {
            @if group && st == "scheduled" { (action("start", &format!("Start {title}"), "secondary")) " " (action("cancel", &format!("Cancel {title}"), "danger")) }
            @if group && st == "live" {
                a class="button secondary" href=(format!("/app/#session={id}")) { "Enter the live room" } " "
                (action("complete", &format!("End {title}"), "danger"))
            }
            @if !group && st == "scheduled" { (action("delete", &format!("Delete {title}"), "danger")) }
        }
        section aria-labelledby="people-title" {
            h2 id="people-title" { @if group { "Registered" } @else { "Booked" } " (" (people.len()) ")" }
            @if people.is_empty() { p { "Nobody yet." } }
            @else {
                table id="people" {
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Goals" } th scope="col" { "Questions" } } }
                    tbody {
                        @for p in &people {
                            tr {
                                td { (s(p, "menteeName")) }
                                td { @if s(p, "status") == "waitlisted" { "Waitlist, number " (p["waitlistPosition"].as_i64().unwrap_or(0)) } @else { "Confirmed" } }
                                td { (s(&p["agenda"], "goals")) }
                                td {
                                    @if let Some(qs) = p["agenda"]["questions"].as_array().filter(|a| !a.is_empty()) {
                                        ul { @for q in qs { li { (q.as_str().unwrap_or("")) } } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="note-title" {
            h2 id="note-title" { "My private note" }
            @if started {
                form method="post" action=(back) class="stack" {
                    (csrf_field(&viewer))
                    input type="hidden" name="action" value="note";
                    label for="note" { "Only you see this note." }
                    textarea id="note" name="note" rows="6" maxlength="20000" { (note.unwrap_or_default()) }
                    button type="submit" { "Save the note" }
                }
            } @else {
                p { "You can keep a private note here once it has started." }
            }
        }
    };
    let pg = Page {
        title: &title,
        scripts: &["calendar.js"],
        current: Some("/calendar"),
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}

#[derive(Deserialize)]
pub struct ManageForm {
    csrf: Option<String>,
    action: String,
    #[serde(default)]
    note: String,
}

/// start, complete, cancel (a session), delete (a slot), note: through the
/// API's handlers, which check that the caller is the mentor.
pub async fn manage(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    path: web::Path<OfferingId>,
    form: web::Form<ManageForm>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let back = format!("/calendar/manage/{id}");
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in(&back));
    };
    let f = form.into_inner();
    viewer.check_csrf(&req, f.csrf.as_deref())?;
    let a = user.auth;
    let res = match f.action.as_str() {
        "start" | "complete" | "cancel" => {
            sessions::transition(state.clone(), a, web::Path::from((id, f.action.clone()))).await
        }
        "delete" => slots::delete(state.clone(), a, web::Path::from(id)).await,
        "note" => match bridge::body(json!({"body": f.note})) {
            Ok(b) => notes::put_note(state.clone(), a, web::Path::from(id), b).await,
            Err(e) => Err(e),
        },
        _ => Err(ApiError::new(ErrorCode::NotFound, "no such action")),
    };
    let res = bridge::json_of(res).await.map(|_| format!("done={}", f.action));
    if f.action == "delete" && res.is_ok() {
        return Ok(super::auth_pages::see_other("/calendar?deleted=1"));
    }
    Ok(back_to(&back, res))
}
