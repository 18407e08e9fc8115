//! The one layout every page shares: the head (title, description,
//! canonical link, the page's extra tags), a header whose navigation shows
//! what the viewer's role can do, a main landmark, a polite live region for
//! announcements, and the footer. `render` turns a page into the response
//! with the security headers every page carries.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, X_CONTENT_TYPE_OPTIONS};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use lyceum_actors::Role;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::session::Viewer;
use crate::state::AppState;

/// What every page sends: nothing from another origin, no inline script,
/// no framing.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; media-src 'self' blob: mediastream:; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// A page's head and scripts.
#[derive(Default)]
pub struct Page<'a> {
    pub title: &'a str,
    /// `<meta name="description">` (and `og:description`).
    pub description: Option<&'a str>,
    /// An absolute path for `<link rel="canonical">` (public pages).
    pub canonical: Option<String>,
    /// More tags for the head (OpenGraph, JSON-LD).
    pub head: Option<Markup>,
    /// ES modules under `/assets/` this page loads.
    pub scripts: &'a [&'a str],
    /// The nav entry to mark as the current page (its path).
    pub current: Option<&'a str>,
}

struct NavItem {
    path: &'static str,
    label: &'static str,
}

fn nav_items(role: Option<Role>) -> Vec<NavItem> {
    let item = |path, label| NavItem { path, label };
    let mut v = vec![item("/mentors", "Mentors"), item("/sessions", "Sessions")];
    match role {
        None | Some(Role::Guest) => {}
        Some(Role::Mentee) => {
            v.push(item("/bookings", "My bookings"));
            v.push(item("/profile", "Profile"));
        }
        Some(Role::Mentor) => {
            v.push(item("/calendar", "My calendar"));
            v.push(item("/profile", "Profile"));
        }
        Some(Role::Admin) => {
            v.push(item("/calendar", "My calendar"));
            v.push(item("/admin", "Admin"));
        }
    }
    v
}

pub fn page(viewer: &Viewer, p: Page<'_>, body: Markup) -> Markup {
    let title = if p.title.is_empty() {
        "Lyceum".to_owned()
    } else {
        format!("{} · Lyceum", p.title)
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                @if let Some(d) = p.description { meta name="description" content=(d); }
                @if let Some(c) = &p.canonical { link rel="canonical" href=(c); }
                meta name="csrf-token" content=(viewer.csrf);
                link rel="stylesheet" href="/assets/site.css";
                @if let Some(h) = p.head { (h) }
                script type="module" src="/assets/site.js" {}
                @for s in p.scripts { script type="module" src=(format!("/assets/{s}")) {} }
            }
            body data-signed-in=(viewer.user.is_some()) {
                a class="skip" href="#main" { "Skip to content" }
                header class="site" {
                    a class="brand" href="/" { "Lyceum" }
                    nav aria-label="Main" {
                        ul {
                            @for i in nav_items(viewer.role()) {
                                li {
                                    @if p.current == Some(i.path) {
                                        a href=(i.path) aria-current="page" { (i.label) }
                                    } @else {
                                        a href=(i.path) { (i.label) }
                                    }
                                }
                            }
                        }
                    }
                    div class="account" {
                        @if let Some(u) = &viewer.user {
                            @if p.current == Some("/chat") {
                                a class="bell chat-link" href="/chat" aria-label="Messages" aria-current="page" { (chat_icon()) span class="count" id="chat-unread" {} }
                            } @else {
                                a class="bell chat-link" href="/chat" aria-label="Messages" { (chat_icon()) span class="count" id="chat-unread" {} }
                            }
                            a class="bell" href="/notifications" aria-label=(bell_label(u.unread)) {
                                svg class="bell-icon" aria-hidden="true" focusable="false" width="22" height="22" viewBox="0 0 24 24" {
                                    path fill="currentColor" d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1z" {}
                                }
                                // The server's count as the page is made; `site.js` keeps it live.
                                span class="count" id="unread-count" data-live="notifications" data-unread=(u.unread) {
                                    @if u.unread > 0 { (u.unread) }
                                }
                            }
                            span class="who" { (u.name) }
                            form method="post" action="/signout" class="inline" {
                                input type="hidden" name="csrf" value=(viewer.csrf);
                                button type="submit" class="link" { "Sign out" }
                            }
                        } @else {
                            a href="/signin" { "Sign in" }
                            a class="button" href="/signup" { "Sign up" }
                        }
                    }
                }
                main id="main" tabindex="-1" { (body) }
                div id="announce" class="visually-hidden" role="status" aria-live="polite" {}
                footer class="site" {
                    p { "Lyceum: mentors and mentees, booked, met and heard. " a href="/sessions" { "Upcoming sessions" } " · " a href="/mentors" { "Find a mentor" } }
                }
            }
        }
    }
}

/// The bell's accessible name: "Notifications, 3 unread" (`site.js` says
/// it the same way when the count changes).
pub fn bell_label(unread: i64) -> String {
    if unread > 0 {
        format!("Notifications, {unread} unread")
    } else {
        "Notifications".to_owned()
    }
}

/// The header's speech bubble (the link to `/chat`).
fn chat_icon() -> Markup {
    html! {
        svg class="bell-icon" aria-hidden="true" focusable="false" width="22" height="22" viewBox="0 0 24 24" {
            path fill="currentColor" fill-rule="evenodd" d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6v2h10V9zm0-3v2h10V6zm0 6v2h7v-2z" {}
        }
    }
}

/// A page as a response, with the headers every page carries and the
/// viewer's cookies.
pub fn render(state: &AppState, viewer: &Viewer, status: StatusCode, markup: Markup) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8")
        .insert_header((CONTENT_SECURITY_POLICY, PAGE_CSP))
        .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header(("Referrer-Policy", "same-origin"))
        .insert_header((
            CACHE_CONTROL,
            if viewer.user.is_some() {
                "private, no-store"
            } else {
                "no-cache"
            },
        ));
    for c in viewer.cookies(&state.web) {
        res.cookie(c);
    }
    res.body(markup.into_string())
}

/// A notice box: `kind` is `error` (announced at once) or `ok`.
pub fn notice(kind: &str, text: &str) -> Markup {
    html! {
        @if kind == "error" {
            div class="notice error" role="alert" { (text) }
        } @else {
            div class="notice ok" role="status" { (text) }
        }
    }
}

/// The hidden CSRF field of a form.
pub fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(viewer.csrf); }
}

/// JSON for a `<script type="application/ld+json">` block, with `<` escaped
/// so no value can close the element.
pub fn json_ld(value: &serde_json::Value) -> Markup {
    let text = value.to_string().replace('<', "\\u003c");
    html! { script type="application/ld+json" { (PreEscaped(text)) } }
}
