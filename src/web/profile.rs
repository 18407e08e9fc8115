//! The profile editor (seed 002's profile: bio, skills with levels,
//! experience, achievements, certifications, projects, links, the picture)
//! and the details the directory and the calendar use (headline, tags,
//! years, employer, alumni, time zone, messages). The form goes through
//! `PATCH /api/me/profile`'s own handler and rules; on an error the page is
//! shown again with what was typed and the error in words. The picture is
//! uploaded by `profile.js` to `PUT /api/me/avatar`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};
use serde_json::{json, Map, Value};

use super::auth_pages::{see_other, to_sign_in};
use super::bridge::{self, s};
use super::layout::{csrf_field, notice, page, render, Page};
use super::session::Viewer;
use super::words::explain;
use crate::error::ApiError;
use crate::routes::accounts::me;
use crate::state::AppState;

const LEVELS: [(&str, &str); 4] = [
    ("beginner", "Beginner"),
    ("intermediate", "Intermediate"),
    ("advanced", "Advanced"),
    ("expert", "Expert"),
];
const ZONES: [&str; 24] = [
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Warsaw",
    "Europe/Istanbul",
    "Africa/Lagos",
    "Africa/Nairobi",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "America/Mexico_City",
    "Asia/Jakarta",
];
/// Blank rows offered under each list (a saved form offers them again).
const BLANK_ROWS: usize = 2;

/// One list of the profile: its key, its heading, and its fields (key,
/// label, input type).
struct ListSpec {
    key: &'static str,
    heading: &'static str,
    fields: &'static [(&'static str, &'static str, &'static str)],
}

const LISTS: [ListSpec; 4] = [
    ListSpec {
        key: "experience",
        heading: "Experience",
        fields: &[
            ("title", "Role", "text"),
            ("organization", "Organisation", "text"),
            ("start", "From (YYYY-MM)", "month"),
            ("end", "Until (YYYY-MM, empty if current)", "month"),
            ("description", "What you did", "textarea"),
        ],
    },
    ListSpec {
        key: "achievements",
        heading: "Achievements",
        fields: &[
            ("title", "Achievement", "text"),
            ("year", "Year", "number"),
            ("description", "Details", "textarea"),
        ],
    },
    ListSpec {
        key: "certifications",
        heading: "Certifications",
        fields: &[
            ("name", "Certification", "text"),
            ("issuer", "Issuer", "text"),
            ("year", "Year", "number"),
            ("url", "Link", "url"),
        ],
    },
    ListSpec {
        key: "projects",
        heading: "Projects",
        fields: &[
            ("name", "Project", "text"),
            ("description", "About it", "textarea"),
            ("url", "Link", "url"),
        ],
    },
];

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// The form's label for a field the API names in an error.
fn label_of(key: &str) -> Option<&'static str> {
    Some(match key {
        "displayName" => "Name",
        "headline" => "Headline",
        "bio" => "Bio",
        "tags" => "Areas of expertise",
        "yearsOfExperience" => "Years of experience",
        "employer" => "Employer",
        "graduationYear" => "Graduation year",
        "linkedinUrl" => "LinkedIn profile",
        "githubUrl" => "GitHub profile",
        "timeZone" => "Time zone",
        "phone" => "Phone",
        "skills" => "Skills",
        "experience" => "Experience",
        "achievements" => "Achievements",
        "certifications" => "Certifications",
        "projects" => "Projects",
        _ => return None,
    })
}

/// An error as the form shows it: (the field it is about, the words).
pub struct FormError {
    field: Option<String>,
    text: String,
}

fn form_error(e: &ApiError) -> FormError {
    if let ApiError::Refused { message, .. } = e {
        if let Some((key, why)) = message.split_once(':') {
            let base = key.split(['[', '.']).next().unwrap_or(key);
            if let Some(label) = label_of(base) {
                return FormError {
                    field: Some(key.to_owned()),
                    text: format!(
                        "{label}: {}. Correct it and save again.",
                        why.trim().trim_end_matches('.')
                    ),
                };
            }
        }
    }
    FormError {
        field: None,
        text: explain(e),
    }
}

