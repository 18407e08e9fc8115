//! The boards' pages, server-rendered for readers and search engines:
//! `/boards` (the categories and the latest threads, or a search) and
//! `/boards/threads/{id}` (a thread with its answers, titled and described
//! for search engines, with QAPage structured data). They read through the
//! API's handlers, so they show exactly what the API shows this viewer:
//! public categories to visitors, every category to signed-in readers.
//! Signed-in readers ask, answer, reply, vote, accept, flag and edit with
//! forms that post to the page routes below, which do the work through the
//! API's own handlers and come back to the thread with the outcome in words;
//! `boards.js` keeps an open thread live (`watch_thread`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use lyceum_protocol::ErrorCode;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::auth_pages::{see_other, to_sign_in};
use super::bridge::{self, s};
use super::home::when;
use super::layout::{csrf_field, json_ld, notice, page, render, Page};
use super::mentors::not_found;
use super::session::Viewer;
use super::words::explain;
use crate::auth::MaybeUser;
use crate::error::ApiError;
use crate::routes::boards::{categories, posts, review, threads};
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
    error: Option<String>,
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
        @if let Some(e) = &q.error { (notice("error", e)) }
        (ask_form(&viewer, &cats))
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
    /// The outcome of a form (see [`Done`]), or an error in words.
    done: Option<String>,
    error: Option<String>,
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
    let q = q.into_inner();
    let (done, form_error) = (q.done, q.error);
    let cursor = q.cursor.filter(|c| !c.is_empty());
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
    let may = may_post(&state, &viewer, t).await?;
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
    let names = Names::of(&posts);
    let me = viewer.user.as_ref().map(|u| u.id().0.to_string()).unwrap_or_default();
    let asker = !me.is_empty() && me == s(&t["author"], "id");
    let live_end = v["posts"]["nextCursor"].is_null();
    let body = html! {
        p { a href="/boards" { "Boards" } " › " (s(&t["category"], "name")) }
        @if let Some(d) = done.as_deref().and_then(Done::words) { (notice("ok", d)) }
        @if let Some(e) = &form_error { (notice("error", e)) }
        @if t["held"] == true {
            (notice("ok", "This question is waiting for a moderator's review: until it is approved only you and the board's moderators see it."))
        }
        article id=(if first { format!("post-{}", s(&question, "id")) } else { "question".to_owned() }) data-thread=(id)
            data-me=(me) data-asker=(asker) data-may-vote=(WhyNot::may_vote(&may)) data-live=(live_end) {
            h1 { (title) }
            p class="hint" {
                "Asked by " (person(&t["author"]))
                @if let Some(at) = instant(&t["createdAt"]) { " · " (when(at)) }
                " · " span data-score=(s(&question, "id")) { "score " (t["score"].as_i64().unwrap_or(0)) }
                @if t["locked"] == true { " · " span class="badge" { "Locked" } }
            }
            @if let Some(tags) = t["tags"].as_array() {
                @if !tags.is_empty() {
                    ul class="tags" aria-label="Tags" { @for tag in tags { li { (tag.as_str().unwrap_or_default()) } } }
                }
            }
            // Rendered and cleaned on the server when it was posted (boards::render).
            @if first {
                div class="post" data-body=(s(&question, "id")) { (PreEscaped(s(&question, "bodyHtml"))) }
                @if viewer.user.is_some() && !question.is_null() {
                    (post_actions(&viewer, id, &question, &names, &may, asker, Some(t), t["youModerate"] == true))
                }
            }
            @else { p { a href=(canonical) { "Back to the question and the first replies" } } }
        }
        h2 id="answers-heading" data-count=(reply_count) {
            @if first { (reply_count) @if reply_count == 1 { " answer" } @else { " answers" } }
            @else { "Later replies" }
        }
        div id="answers" {
            @for p in replies {
                article id=(format!("post-{}", s(p, "id"))) class="answer" data-author=(s(&p["author"], "displayName")) {
                    p class="hint" {
                        (person(&p["author"]))
                        @if let Some(at) = instant(&p["createdAt"]) { " · " (when(at)) }
                        " · " span data-score=(s(p, "id")) { "score " (p["score"].as_i64().unwrap_or(0)) }
                        span data-accepted=(s(p, "id")) {
                            @if p["accepted"] == true { " · " span class="badge" { "Accepted answer" } }
                        }
                        @if p["held"] == true { " · " span class="badge" { "Waiting for review" } }
                        @if !p["parentId"].is_null() {
                            " · " a href=(format!("#post-{}", s(p, "parentId"))) {
                                "in reply to " (names.by_post(s(p, "parentId")).unwrap_or("a post"))
                            }
                        }
                    }
                    @if p["deleted"] == true { p { em { "This reply was deleted." } } }
                    @else if p["body"].is_null() { p { em { "This reply was hidden by a moderator." } } }
                    @else {
                        div class="post" data-body=(s(p, "id")) { (PreEscaped(s(p, "bodyHtml"))) }
                        @if viewer.user.is_some() { (post_actions(&viewer, id, p, &names, &may, asker, None, t["youModerate"] == true)) }
                    }
                }
            }
        }
        @if let Some(next) = v["posts"]["nextCursor"].as_str() {
            nav class="pager" aria-label="Replies" {
                a href=(format!("{canonical}?cursor={next}")) { "Later replies" }
            }
        }
        (answer_form(&viewer, id, &may))
    };
    let pg = Page {
        title: &title,
        description: Some(&description),
        canonical: Some(canonical.clone()),
        head: Some(head),
        current: Some("/boards"),
        scripts: &["boards.js"],
    };
    Ok(render(&state, &viewer, StatusCode::OK, page(&viewer, pg, body)))
}

