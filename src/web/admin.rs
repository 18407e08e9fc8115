//! The admin's pages: users with search and role changes (through
//! `PUT /api/admin/users/{id}/role`'s handler, which revokes the user's
//! tokens), and the audit log with names instead of ids. Anyone else gets a
//! 403 page; the handlers check the role again.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use lyceum_actors::{Role, UserId};
use maud::html;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth_pages::to_sign_in;
use super::bridge::{self, back_to, s};
use super::home::when;
use super::layout::{csrf_field, notice, page, render, Page};
use super::session::Viewer;
use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::routes::accounts::admin;
use crate::state::AppState;

const ROLES: [(&str, &str); 3] = [("mentee", "Mentee"), ("mentor", "Mentor"), ("admin", "Admin")];

/// The admin, or the answer for someone who is not one.
fn admin_of(state: &AppState, viewer: &Viewer, back: &str) -> Result<AdminUser, Box<HttpResponse>> {
    match &viewer.user {
        None => Err(Box::new(to_sign_in(back))),
        Some(u) if u.role() == Role::Admin => Ok(AdminUser(u.auth)),
        Some(_) => {
            let body = html! { h1 { "For admins only" } p { "This page is for Lyceum's admins. " a href="/" { "Back to the start page" } } };
            let pg = Page {
                title: "Admin",
                ..Default::default()
            };
            Err(Box::new(render(
                state,
                viewer,
                StatusCode::FORBIDDEN,
                page(viewer, pg, body),
            )))
        }
    }
}

