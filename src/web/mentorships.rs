//! The matching questionnaire with its ranked mentors and their reasons in
//! words (`/matching`), and mentorships (`/mentorships`): a mentee requests
//! one from a result, the mentor accepts or declines it, either ends it.
//! The mentor's dashboard (`/dashboard`). Signed in only; every change goes
//! through the API's handler.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{Duration, Utc};
use lyceum_actors::Role;
use lyceum_protocol::MentorshipId;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth_pages::{see_other, to_sign_in};
use super::bridge::{self, s};
use super::layout::{csrf_field, notice, page, render, Page};
use super::session::Viewer;
use super::words::explain;
use crate::error::ApiError;
use crate::routes::calendar::slots;
use crate::routes::{matching, mentorships};
use crate::state::AppState;

const LEVELS: [&str; 4] = ["beginner", "intermediate", "advanced", "expert"];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
/// Rows of skills the form offers.
const SKILL_ROWS: usize = 3;

/// The API's questionnaire from the form's fields (empty ones left out).
fn questionnaire(p: &HashMap<String, String>, tz: &str) -> Value {
    let get = |k: &str| p.get(k).map(|v| v.trim()).unwrap_or("");
    let skills: Vec<Value> = (1..=SKILL_ROWS)
        .filter(|i| !get(&format!("skill{i}")).is_empty())
        .map(|i| json!({"name": get(&format!("skill{i}")), "level": get(&format!("level{i}"))}))
        .collect();
    let categories: Vec<&str> = get("categories")
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    let mut q = json!({
        "skills": skills, "categories": categories, "goals": get("goals"),
        "timeZone": if get("timeZone").is_empty() { tz } else { get("timeZone") },
    });
    if !get("weekday").is_empty() {
        q["preferredTimes"] = json!([{
            "weekday": get("weekday").parse::<u32>().unwrap_or(0),
            "startTime": get("startTime"), "endTime": get("endTime"),
        }]);
    }
    q
}

pub async fn matching_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    params: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/matching"));
    };
    let p = params.into_inner();
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    let tz = slots::user_time_zone(&state, user.id()).await?;
    let asked = p.contains_key("timeZone");
    let result = if asked {
        match bridge::body(questionnaire(&p, &tz)) {
            Ok(b) => Some(bridge::json_of(matching::matching(state.clone(), user.auth, b).await).await),
            Err(e) => Some(Err(e)),
        }
    } else {
        None
    };
    let today = Utc::now().date_naive();
    let body = html! {
        h1 { "Find a mentor for your goals" }
        form method="get" action="/matching" class="stack" {
            fieldset {
                legend { "Skills you want, and the level you aim for" }
                @for i in 1..=SKILL_ROWS {
                    div class="row" {
                        label for=(format!("skill{i}")) { "Skill " (i) }
                        input id=(format!("skill{i}")) name=(format!("skill{i}")) maxlength="60" value=(get(&format!("skill{i}")));
                        label for=(format!("level{i}")) { "Level wanted for skill " (i) }
                        select id=(format!("level{i}")) name=(format!("level{i}")) {
                            @for l in LEVELS { option value=(l) selected[get(&format!("level{i}")) == l] { (l) } }
                        }
                    }
                }
            }
            label for="goals" { "Your goals, in your words" }
            textarea id="goals" name="goals" rows="3" maxlength="2000" { (get("goals")) }
            label for="categories" { "Categories (comma-separated, e.g. interviews, career)" }
            input id="categories" name="categories" value=(get("categories"));
            fieldset {
                legend { "When you are free (one weekly time, optional)" }
                label for="weekday" { "Day" }
                select id="weekday" name="weekday" {
                    option value="" { "Any time" }
                    @for (i, d) in DAYS.iter().enumerate() {
                        @let n = (i + 1).to_string();
                        option value=(n) selected[get("weekday") == n] { (d) }
                    }
                }
                label for="startTime" { "From" }
                input id="startTime" name="startTime" type="time" value=(if get("startTime").is_empty() { "18:00" } else { get("startTime") });
                label for="endTime" { "To" }
                input id="endTime" name="endTime" type="time" value=(if get("endTime").is_empty() { "21:00" } else { get("endTime") });
            }
            label for="timeZone" { "Your time zone" }
            input id="timeZone" name="timeZone" value=(if get("timeZone").is_empty() { tz.as_str() } else { get("timeZone") });
            button type="submit" { "Find my matches" }
        }
        @match &result {
            None => {}
            Some(Err(e)) => { (notice("error", &explain(e))) }
            Some(Ok(v)) => {
                h2 { "Your matches" }
                @let items = v["items"].as_array().cloned().unwrap_or_default();
                @if items.is_empty() { p { "No mentors yet." } }
                ol class="cards" id="matches" {
                    @for m in &items { (match_item(&viewer, m, get("goals"), today)) }
                }
            }
        }
    };
    let pg = Page {
        title: "Find a mentor for your goals",
        current: Some("/mentorships"),
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}

