//! The boards' pages, server-rendered for readers and search engines:
//! `/boards` (the categories and the latest threads, or a search) and
//! `/boards/threads/{id}` (a thread with its answers, titled and described
//! for search engines, with QAPage structured data). They read through the
//! API's handlers, so they show exactly what the API shows this viewer:
//! public categories to visitors, every category to signed-in readers.
//! Asking, answering and voting are the API's (no forms yet).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use lyceum_protocol::ErrorCode;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::bridge::{self, s};
use super::home::when;
use super::layout::{json_ld, page, render, Page};
use super::mentors::not_found;
use super::session::Viewer;
use super::words::explain;
use crate::auth::MaybeUser;
use crate::error::ApiError;
use crate::routes::boards::{categories, threads};
use crate::state::AppState;

fn instant(v: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    v.as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
}

fn caller(viewer: &Viewer) -> MaybeUser {
    MaybeUser(viewer.user.as_ref().map(|u| u.auth))
}

/// A person as the boards show them: the name, and a mark for mentors.
fn person(author: &Value) -> Markup {
    html! {
        (s(author, "displayName"))
        @if s(author, "role") == "mentor" { " " span class="badge" { "Mentor" } }
    }
}

#[derive(Deserialize)]
pub struct BoardsQuery {
    q: Option<String>,
}