fn admin_nav(current: &str) -> maud::Markup {
    html! {
        nav aria-label="Admin" class="pager" {
            @for (path, label) in [("/admin", "Users"), ("/admin/audit", "Audit log")] {
                @if path == current { a href=(path) aria-current="page" { (label) } } @else { a href=(path) { (label) } }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct UsersPageQuery {
    q: Option<String>,
    role: Option<String>,
    after: Option<String>,
    changed: Option<String>,
    error: Option<String>,
}

pub async fn users_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    q: web::Query<UsersPageQuery>,
) -> Result<HttpResponse, ApiError> {
    let a = match admin_of(&state, &viewer, "/admin") {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let role = q.role.as_deref().filter(|r| ROLES.iter().any(|(v, _)| v == r));
    let text = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let query = json!({"q": text, "role": role, "after": q.after.as_deref().filter(|a| !a.is_empty()), "limit": 50});
    let res = match bridge::query(query) {
        Ok(qq) => bridge::json_of(admin::users(state.clone(), a, qq).await).await,
        Err(e) => Err(e),
    };
    let (items, next, err) = match res {
        Ok(v) => (
            v["items"].as_array().cloned().unwrap_or_default(),
            v["nextAfter"].as_str().map(str::to_owned),
            None,
        ),
        Err(e) => (vec![], None, Some(super::words::explain(&e))),
    };
    let me = viewer.user.as_ref().map(|u| u.id().to_string()).unwrap_or_default();
    let keep = |after: &str| {
        serde_urlencoded::to_string([
            ("q", text.unwrap_or("")),
            ("role", role.unwrap_or("")),
            ("after", after),
        ])
        .unwrap_or_default()
    };
    let back = format!("/admin?{}", keep(q.after.as_deref().unwrap_or("")));
    let body = html! {
        h1 { "Users" }
        (admin_nav("/admin"))
        @if let Some(n) = &q.changed { (notice("ok", &format!("Role changed. {n} is signed out everywhere and signs in again with the new role."))) }
        @if let Some(e) = q.error.as_deref().or(err.as_deref()) { (notice("error", e)) }
        form method="get" action="/admin" class="filters" role="search" {
            div { label for="uq" { "Name or exact email" } input id="uq" type="search" name="q" value=(text.unwrap_or("")); }
            div {
                label for="urole" { "Role" }
                select id="urole" name="role" {
                    option value="" { "Any role" }
                    @for (v, l) in ROLES { option value=(v) selected[role == Some(v)] { (l) } }
                }
            }
            div { button type="submit" { "Search" } }
        }
        @if items.is_empty() { p { "No users match." } }
        @else {
            table id="users" {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Role" } th scope="col" { "Joined" } th scope="col" { "Change role" } } }
                tbody {
                    @for u in &items {
                        @let id = s(u, "id");
                        @let name = s(u, "displayName");
                        tr {
                            td { @if s(u, "role") == "mentor" { a href=(format!("/mentors/{id}")) { (name) } } @else { (name) } }
                            td { (ROLES.iter().find(|(v, _)| *v == s(u, "role")).map_or("", |(_, l)| l)) }
                            td { @if let Some(t) = u["createdAt"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) { (when(t.with_timezone(&chrono::Utc))) } }
                            td {
                                @if id == me { "You (another admin can change your role)" }
                                @else {
                                    form method="post" action=(format!("/admin/users/{id}/role")) class="inline" {
                                        (csrf_field(&viewer))
                                        input type="hidden" name="back" value=(back);
                                        input type="hidden" name="name" value=(name);
                                        label for=(format!("role-{id}")) class="visually-hidden" { "New role for " (name) }
                                        select id=(format!("role-{id}")) name="role" {
                                            @for (v, l) in ROLES { option value=(v) selected[s(u, "role") == v] { (l) } }
                                        }
                                        " "
                                        button type="submit" { "Change the role of " (name) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(n) = next { p class="pager" { a href=(format!("/admin?{}", keep(&n))) { "Older users" } } }
    };
    let pg = Page {
        title: "Users",
        current: Some("/admin"),
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}

#[derive(Deserialize)]
pub struct RoleForm {
    csrf: Option<String>,
    role: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    back: String,
}

pub async fn set_role(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    path: web::Path<UserId>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, ApiError> {
    let a = match admin_of(&state, &viewer, "/admin") {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let f = form.into_inner();
    viewer.check_csrf(&req, f.csrf.as_deref())?;
    let back = super::auth_pages::safe_next(Some(f.back.as_str()));
    let back = if back.starts_with("/admin") { back } else { "/admin" };
    let res = match bridge::body(json!({"role": f.role})) {
        Ok(b) => bridge::json_of(admin::set_role(state.clone(), req, a, path, b).await).await,
        Err(e) => Err(e),
    };
    let name = if f.name.trim().is_empty() {
        "The user"
    } else {
        f.name.trim()
    };
    Ok(back_to(
        back,
        res.map(|_| serde_urlencoded::to_string([("changed", name)]).unwrap_or_default()),
    ))
}

#[derive(Deserialize, Default)]
pub struct AuditPageQuery {
    action: Option<String>,
    before: Option<i64>,
}

fn action_words(a: &str) -> String {
    let mut w = a.replace('_', " ");
    if let Some(c) = w.get(0..1) {
        w = c.to_uppercase() + &w[1..];
    }
    w
}

pub async fn audit_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    q: web::Query<AuditPageQuery>,
) -> Result<HttpResponse, ApiError> {
    let a = match admin_of(&state, &viewer, "/admin/audit") {
        Ok(a) => a,
        Err(r) => return Ok(*r),
    };
    let action = q.action.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let res = match bridge::query(json!({"action": action, "before": q.before, "limit": 100})) {
        Ok(qq) => bridge::json_of(admin::audit(state.clone(), a, qq).await).await,
        Err(e) => Err(e),
    };
    let (items, next, err) = match res {
        Ok(v) => (
            v["items"].as_array().cloned().unwrap_or_default(),
            v["nextBefore"].as_i64(),
            None,
        ),
        Err(e) => (vec![], None, Some(super::words::explain(&e))),
    };
    // Names for the ids on this page.
    let ids: Vec<UserId> = items
        .iter()
        .flat_map(|e| [&e["actorId"], &e["subjectId"]])
        .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()))
        .collect();
    let names: HashMap<String, String> = if ids.is_empty() {
        HashMap::new()
    } else {
        let client = state.pool.get().await?;
        client
            .query("SELECT id::text, display_name FROM users WHERE id = ANY($1)", &[&ids])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    let who = |v: &Value| {
        v.as_str()
            .map(|id| names.get(id).cloned().unwrap_or_else(|| "a deleted user".to_owned()))
    };
    let body = html! {
        h1 { "Audit log" }
        (admin_nav("/admin/audit"))
        @if let Some(e) = &err { (notice("error", e)) }
        form method="get" action="/admin/audit" class="filters" {
            div { label for="aaction" { "Action (e.g. role_changed, sign_in_failed)" } input id="aaction" type="search" name="action" value=(action.unwrap_or("")); }
            div { button type="submit" { "Filter" } }
        }
        @if items.is_empty() { p { "No entries." } }
        @else {
            table id="audit" {
                thead { tr { th scope="col" { "When" } th scope="col" { "What" } th scope="col" { "Who" } th scope="col" { "To whom" } th scope="col" { "Address" } th scope="col" { "Details" } } }
                tbody {
                    @for e in &items {
                        tr {
                            td { @if let Some(t) = e["at"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()) { (when(t.with_timezone(&chrono::Utc))) } }
                            td { (action_words(s(e, "action"))) }
                            td { (who(&e["actorId"]).unwrap_or_else(|| "—".to_owned())) }
                            td { (who(&e["subjectId"]).unwrap_or_else(|| "—".to_owned())) }
                            td { (s(e, "ip")) }
                            td { @if e["details"].as_object().is_some_and(|o| !o.is_empty()) { code { (e["details"].to_string()) } } }
                        }
                    }
                }
            }
        }
        @if let Some(n) = next {
            p class="pager" { a href=(format!("/admin/audit?{}", serde_urlencoded::to_string([("action", action.unwrap_or("")), ("before", &n.to_string())]).unwrap_or_default())) { "Older entries" } }
        }
    };
    let pg = Page {
        title: "Audit log",
        current: Some("/admin"),
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}