fn match_item(viewer: &Viewer, m: &Value, goals: &str, today: chrono::NaiveDate) -> Markup {
    let mentor = &m["mentor"];
    let id = s(mentor, "userId");
    let name = s(mentor, "displayName");
    let is_mentee = viewer.user.as_ref().is_some_and(|u| u.auth.role == Role::Mentee);
    html! {
        li {
            h3 { a href=(format!("/mentors/{id}")) { (name) } " · " (format!("{:.0}", m["score"].as_f64().unwrap_or(0.0))) " of 100" }
            @if !s(mentor, "headline").is_empty() { p { (s(mentor, "headline")) } }
            ul class="reasons" { @for r in m["reasons"].as_array().into_iter().flatten() { li { (r.as_str().unwrap_or("")) } } }
            @if is_mentee {
                form method="post" action="/mentorships" {
                    (csrf_field(viewer))
                    input type="hidden" name="mentorId" value=(id);
                    label for=(format!("start-{id}")) { "Start" }
                    input id=(format!("start-{id}")) name="startDate" type="date" value=(today.to_string());
                    label for=(format!("end-{id}")) { "End" }
                    input id=(format!("end-{id}")) name="endDate" type="date" value=((today + Duration::days(90)).to_string());
                    label for=(format!("goals-{id}")) { "Goals for the mentorship" }
                    textarea id=(format!("goals-{id}")) name="goals" rows="2" maxlength="4000" { (goals) }
                    button type="submit" { "Request mentorship with " (name) }
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct MentorshipsQuery {
    done: Option<String>,
    error: Option<String>,
}

pub async fn mentorships_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    q: web::Query<MentorshipsQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/mentorships"));
    };
    let v = bridge::json_of(mentorships::list(state.clone(), user.auth).await).await?;
    let items = v["items"].as_array().cloned().unwrap_or_default();
    let me = user.id().to_string();
    let body = html! {
        h1 { "Mentorships" }
        @match q.done.as_deref() {
            Some("requested") => { (notice("ok", "Requested. The mentor will accept or decline it; it is listed here.")) }
            Some("accept") => { (notice("ok", "Accepted: your conversation with the mentee is open.")) }
            Some("decline") => { (notice("ok", "Declined.")) }
            Some("end") => { (notice("ok", "Ended.")) }
            _ => {}
        }
        @if let Some(e) = &q.error { (notice("error", e)) }
        @if user.auth.role == Role::Mentee { p { a href="/matching" { "Find a mentor for your goals" } } }
        @if items.is_empty() { p { "No mentorships yet." } }
        ul class="cards" id="mentorships" {
            @for m in &items {
                @let mentor_side = s(&m["mentor"], "id") == me;
                @let peer = if mentor_side { &m["mentee"] } else { &m["mentor"] };
                @let status = s(m, "status");
                @let id = s(m, "id");
                li data-mentorship=(id) {
                    h2 { (if mentor_side { "Mentee: " } else { "Mentor: " }) (s(peer, "displayName")) }
                    p { "From " (s(m, "startDate")) " to " (s(m, "endDate")) " · " strong data-status { (status) } }
                    p { "Goals: " (s(m, "goals")) }
                    @if status == "accepted" && m["roomId"].is_string() {
                        p {
                            "Your conversation is open. "
                            a href=(format!("/chat/{}", s(m, "roomId"))) { "Message " (s(peer, "displayName")) }
                            " · "
                            a href=(format!("/app/#session={}", s(m, "roomId"))) { "Call " (s(peer, "displayName")) }
                        }
                    }
                    @if mentor_side && status == "pending" {
                        (action_form(&viewer, id, "accept", &format!("Accept {}", s(peer, "displayName"))))
                        (action_form(&viewer, id, "decline", &format!("Decline {}", s(peer, "displayName"))))
                    }
                    @if status == "pending" || status == "accepted" {
                        (action_form(&viewer, id, "end", &format!("End the mentorship with {}", s(peer, "displayName"))))
                    }
                }
            }
        }
    };
    let pg = Page {
        title: "Mentorships",
        current: Some("/mentorships"),
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}

fn action_form(viewer: &Viewer, id: &str, action: &str, label: &str) -> Markup {
    html! {
        form method="post" action=(format!("/mentorships/{id}/{action}")) class="inline" {
            (csrf_field(viewer))
            button type="submit" class=(if action == "accept" { "" } else { "secondary" }) { (label) }
        }
    }
}

fn back(res: Result<Value, ApiError>, done: &str) -> HttpResponse {
    match res {
        Ok(_) => see_other(&format!("/mentorships?done={done}")),
        Err(e) => see_other(&format!(
            "/mentorships?{}",
            serde_urlencoded::to_string([("error", explain(&e))]).unwrap_or_default()
        )),
    }
}

#[derive(Deserialize)]
pub struct RequestForm {
    csrf: Option<String>,
    #[serde(rename = "mentorId")]
    mentor_id: String,
    #[serde(rename = "startDate")]
    start_date: String,
    #[serde(rename = "endDate")]
    end_date: String,
    #[serde(default)]
    goals: String,
}

/// `POST /mentorships`: a mentee's request through `POST /api/mentorships`.
pub async fn request(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<RequestForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/mentorships"));
    };
    let f = form.into_inner();
    viewer.check_csrf(&req, f.csrf.as_deref())?;
    let res = match bridge::body(json!({
        "mentorId": f.mentor_id, "startDate": f.start_date, "endDate": f.end_date, "goals": f.goals,
    })) {
        Ok(b) => bridge::json_of(mentorships::request(state.clone(), user.auth, b).await).await,
        Err(e) => Err(e),
    };
    Ok(back(res, "requested"))
}

#[derive(Deserialize)]
pub struct ActForm {
    csrf: Option<String>,
}

/// `POST /mentorships/{id}/{action}`: accept, decline or end through the API.
pub async fn act(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    path: web::Path<(MentorshipId, String)>,
    form: web::Form<ActForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/mentorships"));
    };
    viewer.check_csrf(&req, form.csrf.as_deref())?;
    let (id, action) = path.into_inner();
    let done = action.clone();
    let res = bridge::json_of(mentorships::act(state.clone(), user.auth, web::Path::from((id, action))).await).await;
    Ok(back(res, &done))
}

/// A bar per month of the rating trend, as inline SVG (labelled in words).
fn trend_svg(trend: &[Value]) -> Markup {
    let w = 40.0 * trend.len().max(1) as f64 + 20.0;
    let words: Vec<String> = trend
        .iter()
        .map(|t| format!("{}: {:.1}", s(t, "month"), t["average"].as_f64().unwrap_or(0.0)))
        .collect();
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {w} 140")) width=(w) height="140" role="img"
            aria-label=(format!("Average rating by month: {}", words.join(", "))) {
            @for (i, t) in trend.iter().enumerate() {
                @let avg = t["average"].as_f64().unwrap_or(0.0);
                @let h = 100.0 * avg / 5.0;
                rect x=(20.0 + 40.0 * i as f64) y=(110.0 - h) width="28" height=(h) fill="#1a5fb4" {}
                text x=(20.0 + 40.0 * i as f64) y="126" font-size="9" { (s(t, "month").get(5..).unwrap_or("")) }
                text x=(20.0 + 40.0 * i as f64) y=(106.0 - h) font-size="9" { (format!("{avg:.1}")) }
            }
        }
    }
}

/// `/dashboard`: the mentor's dashboard from `GET /api/me/dashboard`.
pub async fn dashboard_page(state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/dashboard"));
    };
    let d = match bridge::json_of(crate::routes::dashboard::dashboard(state.clone(), user.auth).await).await {
        Ok(d) => d,
        Err(e) => {
            let body = html! { h1 { "Dashboard" } (notice("error", &explain(&e))) };
            let pg = Page {
                title: "Dashboard",
                ..Default::default()
            };
            return Ok(render(&state, &viewer, StatusCode::FORBIDDEN, page(&viewer, pg, body)));
        }
    };
    let f = &d["figures"];
    let rate = f["attendanceRate"]
        .as_f64()
        .map_or("no bookings yet".to_owned(), |r| format!("{:.0} %", r * 100.0));
    let trend = d["ratingTrend"].as_array().cloned().unwrap_or_default();
    let table = |items: &Value| -> Markup {
        html! {
            table {
                thead { tr { th scope="col" { "What" } th scope="col" { "Starts" } th scope="col" { "Booked" } th scope="col" { "Attended" } } }
                tbody {
                    @for o in items.as_array().into_iter().flatten() {
                        tr {
                            td { @if s(o, "title").is_empty() { "Slot" } @else { (s(o, "title")) } }
                            td { (s(o, "startsAt").get(..16).unwrap_or("").replace('T', " ")) " UTC" }
                            td { (o["confirmed"]) " of " (o["capacity"]) }
                            td { (o["attended"]) }
                        }
                    }
                }
            }
        }
    };
    let requests = d["mentorshipRequests"].as_array().map_or(0, Vec::len);
    let body = html! {
        h1 { "Dashboard" }
        dl class="figures" {
            dt { "Sessions held" } dd { (f["sessionsHeld"]) }
            dt { "Hours" } dd { (f["hours"]) }
            dt { "Attendance" } dd { (rate) " (" (f["attendedBookings"]) " of " (f["confirmedBookings"]) " booked)" }
            dt { "Rating" } dd { (format!("{:.1}", d["rating"]["average"].as_f64().unwrap_or(0.0))) " from " (d["rating"]["count"]) " reviews" }
            dt { "Mentorship requests" } dd { a href="/mentorships" { (requests) " waiting" } }
        }
        h2 { "Rating by month" }
        @if trend.is_empty() { p { "No reviews in the last 12 months." } } @else { (trend_svg(&trend)) }
        h2 { "Upcoming" }
        (table(&d["upcoming"]))
        h2 { "Past" }
        (table(&d["past"]))
    };
    let pg = Page {
        title: "Dashboard",
        current: Some("/calendar"),
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}