/// `GET /boards`.
pub async fn boards_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    q: web::Query<BoardsQuery>,
) -> Result<HttpResponse, ApiError> {
    let cats = bridge::json_of(categories::list(state.clone(), caller(&viewer)).await).await?;
    let text = q.q.clone().filter(|t| !t.trim().is_empty());
    let query = bridge::query(json!({"q": text, "limit": 30}))?;
    let (list, error) = match bridge::json_of(threads::list(state.clone(), caller(&viewer), query).await).await {
        Ok(v) => (v, None),
        Err(e) if e.code() == ErrorCode::InvalidQuery => (json!({"items": []}), Some(explain(&e))),
        Err(e) => return Err(e),
    };
    let names: std::collections::HashMap<String, String> = cats["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| (s(c, "id").to_owned(), s(c, "name").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let body = html! {
        h1 { "Boards" }
        p { "Questions about placements, interviews and careers, answered by mentors and peers." }
        form method="get" action="/boards" role="search" {
            label for="boards-q" { "Search the boards" }
            input id="boards-q" type="search" name="q" value=(text.clone().unwrap_or_default());
            button type="submit" { "Search" }
        }
        @if let Some(e) = &error { p role="alert" { (e) } }
        h2 { "Categories" }
        ul {
            @for c in cats["items"].as_array().cloned().unwrap_or_default() {
                li { strong { (s(&c, "name")) } " · " (c["threadCount"].as_i64().unwrap_or(0)) " threads"
                     @if !s(&c, "description").is_empty() { " — " (s(&c, "description")) } }
            }
        }
        h2 { @if text.is_some() { "Results" } @else { "Latest threads" } }
        @if items.is_empty() { p { "No threads yet." } }
        ul id="threads" {
            @for t in &items {
                li {
                    a href=(format!("/boards/threads/{}", s(t, "id"))) { (s(t, "title")) }
                    " · " (names.get(s(t, "categoryId")).cloned().unwrap_or_default())
                    " · " (t["replyCount"].as_i64().unwrap_or(0)) " replies"
                    @if t["answered"] == true { " · " span class="badge" { "Answered" } }
                    @if let Some(at) = instant(&t["lastActivityAt"]) { " · " span class="hint" { (when(at)) } }
                }
            }
        }
    };
    let pg = Page {
        title: "Boards",
        description: Some("Placement and interview questions answered by Lyceum's mentors and members."),
        canonical: Some("/boards".to_owned()),
        current: Some("/boards"),
        ..Default::default()
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    Ok(render(&state, &viewer, status, page(&viewer, pg, body)))
}

/// The first sentence or so of a Markdown text, for a description.
fn summary(markdown: &str, max: usize) -> String {
    let flat: String = markdown
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !matches!(c, '*' | '_' | '`' | '#' | '>' | '[' | ']'))
        .collect();
    let flat = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

#[derive(Deserialize)]
pub struct ThreadQuery {
    cursor: Option<String>,
}

/// Posts on one page of a thread (the question and its first replies, or
/// later replies with `?cursor=`).
const PAGE_POSTS: i64 = 100;

/// `GET /boards/threads/{id}`, and its later pages with `?cursor=` (the
/// "Later replies" link).
pub async fn thread_page(
    state: web::Data<AppState>,
    viewer: Viewer,
    id: web::Path<Uuid>,
    q: web::Query<ThreadQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let cursor = q.into_inner().cursor.filter(|c| !c.is_empty());
    let first = cursor.is_none();
    let query = bridge::query(json!({"limit": PAGE_POSTS, "cursor": cursor}))?;
    let v = match bridge::json_of(threads::get(state.clone(), caller(&viewer), web::Path::from(id), query).await).await
    {
        Ok(v) => v,
        // A cursor not made by the page's own link: there is no such page.
        Err(e) if matches!(e.code(), ErrorCode::ThreadNotFound | ErrorCode::InvalidCursor) => {
            return Ok(not_found(&state, &viewer))
        }
        Err(e) => return Err(e),
    };
    let t = &v["thread"];
    let posts = v["posts"]["items"].as_array().cloned().unwrap_or_default();
    let title = s(t, "title").to_owned();
    // The question is the first post of the first page; later pages hold replies only.
    let question = if first {
        posts.first().cloned().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let replies: &[Value] = if first { posts.get(1..).unwrap_or(&[]) } else { &posts };
    let reply_count = t["replyCount"].as_i64().unwrap_or(replies.len() as i64);
    let description = if first {
        summary(s(&question, "body"), 160)
    } else {
        format!("Later replies to “{}”", summary(&title, 120))
    };
    let canonical = format!("/boards/threads/{id}");
    let answers: Vec<&Value> = replies.iter().filter(|p| p["body"].is_string()).collect();
    let answer_ld = |p: &Value| {
        json!({"@type": "Answer", "text": s(p, "body"), "upvoteCount": p["score"], "dateCreated": p["createdAt"],
               "url": format!("{canonical}#post-{}", s(p, "id")),
               "author": {"@type": "Person", "name": s(&p["author"], "displayName")}})
    };
    let mut main = json!({
        "@type": "Question", "name": title, "text": s(&question, "body"), "answerCount": reply_count,
        "upvoteCount": t["score"], "dateCreated": t["createdAt"],
        "author": {"@type": "Person", "name": s(&t["author"], "displayName")},
    });
    if let Some(a) = answers.iter().find(|p| p["accepted"] == true) {
        main["acceptedAnswer"] = answer_ld(a);
    }
    let suggested: Vec<Value> = answers
        .iter()
        .filter(|p| p["accepted"] != true)
        .map(|p| answer_ld(p))
        .collect();
    if !suggested.is_empty() {
        main["suggestedAnswer"] = json!(suggested);
    }
    let ld = json!({"@context": "https://schema.org", "@type": "QAPage", "mainEntity": main});
    let head = html! {
        meta property="og:type" content="article";
        meta property="og:title" content=(title);
        meta property="og:description" content=(description);
        meta property="og:url" content=(canonical);
        @if first { (json_ld(&ld)) }
    };
    let body = html! {
        p { a href="/boards" { "Boards" } " › " (s(&t["category"], "name")) }
        article {
            h1 { (title) }
            p class="hint" {
                "Asked by " (person(&t["author"]))
                @if let Some(at) = instant(&t["createdAt"]) { " · " (when(at)) }
                " · score " (t["score"].as_i64().unwrap_or(0))
                @if t["locked"] == true { " · " span class="badge" { "Locked" } }
            }
            @if let Some(tags) = t["tags"].as_array() {
                @if !tags.is_empty() {
                    ul class="tags" aria-label="Tags" { @for tag in tags { li { (tag.as_str().unwrap_or_default()) } } }
                }
            }
            // Rendered and cleaned on the server when it was posted (boards::render).
            @if first { div class="post" { (PreEscaped(s(&question, "bodyHtml"))) } }
            @else { p { a href=(canonical) { "Back to the question and the first replies" } } }
        }
        h2 {
            @if first { (reply_count) @if reply_count == 1 { " answer" } @else { " answers" } }
            @else { "Later replies" }
        }
        @for p in replies {
            article id=(format!("post-{}", s(p, "id"))) class="answer" {
                p class="hint" {
                    (person(&p["author"]))
                    @if let Some(at) = instant(&p["createdAt"]) { " · " (when(at)) }
                    " · score " (p["score"].as_i64().unwrap_or(0))
                    @if p["accepted"] == true { " · " span class="badge" { "Accepted answer" } }
                    @if !p["parentId"].is_null() { " · " a href=(format!("#post-{}", s(p, "parentId"))) { "in reply" } }
                }
                @if p["deleted"] == true { p { em { "This reply was deleted." } } }
                @else if p["body"].is_null() { p { em { "This reply was hidden by a moderator." } } }
                @else { div class="post" { (PreEscaped(s(p, "bodyHtml"))) } }
            }
        }
        @if let Some(next) = v["posts"]["nextCursor"].as_str() {
            nav class="pager" aria-label="Replies" {
                a href=(format!("{canonical}?cursor={next}")) { "Later replies" }
            }
        }
    };
    let pg = Page {
        title: &title,
        description: Some(&description),
        canonical: Some(canonical.clone()),
        head: Some(head),
        current: Some("/boards"),
        ..Default::default()
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}