fn form(viewer: &Viewer, p: &Value, error: Option<&FormError>, saved: bool) -> Markup {
    let inv = |k: &str| {
        error
            .and_then(|e| e.field.as_deref())
            .filter(|f| *f == k)
            .map(|_| "true")
    };
    let err = |k: &str| inv(k).map(|_| "form-error");
    let tags = p["tags"]
        .as_array()
        .map(|t| t.iter().map(text_of).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    let skills: Vec<Value> = p["skills"].as_array().cloned().unwrap_or_default();
    let avatar = s(p, "avatarUrl");
    let own_avatar = avatar.starts_with("/avatars/");
    html! {
        h1 { "My profile" }
        @if saved { (notice("ok", "Saved. This is what others see on your page.")) }
        @if let Some(e) = error { div class="notice error" role="alert" id="form-error" { (e.text) } }
        p { "Others see your name, headline, skills, experience and picture. Your phone number is only for you. " a href=(format!("/mentors/{}", s(p, "userId"))) { "See my public page" } }
        section aria-labelledby="photo-title" {
            h2 id="photo-title" { "Picture" }
            div id="avatar-box" {
                @if own_avatar { img id="avatar-img" src=(avatar) alt="Your picture" width="96" height="96"; }
                @else { img id="avatar-img" alt="Your picture" width="96" height="96" hidden; p id="no-avatar" { "No picture yet." } }
            }
            form id="avatar-form" class="stack" hidden {
                label for="avatar-file" { "Choose a picture" }
                p class="hint" id="avatar-hint" { "PNG, JPEG or WebP, at most 1 MB." }
                input id="avatar-file" type="file" name="avatar" accept="image/png,image/jpeg,image/webp" aria-describedby="avatar-hint";
                div class="actions" {
                    button type="submit" { "Upload the picture" }
                    button type="button" id="avatar-remove" class="danger" hidden[!own_avatar] { "Remove the picture" }
                }
                p id="avatar-status" role="status" {}
            }
            noscript { p { "Uploading a picture needs JavaScript." } }
        }
        form method="post" action="/profile" class="profile-form" {
            (csrf_field(viewer))
            section aria-labelledby="about-title" class="stack" {
                h2 id="about-title" { "About you" }
                label for="displayName" { "Name" }
                input id="displayName" name="displayName" aria-invalid=[inv("displayName")] aria-describedby=[err("displayName")] type="text" value=(s(p, "displayName")) maxlength="100" required autocomplete="name";
                label for="headline" { "Headline (e.g. Data scientist at Acme, IIT 2019)" }
                input id="headline" name="headline" aria-invalid=[inv("headline")] aria-describedby=[err("headline")] type="text" value=(s(p, "headline")) maxlength="100";
                label for="bio" { "Bio" }
                textarea id="bio" name="bio" aria-invalid=[inv("bio")] aria-describedby=[err("bio")] rows="5" maxlength="2000" { (s(p, "bio")) }
                label for="tags" { "Areas of expertise or interest (comma separated)" }
                input id="tags" name="tags" aria-invalid=[inv("tags")] aria-describedby=[err("tags")] type="text" value=(tags);
                label for="yearsOfExperience" { "Years of experience" }
                input id="yearsOfExperience" name="yearsOfExperience" aria-invalid=[inv("yearsOfExperience")] aria-describedby=[err("yearsOfExperience")] type="number" min="0" max="80" value=(text_of(&p["yearsOfExperience"]));
                label for="employer" { "Employer" }
                input id="employer" name="employer" aria-invalid=[inv("employer")] aria-describedby=[err("employer")] type="text" value=(s(p, "employer")) maxlength="100";
                label class="choice" { input type="checkbox" name="isAlumni" value="on" checked[p["isAlumni"].as_bool() == Some(true)]; " I am an alumnus or alumna" }
                label for="graduationYear" { "Graduation year" }
                input id="graduationYear" name="graduationYear" aria-invalid=[inv("graduationYear")] aria-describedby=[err("graduationYear")] type="number" min="1900" max="2100" value=(text_of(&p["graduationYear"]));
                label for="linkedinUrl" { "LinkedIn profile" }
                input id="linkedinUrl" name="linkedinUrl" aria-invalid=[inv("linkedinUrl")] aria-describedby=[err("linkedinUrl")] type="url" value=(s(p, "linkedinUrl")) placeholder="https://www.linkedin.com/in/…";
                label for="githubUrl" { "GitHub profile" }
                input id="githubUrl" name="githubUrl" aria-invalid=[inv("githubUrl")] aria-describedby=[err("githubUrl")] type="url" value=(s(p, "githubUrl")) placeholder="https://github.com/…";
                label for="timeZone" { "Time zone (your calendar uses it)" }
                input id="timeZone" name="timeZone" aria-invalid=[inv("timeZone")] type="text" value=(s(p, "timeZone")) list="zones" required aria-describedby="tz-hint";
                p class="hint" id="tz-hint" { "An IANA zone such as Europe/Berlin or Asia/Kolkata." }
                datalist id="zones" { @for z in ZONES { option value=(z) {} } }
                label class="choice" { input type="checkbox" name="acceptsMessages" value="on" checked[p["acceptsMessages"].as_bool() != Some(false)]; " Others may send me direct messages" }
                label for="phone" { "Phone (only you see it)" }
                input id="phone" name="phone" aria-invalid=[inv("phone")] aria-describedby=[err("phone")] type="tel" value=(s(p, "phone")) autocomplete="tel";
            }
            fieldset {
                legend { h2 { "Skills" } }
                p class="hint" { "Mentees find you by these. Leave a row empty to remove it." }
                @for (i, sk) in skills.iter().chain(std::iter::repeat_n(&Value::Null, BLANK_ROWS)).enumerate() {
                    div class="row" {
                        div {
                            label for=(format!("skills.{i}.name")) { "Skill " (i + 1) }
                            input id=(format!("skills.{i}.name")) name=(format!("skills.{i}.name")) type="text" value=(s(sk, "name")) maxlength="100";
                        }
                        div {
                            label for=(format!("skills.{i}.level")) { "Level of skill " (i + 1) }
                            select id=(format!("skills.{i}.level")) name=(format!("skills.{i}.level")) {
                                @for (v, l) in LEVELS { option value=(v) selected[s(sk, "level") == v] { (l) } }
                            }
                        }
                    }
                }
            }
            @for spec in &LISTS {
                @let items = p[spec.key].as_array().cloned().unwrap_or_default();
                fieldset {
                    legend { h2 { (spec.heading) } }
                    @for (i, it) in items.iter().chain(std::iter::repeat_n(&Value::Null, BLANK_ROWS)).enumerate() {
                        div class="row" {
                            @for (f, label, kind) in spec.fields {
                                @let id = format!("{}.{i}.{f}", spec.key);
                                div {
                                    label for=(id) { (label) " (" (spec.heading.to_lowercase()) " " (i + 1) ")" }
                                    @if *kind == "textarea" {
                                        textarea id=(id) name=(id) rows="2" maxlength="2000" { (text_of(&it[*f])) }
                                    } @else if *kind == "month" {
                                        input id=(id) name=(id) type="text" inputmode="numeric" pattern="[0-9]{4}-[0-9]{2}" placeholder="2024-06" value=(text_of(&it[*f]));
                                    } @else {
                                        input id=(id) name=(id) type=(kind) value=(text_of(&it[*f]));
                                    }
                                }
                            }
                        }
                    }
                }
            }
            button type="submit" { "Save my profile" }
        }
    }
}

async fn own_profile(state: &web::Data<AppState>, viewer: &Viewer) -> Result<Value, ApiError> {
    let Some(user) = &viewer.user else {
        return Err(ApiError::new(lyceum_protocol::ErrorCode::Unauthorized, "sign in first"));
    };
    bridge::json_of(me::get_profile(state.clone(), user.auth).await).await
}

#[derive(serde::Deserialize, Default)]
pub struct ProfileQuery {
    saved: Option<String>,
}

pub async fn profile_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    q: web::Query<ProfileQuery>,
) -> Result<HttpResponse, ApiError> {
    if viewer.user.is_none() {
        return Ok(to_sign_in("/profile"));
    }
    let p = own_profile(&state, &viewer).await?;
    Ok(show(&state, &viewer, StatusCode::OK, &p, None, q.saved.is_some()))
}