/// Who wrote what on a page, so each control can say whose post it acts
/// on: "Mia Mentor's answer", and "Mia Mentor's answer 2" when she wrote
/// several.
struct Names {
    /// Post id → its label ("Mia Mentor's answer") and author's name.
    labels: std::collections::HashMap<String, (String, String)>,
}

impl Names {
    fn of(posts: &[Value]) -> Names {
        let mut seen: std::collections::HashMap<(String, &'static str), usize> = Default::default();
        let mut totals: std::collections::HashMap<(String, &'static str), usize> = Default::default();
        let noun = |p: &Value| -> &'static str {
            if p["isQuestion"] == true {
                "question"
            } else if p["parentId"].is_null() {
                "answer"
            } else {
                "reply"
            }
        };
        for p in posts {
            *totals
                .entry((s(&p["author"], "displayName").to_owned(), noun(p)))
                .or_default() += 1;
        }
        let mut labels = std::collections::HashMap::new();
        for p in posts {
            let name = s(&p["author"], "displayName").to_owned();
            let key = (name.clone(), noun(p));
            let n = seen.entry(key.clone()).or_default();
            *n += 1;
            let label = if totals.get(&key).copied().unwrap_or(0) > 1 {
                format!("{name}'s {} {}", noun(p), n)
            } else {
                format!("{name}'s {}", noun(p))
            };
            labels.insert(s(p, "id").to_owned(), (label, name));
        }
        Names { labels }
    }

    fn label(&self, post: &str) -> String {
        self.labels
            .get(post)
            .map(|(l, _)| l.clone())
            .unwrap_or_else(|| "this post".to_owned())
    }

    fn by_post(&self, post: &str) -> Option<&str> {
        self.labels.get(post).map(|(_, n)| n.as_str())
    }
}

/// Why the viewer may not post in a thread.
enum WhyNot {
    SignedOut,
    Locked,
    /// Banned from the category: the refusal in words.
    Banned(String),
}

impl WhyNot {
    /// Whether votes are still open to them (a locked thread takes votes;
    /// a banned reader votes nowhere in the category).
    fn may_vote(may: &Result<(), WhyNot>) -> bool {
        matches!(may, Ok(()) | Err(WhyNot::Locked))
    }
}

/// Whether the viewer may post in this thread, or why not.
async fn may_post(state: &AppState, viewer: &Viewer, t: &Value) -> Result<Result<(), WhyNot>, ApiError> {
    let Some(user) = &viewer.user else {
        return Ok(Err(WhyNot::SignedOut));
    };
    let category: Option<Uuid> = s(&t["category"], "id").parse().ok();
    if let Some(c) = category {
        let client = state.pool.get().await?;
        if let Err(e) = crate::boards::not_banned(&client, user.id(), c).await {
            return Ok(Err(WhyNot::Banned(explain(&e))));
        }
    }
    if t["locked"] == true {
        return Ok(Err(WhyNot::Locked));
    }
    Ok(Ok(()))
}

/// The outcomes of the forms, said on the thread they come back to.
enum Done {}

impl Done {
    fn words(code: &str) -> Option<&'static str> {
        Some(match code {
            "asked" => "Your question is on the board.",
            "answered" => "Your answer is posted.",
            "held" => "Thank you! Your post is waiting for a moderator's review: until it is approved only you and the board's moderators see it.",
            "voted" => "Your vote is counted.",
            "unvoted" => "Your vote is withdrawn.",
            "accepted" => "You accepted the answer. Its author is told.",
            "unaccepted" => "No answer is accepted now.",
            "flagged" => "Thank you: a moderator will look at it.",
            "edited" => "Your changes are saved; the earlier version is kept in the post's history.",
            "approved" => "Approved: the post is published and its author is told.",
            "rejected" => "Rejected: the post is deleted and its author is told.",
            _ => return None,
        })
    }
}

