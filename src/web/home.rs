//! The landing page: what Lyceum is, upcoming public sessions and featured
//! mentors, for anyone.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use lyceum_actors::{OfferingId, UserId};
use maud::{html, Markup};

use super::layout::{page, render, Page};
use super::session::Viewer;
use crate::error::ApiError;
use crate::state::AppState;

pub struct SessionCard {
    pub id: OfferingId,
    pub title: String,
    pub mentor: String,
    pub starts_at: DateTime<Utc>,
    pub remaining: i32,
    pub live: bool,
}

pub struct MentorCard {
    pub id: UserId,
    pub name: String,
    pub headline: String,
    pub rating: f64,
    pub ratings: i32,
}

/// Upcoming group sessions (scheduled or live), soonest first.
pub async fn upcoming_sessions(state: &AppState, limit: i64) -> Result<Vec<SessionCard>, ApiError> {
    let client = state.pool.get().await?;
    let rows = client
        .query(
            "SELECT o.id, o.title, u.display_name, o.starts_at, o.capacity - o.booked_count, o.state = 'live'
               FROM offerings o JOIN users u ON u.id = o.mentor_id
              WHERE o.kind = 'group' AND o.state IN ('scheduled', 'live') AND o.ends_at > now()
              ORDER BY o.starts_at, o.id LIMIT $1",
            &[&limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| SessionCard {
            id: r.get(0),
            title: r.get(1),
            mentor: r.get(2),
            starts_at: r.get(3),
            remaining: r.get(4),
            live: r.get(5),
        })
        .collect())
}

/// Mentors with the best ratings (then the most experience).
pub async fn featured_mentors(state: &AppState, limit: i64) -> Result<Vec<MentorCard>, ApiError> {
    let client = state.pool.get().await?;
    let rows = client
        .query(
            "SELECT user_id, display_name, headline, rating_avg, rating_count FROM profiles
              WHERE is_mentor ORDER BY rating_avg DESC, rating_count DESC, years_experience DESC, user_id LIMIT $1",
            &[&limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| MentorCard {
            id: r.get(0),
            name: r.get(1),
            headline: r.get(2),
            rating: r.get(3),
            ratings: r.get(4),
        })
        .collect())
}

/// An instant as people read it, in UTC; the page's script rewrites it in
/// the reader's own zone (`<time datetime>`).
pub fn when(t: DateTime<Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339()) data-local { (t.format("%a %e %b %Y, %H:%M UTC")) } }
}

pub fn session_list(items: &[SessionCard]) -> Markup {
    html! {
        @if items.is_empty() {
            p { "No sessions are scheduled right now." }
        } @else {
            ul class="cards" {
                @for s in items {
                    li class="card" {
                        h3 { a href=(format!("/sessions/{}", s.id)) { (s.title) } }
                        p { "with " (s.mentor) }
                        p { (when(s.starts_at)) }
                        @if s.live { p class="badge live" { "Live now" } }
                        p class="seats" { (s.remaining) " seats left" }
                    }
                }
            }
        }
    }
}

pub fn mentor_list(items: &[MentorCard]) -> Markup {
    html! {
        ul class="cards" {
            @for m in items {
                li class="card" {
                    h3 { a href=(format!("/mentors/{}", m.id)) { (m.name) } }
                    @if !m.headline.is_empty() { p { (m.headline) } }
                    @if m.ratings > 0 { p { (format!("{:.1}", m.rating)) " ★ from " (m.ratings) " reviews" } }
                }
            }
        }
    }
}

pub async fn landing(state: web::Data<AppState>, viewer: Viewer) -> Result<HttpResponse, ApiError> {
    let sessions = upcoming_sessions(&state, 6).await?;
    let mentors = featured_mentors(&state, 6).await?;
    let body = html! {
        section class="hero" {
            h1 { "Learn from the people who have done it" }
            p { "Lyceum brings students together with alumni and experts: find a mentor, book their time, meet them one-on-one or in a webinar, and keep the conversation going." }
            @if viewer.user.is_none() {
                p class="actions" {
                    a class="button" href="/signup" { "Join as a mentee or mentor" }
                    " "
                    a href="/mentors" { "Browse mentors" }
                }
            }
        }
        section aria-labelledby="upcoming" {
            h2 id="upcoming" { "Upcoming sessions" }
            (session_list(&sessions))
            p { a href="/sessions" { "All sessions" } }
        }
        section aria-labelledby="featured" {
            h2 id="featured" { "Featured mentors" }
            @if mentors.is_empty() { p { "No mentors yet." } } @else { (mentor_list(&mentors)) }
            p { a href="/mentors" { "Find a mentor" } }
        }
    };
    let p = Page {
        title: "",
        description: Some("Lyceum: find a mentor, book their time, and meet in one-on-one calls and webinars."),
        canonical: Some("/".to_owned()),
        current: Some("/"),
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, p, body)))
}