fn show(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    p: &Value,
    error: Option<&FormError>,
    saved: bool,
) -> HttpResponse {
    let pg = Page {
        title: "My profile",
        scripts: &["profile.js"],
        current: Some("/profile"),
        ..Default::default()
    };
    render(state, viewer, status, page(viewer, pg, form(viewer, p, error, saved)))
}

/// The form's fields as `PATCH /api/me/profile`'s body.
fn patch_of(fields: &[(String, String)]) -> Value {
    let one = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned());
    let mut patch = Map::new();
    for k in ["displayName", "headline", "bio", "timeZone"] {
        if let Some(v) = one(k) {
            patch.insert(k.into(), json!(v));
        }
    }
    for k in ["employer", "linkedinUrl", "githubUrl", "phone"] {
        if let Some(v) = one(k) {
            patch.insert(k.into(), if v.is_empty() { Value::Null } else { json!(v) });
        }
    }
    for k in ["yearsOfExperience", "graduationYear"] {
        if let Some(v) = one(k) {
            // A number the API checks; words are sent as they are and refused there.
            let n = if v.is_empty() {
                if k == "yearsOfExperience" {
                    json!(0)
                } else {
                    Value::Null
                }
            } else {
                v.parse::<i64>().map(|n| json!(n)).unwrap_or(json!(v))
            };
            patch.insert(k.into(), n);
        }
    }
    patch.insert("isAlumni".into(), json!(one("isAlumni").is_some()));
    patch.insert("acceptsMessages".into(), json!(one("acceptsMessages").is_some()));
    if let Some(t) = one("tags") {
        let tags: Vec<&str> = t.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
        patch.insert("tags".into(), json!(tags));
    }
    // Rows: `list.N.field`, kept in N order, a row with an empty first field dropped.
    let mut rows: BTreeMap<(&str, usize), Map<String, Value>> = BTreeMap::new();
    for (name, v) in fields {
        let mut parts = name.splitn(3, '.');
        let (Some(list), Some(n), Some(f)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Ok(n) = n.parse::<usize>() else { continue };
        let Some(list) = ["skills", "experience", "achievements", "certifications", "projects"]
            .into_iter()
            .find(|l| *l == list)
        else {
            continue;
        };
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        let value = if f == "year" {
            v.parse::<i64>().map(|n| json!(n)).unwrap_or(json!(v))
        } else {
            json!(v)
        };
        rows.entry((list, n)).or_default().insert(f.to_owned(), value);
    }
    for list in ["skills", "experience", "achievements", "certifications", "projects"] {
        let first = match list {
            "skills" | "certifications" | "projects" => "name",
            _ => "title",
        };
        let items: Vec<Value> = rows
            .iter()
            .filter(|((l, _), row)| *l == list && row.contains_key(first))
            .map(|(_, row)| {
                let mut row = row.clone();
                if list == "experience" && !row.contains_key("organization") {
                    row.insert("organization".into(), json!(""));
                }
                Value::Object(row)
            })
            .collect();
        patch.insert(list.into(), Value::Array(items));
    }
    Value::Object(patch)
}

pub async fn save(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(to_sign_in("/profile"));
    };
    let fields = form.into_inner();
    let csrf = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
    viewer.check_csrf(&req, csrf)?;
    let patch = patch_of(&fields);
    let res = match bridge::body(patch.clone()) {
        Ok(b) => bridge::json_of(me::patch_profile(state.clone(), user.auth, b).await).await,
        Err(e) => Err(e),
    };
    match res {
        Ok(_) => Ok(see_other("/profile?saved=1")),
        Err(e) if e.code().http_status() == 400 => {
            // Shown again with what was typed.
            let mut shown = own_profile(&state, &viewer).await?;
            if let (Some(o), Value::Object(p)) = (shown.as_object_mut(), patch) {
                o.extend(p);
            }
            Ok(show(
                &state,
                &viewer,
                StatusCode::BAD_REQUEST,
                &shown,
                Some(&form_error(&e)),
                false,
            ))
        }
        Err(e) => Err(e),
    }
}