/// What a signed-in reader can do with one post: vote, accept (the
/// thread's author), reply to it, flag it, edit it (its author), approve or
/// reject it while it is held (the category's moderators). Each control
/// names whose post it acts on.
#[allow(clippy::too_many_arguments)]
fn post_actions(
    viewer: &Viewer,
    thread: Uuid,
    p: &Value,
    names: &Names,
    may: &Result<(), WhyNot>,
    asker: bool,
    question: Option<&Value>,
    moderator: bool,
) -> Markup {
    let pid = s(p, "id");
    let label = names.label(pid);
    let name = s(&p["author"], "displayName");
    let own = viewer
        .user
        .as_ref()
        .is_some_and(|u| u.id().0.to_string() == s(&p["author"], "id"));
    let base = format!("/boards/threads/{thread}/posts/{pid}");
    let held = p["held"] == true;
    let open = may.is_ok();
    let votes = WhyNot::may_vote(may);
    html! {
        div class="post-actions" data-actions=(pid) {
            @if held && moderator {
                form method="post" action=(format!("{base}/review")) class="inline" {
                    (csrf_field(viewer))
                    input type="hidden" name="decision" value="approve";
                    button type="submit" { "Approve " (label) }
                }
                details {
                    summary { "Reject " (label) }
                    form method="post" action=(format!("{base}/review")) {
                        (csrf_field(viewer))
                        input type="hidden" name="decision" value="reject";
                        label for=(format!("reject-{pid}")) { "Why (optional, told to " (name) ")" }
                        textarea id=(format!("reject-{pid}")) name="reason" rows="2" maxlength="500" {}
                        button type="submit" class="danger" { "Reject " (label) }
                    }
                }
            }
            @if !own && votes && !held {
                form method="post" action=(format!("{base}/vote")) class="inline" {
                    (csrf_field(viewer))
                    @if p["myVote"].as_i64() == Some(1) {
                        input type="hidden" name="value" value="0";
                        button type="submit" class="secondary" { "Withdraw my vote for " (label) }
                    } @else {
                        input type="hidden" name="value" value="1";
                        button type="submit" class="secondary" { "Vote for " (label) }
                    }
                }
                " "
                @if p["myVote"].as_i64() != Some(-1) {
                    form method="post" action=(format!("{base}/vote")) class="inline" {
                        (csrf_field(viewer))
                        input type="hidden" name="value" value="-1";
                        button type="submit" class="secondary" { "Vote against " (label) }
                    }
                } @else {
                    form method="post" action=(format!("{base}/vote")) class="inline" {
                        (csrf_field(viewer))
                        input type="hidden" name="value" value="0";
                        button type="submit" class="secondary" { "Withdraw my vote against " (label) }
                    }
                }
                " "
            }
            @if asker && question.is_none() && !held {
                form method="post" action=(format!("/boards/threads/{thread}/accept")) class="inline" data-accept=(pid) {
                    (csrf_field(viewer))
                    @if p["accepted"] == true {
                        input type="hidden" name="postId" value="";
                        button type="submit" class="secondary" { "Withdraw acceptance of " (label) }
                    } @else {
                        input type="hidden" name="postId" value=(pid);
                        button type="submit" { "Accept " (label) }
                    }
                }
            }
            @if open && question.is_none() && !held {
                details {
                    summary { "Reply to " (name) }
                    form method="post" action=(format!("/boards/threads/{thread}/replies")) {
                        (csrf_field(viewer))
                        input type="hidden" name="parentId" value=(pid);
                        label for=(format!("reply-{pid}")) { "Your reply to " (label) " (Markdown)" }
                        textarea id=(format!("reply-{pid}")) name="body" rows="4" required maxlength="20000" {}
                        button type="submit" { "Post my reply to " (name) }
                    }
                }
            }
            @if !own && !held {
                details {
                    summary { "Flag " (label) " for a moderator" }
                    form method="post" action=(format!("{base}/flag")) {
                        (csrf_field(viewer))
                        label for=(format!("flag-{pid}")) { "What is wrong with " (label) "?" }
                        textarea id=(format!("flag-{pid}")) name="reason" rows="2" required maxlength="500" {}
                        button type="submit" { "Send the flag" }
                    }
                }
            }
            @if own && open {
                details {
                    summary { @if question.is_some() { "Edit your question" } @else { "Edit your post" } }
                    form method="post" action=(format!("{base}/edit")) {
                        (csrf_field(viewer))
                        @if let Some(t) = question {
                            label for=(format!("edit-title-{pid}")) { "Title" }
                            input id=(format!("edit-title-{pid}")) name="title" required minlength="3" maxlength="200" value=(s(t, "title"));
                            label for=(format!("edit-tags-{pid}")) { "Tags (up to 5, separated by commas)" }
                            input id=(format!("edit-tags-{pid}")) name="tags"
                                value=(t["tags"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default());
                        }
                        label for=(format!("edit-{pid}")) { "Your text (Markdown)" }
                        textarea id=(format!("edit-{pid}")) name="body" rows="6" required maxlength="20000" { (s(p, "body")) }
                        button type="submit" { "Save my changes" }
                    }
                }
            }
        }
    }
}

/// The answer form at the end of a thread, or why the viewer cannot answer.
fn answer_form(viewer: &Viewer, thread: Uuid, may: &Result<(), WhyNot>) -> Markup {
    html! {
        section id="answer" aria-labelledby="answer-heading" {
            h2 id="answer-heading" { "Your answer" }
            @match may {
                Ok(()) => {
                    form method="post" action=(format!("/boards/threads/{thread}/replies")) {
                        (csrf_field(viewer))
                        label for="answer-body" { "Your answer (Markdown: **bold**, *italic*, lists, links, code)" }
                        textarea id="answer-body" name="body" rows="6" required maxlength="20000" {}
                        button type="submit" { "Post my answer" }
                    }
                }
                Err(WhyNot::SignedOut) => {
                    p { a href=(format!("/signin?next=/boards/threads/{thread}")) { "Sign in to answer" } " (or " a href="/signup" { "create an account" } ")." }
                }
                Err(WhyNot::Locked) => {
                    p data-why-not { "This thread is locked by a moderator: it takes no new answers or edits. You can still vote and flag." }
                }
                Err(WhyNot::Banned(why)) => { p data-why-not { (why) } }
            }
        }
    }
}

/// The "Ask a question" form of `/boards`, or why the viewer cannot ask.
fn ask_form(viewer: &Viewer, cats: &Value) -> Markup {
    let items = cats["items"].as_array().cloned().unwrap_or_default();
    html! {
        section id="ask" aria-labelledby="ask-heading" {
            h2 id="ask-heading" { "Ask a question" }
            @if viewer.user.is_none() {
                p { a href="/signin?next=/boards" { "Sign in to ask a question" } " (or " a href="/signup" { "create an account" } ")." }
            } @else if items.is_empty() {
                p { "There are no categories to ask in yet." }
            } @else {
                form method="post" action="/boards/threads" {
                    (csrf_field(viewer))
                    label for="ask-category" { "Category" }
                    select id="ask-category" name="categoryId" {
                        @for c in &items { option value=(s(c, "id")) { (s(c, "name")) } }
                    }
                    label for="ask-title" { "Title (3 to 200 characters)" }
                    input id="ask-title" name="title" required minlength="3" maxlength="200";
                    label for="ask-body" { "Your question (Markdown)" }
                    textarea id="ask-body" name="body" rows="6" required maxlength="20000" {}
                    label for="ask-tags" { "Tags (optional, up to 5, separated by commas)" }
                    input id="ask-tags" name="tags" placeholder="interviews, rust";
                    button type="submit" { "Ask the question" }
                }
            }
        }
    }
}

fn split_tags(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Back to the thread with the outcome: `done=<code>` or `error=<words>`,
/// at the post concerned.
fn back(thread: Uuid, res: Result<&str, ApiError>, anchor: &str) -> HttpResponse {
    let q = match res {
        Ok(code) => serde_urlencoded::to_string([("done", code)]).unwrap_or_default(),
        Err(e) => serde_urlencoded::to_string([("error", explain(&e))]).unwrap_or_default(),
    };
    see_other(&format!("/boards/threads/{thread}?{q}{anchor}"))
}

/// `back` after an API call whose answer says nothing more than that it
/// was `done`.
fn back_after(thread: Uuid, res: Result<Value, ApiError>, done: &str, anchor: &str) -> HttpResponse {
    back(thread, res.map(|_| done), anchor)
}

/// Sign-in for a form posted on a thread's page: back to the thread after.
fn sign_in_to(thread: Uuid) -> HttpResponse {
    to_sign_in(&format!("/boards/threads/{thread}"))
}

#[derive(Deserialize)]
pub struct AskForm {
    csrf: Option<String>,
    #[serde(rename = "categoryId")]
    category_id: String,
    title: String,
    body: String,
    #[serde(default)]
    tags: String,
}

/// `POST /boards/threads`: asks through `POST /api/boards/threads`.
pub async fn ask(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    form: web::Form<AskForm>,
) -> Result<HttpResponse, ApiError> {
    let f = form.into_inner();
    let Some(user) = viewer.form_user(&req, f.csrf.as_deref())? else {
        return Ok(to_sign_in("/boards"));
    };
    let v = json!({"categoryId": f.category_id, "title": f.title, "body": f.body, "tags": split_tags(&f.tags)});
    Ok(
        match bridge::call(v, |b| threads::create(state.clone(), user, b)).await {
            Ok(v) => {
                let code = if v["thread"]["held"] == true { "held" } else { "asked" };
                see_other(&format!("/boards/threads/{}?done={code}", s(&v["thread"], "id")))
            }
            Err(e) => see_other(&format!(
                "/boards?{}#ask",
                serde_urlencoded::to_string([("error", explain(&e))]).unwrap_or_default()
            )),
        },
    )
}

#[derive(Deserialize)]
pub struct AnswerForm {
    csrf: Option<String>,
    body: String,
    #[serde(rename = "parentId", default)]
    parent_id: String,
}

/// `POST /boards/threads/{id}/replies`: answers the thread, or replies to
/// one of its posts (`parentId`), through the API's handler.
pub async fn answer(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    id: web::Path<Uuid>,
    form: web::Form<AnswerForm>,
) -> Result<HttpResponse, ApiError> {
    let (thread, f) = (id.into_inner(), form.into_inner());
    let Some(user) = viewer.form_user(&req, f.csrf.as_deref())? else {
        return Ok(sign_in_to(thread));
    };
    let parent = Some(f.parent_id.trim()).filter(|p| !p.is_empty());
    let v = json!({"body": f.body, "parentId": parent});
    Ok(
        match bridge::call(v, |b| threads::reply(state.clone(), user, web::Path::from(thread), b)).await {
            Ok(v) => {
                let code = if v["held"] == true { "held" } else { "answered" };
                back(thread, Ok(code), &format!("#post-{}", s(&v, "id")))
            }
            Err(e) => back(thread, Err(e), "#answer"),
        },
    )
}

#[derive(Deserialize)]
pub struct AcceptForm {
    csrf: Option<String>,
    #[serde(rename = "postId", default)]
    post_id: String,
}

/// `POST /boards/threads/{id}/accept`: the thread's author accepts an
/// answer (an empty `postId` accepts none).
pub async fn accept(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    id: web::Path<Uuid>,
    form: web::Form<AcceptForm>,
) -> Result<HttpResponse, ApiError> {
    let (thread, f) = (id.into_inner(), form.into_inner());
    let Some(user) = viewer.form_user(&req, f.csrf.as_deref())? else {
        return Ok(sign_in_to(thread));
    };
    let post = Some(f.post_id.trim()).filter(|p| !p.is_empty());
    let res = bridge::call(json!({ "postId": post }), |b| {
        threads::accept(state.clone(), user, web::Path::from(thread), b)
    })
    .await;
    let done = if post.is_some() { "accepted" } else { "unaccepted" };
    Ok(back_after(
        thread,
        res,
        done,
        &post.map(|p| format!("#post-{p}")).unwrap_or_default(),
    ))
}

#[derive(Deserialize)]
pub struct VoteForm {
    csrf: Option<String>,
    value: String,
}

/// `POST /boards/threads/{id}/posts/{post}/vote`: `value` 1, -1 or 0.
pub async fn vote(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    path: web::Path<(Uuid, Uuid)>,
    form: web::Form<VoteForm>,
) -> Result<HttpResponse, ApiError> {
    let ((thread, post), f) = (path.into_inner(), form.into_inner());
    let Some(user) = viewer.form_user(&req, f.csrf.as_deref())? else {
        return Ok(sign_in_to(thread));
    };
    // Not a number: out of range, as the API would say.
    let value: i64 = f.value.trim().parse().unwrap_or(i64::MAX);
    let res = bridge::call(json!({ "value": value }), |b| {
        posts::vote(state.clone(), user, web::Path::from(post), b)
    })
    .await;
    let done = if value == 0 { "unvoted" } else { "voted" };
    Ok(back_after(thread, res, done, &format!("#post-{post}")))
}

#[derive(Deserialize)]
pub struct FlagForm {
    csrf: Option<String>,
    #[serde(default)]
    reason: String,
}

/// `POST /boards/threads/{id}/posts/{post}/flag`: into the moderation queue.
pub async fn flag(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    path: web::Path<(Uuid, Uuid)>,
    form: web::Form<FlagForm>,
) -> Result<HttpResponse, ApiError> {
    let ((thread, post), f) = (path.into_inner(), form.into_inner());
    let Some(user) = viewer.form_user(&req, f.csrf.as_deref())? else {
        return Ok(sign_in_to(thread));
    };
    let res = bridge::call(json!({ "reason": f.reason }), |b| {
        posts::flag(state.clone(), user, web::Path::from(post), b)
    })
    .await;
    Ok(back_after(thread, res, "flagged", &format!("#post-{post}")))
}

#[derive(Deserialize)]
pub struct EditForm {
    csrf: Option<String>,
    body: String,
    title: Option<String>,
    tags: Option<String>,
}

/// `POST /boards/threads/{id}/posts/{post}/edit`: the author's new text
/// (and, for the question, title and tags).
pub async fn edit(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    path: web::Path<(Uuid, Uuid)>,
    form: web::Form<EditForm>,
) -> Result<HttpResponse, ApiError> {
    let ((thread, post), f) = (path.into_inner(), form.into_inner());
    let Some(user) = viewer.form_user(&req, f.csrf.as_deref())? else {
        return Ok(sign_in_to(thread));
    };
    let mut body = json!({ "body": f.body });
    if let Some(t) = f.title {
        body["title"] = json!(t);
    }
    if let Some(t) = f.tags {
        body["tags"] = json!(split_tags(&t));
    }
    let res = bridge::call(body, |b| posts::edit(state.clone(), user, web::Path::from(post), b)).await;
    Ok(back_after(thread, res, "edited", &format!("#post-{post}")))
}

#[derive(Deserialize)]
pub struct ReviewForm {
    csrf: Option<String>,
    decision: String,
    #[serde(default)]
    reason: String,
}

/// `POST /boards/threads/{id}/posts/{post}/review`: a moderator approves
/// or rejects a held post through `POST /api/boards/posts/{id}/review`.
pub async fn decide(
    state: web::Data<AppState>,
    req: HttpRequest,
    viewer: Viewer,
    path: web::Path<(Uuid, Uuid)>,
    form: web::Form<ReviewForm>,
) -> Result<HttpResponse, ApiError> {
    let ((thread, post), f) = (path.into_inner(), form.into_inner());
    let Some(user) = viewer.form_user(&req, f.csrf.as_deref())? else {
        return Ok(sign_in_to(thread));
    };
    let reason = Some(f.reason.trim()).filter(|r| !r.is_empty());
    let v = json!({"decision": f.decision, "reason": reason});
    let res = bridge::call(v, |b| {
        review::decide(state.clone(), user, req.clone(), web::Path::from(post), b)
    })
    .await;
    let anchor = format!("#post-{post}");
    Ok(match res {
        // A rejected question took its thread with it.
        Ok(v) if v["deleted"] == true && v["isQuestion"] == true => see_other("/boards"),
        Ok(v) if v["deleted"] == true => back(thread, Ok("rejected"), ""),
        Ok(_) => back(thread, Ok("approved"), &anchor),
        Err(e) => back(thread, Err(e), &anchor),
    })
}
