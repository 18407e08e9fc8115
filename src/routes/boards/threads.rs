//! Threads: the list (filters, full-text search with ranking, sorts, keyset
//! cursors), asking a question, reading a thread with its posts page by
//! page, replying (to the thread or to a post), choosing the accepted
//! answer, and moderating a thread (lock, hide, move).

use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use futures_util::TryFutureExt;
use lyceum_protocol::{ErrorCode, UserId};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::{actor_json, record_board_action, tell_watchers, POST_COLUMNS, THREAD_COLUMNS};
use super::{load_post, load_thread_summary, notify_mentions, post_json, thread_for, thread_json, ThreadCtx};
use crate::audit::action;
use crate::auth::{AuthUser, MaybeUser};
use crate::boards::{self, render::render};
use crate::error::ApiError;
use crate::infra::ratelimit::Limit;
use crate::notify::{self, Note, Stored};
use crate::routes::json::Json;
use crate::routes::paging::{id_cursor, page_limit};
use crate::state::AppState;

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;
pub const DEFAULT_POSTS: i64 = 50;
pub const MAX_POSTS: i64 = 200;
/// With `sort=relevance`, the most recently active matches ranked.
pub const RELEVANCE_CANDIDATES: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sort {
    /// Most recent activity (a new thread or a reply) first.
    Latest,
    /// Highest-scored question first.
    Top,
    /// Threads with no reply and no accepted answer, newest first.
    Unanswered,
    /// Best match of `q` first (the default with `q`).
    Relevance,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    category: Option<Uuid>,
    q: Option<String>,
    tag: Option<String>,
    sort: Option<Sort>,
    cursor: Option<String>,
    limit: Option<i64>,
}

/// Where the previous page ended: the sort it was for, its last row's sort
/// key (`t` for times, `n` for scores and ranks) and id.
#[derive(Serialize, Deserialize)]
struct Cursor {
    s: Sort,
    t: Option<DateTime<Utc>>,
    n: Option<f64>,
    id: Uuid,
}

fn bad_cursor() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidCursor,
        "the cursor is not one this endpoint returned for this sort",
    )
}

impl Cursor {
    fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(s: &str, sort: Sort) -> Result<Cursor, ApiError> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| bad_cursor())?;
        let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| bad_cursor())?;
        let fits = match sort {
            Sort::Latest | Sort::Unanswered => c.t.is_some(),
            Sort::Top | Sort::Relevance => c.n.is_some_and(f64::is_finite),
        };
        if c.s != sort || !fits {
            return Err(bad_cursor());
        }
        Ok(c)
    }
}

type Params = Vec<Box<dyn ToSql + Sync + Send>>;

fn param(params: &mut Params, v: Box<dyn ToSql + Sync + Send>) -> String {
    params.push(v);
    format!("${}", params.len())
}

/// `GET /api/boards/threads`.
pub async fn list(
    state: web::Data<AppState>,
    viewer: MaybeUser,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let limit = page_limit(q.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let text =
        q.q.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
    if text.as_ref().is_some_and(|t| t.chars().count() > 200) {
        return Err(ApiError::new(ErrorCode::InvalidQuery, "q has at most 200 characters"));
    }
    let tag = match q.tag.as_deref() {
        None => None,
        Some(t) => boards::tags(&[t.to_owned()])
            .map_err(|e| ApiError::new(ErrorCode::InvalidQuery, e.to_string()))?
            .into_iter()
            .next(),
    };
    let sort = match (q.sort, &text) {
        (Some(Sort::Relevance), None) => {
            return Err(ApiError::new(ErrorCode::InvalidQuery, "sort=relevance needs q"));
        }
        (Some(s), _) => s,
        (None, Some(_)) => Sort::Relevance,
        (None, None) => Sort::Latest,
    };
    let cursor = q.cursor.as_deref().map(|c| Cursor::decode(c, sort)).transpose()?;

    // Built from fixed fragments only; every value travels as a parameter.
    let mut params: Params = Vec::new();
    let signed_in = param(&mut params, Box::new(viewer.0.is_some()));
    let mut sql = String::new();
    // The rank of a match, over the alias of the rows it ranks.
    let mut query_param = None;
    if let Some(t) = &text {
        let n = param(&mut params, Box::new(t.clone()));
        sql.push_str(&format!(" AND t.search @@ websearch_to_tsquery('english', {n})"));
        query_param = Some(n);
    }
    let rank = |alias: &str| match &query_param {
        // `ts_rank`, not `ts_rank_cd`: the cover density (how close the
        // words stand) cost 2-7 ms per 1,000 candidates, `ts_rank` ~0.4.
        Some(n) => format!("ts_rank({alias}.search, websearch_to_tsquery('english', {n}))::float8"),
        None => "0::float8".to_owned(),
    };
    if let Some(c) = q.category {
        let n = param(&mut params, Box::new(c));
        sql.push_str(&format!(" AND t.category_id = {n}"));
    }
    if let Some(tag) = tag {
        let n = param(&mut params, Box::new(vec![tag]));
        sql.push_str(&format!(" AND t.tags @> {n}"));
    }
    if sort == Sort::Unanswered {
        sql.push_str(" AND t.reply_count = 0 AND t.accepted_post_id IS NULL");
    }
    // The categories the caller may read, computed once (an init plan)
    // rather than joined per thread, so a search or a list reads one
    // index: the latest-activity index carries the category and the
    // search document (V12), and a walk down it reads no table row.
    let standing = format!(
        "FROM board_threads t
          WHERE t.deleted_at IS NULL AND NOT t.hidden
            AND t.category_id = ANY (ARRAY(SELECT id FROM board_categories WHERE visibility = 'public' OR {signed_in}))
            {sql}"
    );
    let after = match &cursor {
        Some(c) => {
            let k = match sort {
                Sort::Latest | Sort::Unanswered => param(&mut params, Box::new(c.t)),
                Sort::Top => param(&mut params, Box::new(c.n.unwrap_or(0.0) as i32)),
                Sort::Relevance => param(&mut params, Box::new(c.n.unwrap_or(0.0))),
            };
            let id = param(&mut params, Box::new(c.id));
            Some((k, id))
        }
        None => None,
    };
    let lim = param(&mut params, Box::new(limit + 1));
    // The page's ids (and ranks) first, then their rows and authors: only
    // the page is joined, never every candidate.
    let sql = if sort == Sort::Relevance {
        // Only the newest matches are ranked: ranking every match of a
        // common word (a quarter of the threads, say) costs a scan and a
        // rank per thread; the newest RELEVANCE_CANDIDATES come off the
        // latest-activity index (or the search index for a rarer word).
        let page_after = match &after {
            Some((k, id)) => format!("WHERE (r.rank, r.id) < ({k}, {id})"),
            None => String::new(),
        };
        format!(
            "WITH m AS MATERIALIZED (
               SELECT t.id, t.search {standing}
                ORDER BY t.last_activity_at DESC, t.id DESC LIMIT {RELEVANCE_CANDIDATES}),
             r AS (SELECT m.id, {} AS rank FROM m),
             p AS (SELECT r.id, r.rank FROM r {page_after} ORDER BY r.rank DESC, r.id DESC LIMIT {lim})
             SELECT {THREAD_COLUMNS}, p.rank
               FROM p JOIN board_threads t ON t.id = p.id JOIN users u ON u.id = t.author_id
              ORDER BY p.rank DESC, p.id DESC",
            rank("m")
        )
    } else {
        let key = match sort {
            Sort::Top => "t.score",
            _ => "t.last_activity_at",
        };
        let page_after = match &after {
            Some((k, id)) => format!(" AND ({key}, t.id) < ({k}, {id})"),
            None => String::new(),
        };
        format!(
            "WITH p AS (SELECT t.id, {} AS rank {standing} {page_after} ORDER BY {key} DESC, t.id DESC LIMIT {lim})
             SELECT {THREAD_COLUMNS}, p.rank
               FROM p JOIN board_threads t ON t.id = p.id JOIN users u ON u.id = t.author_id
              ORDER BY {key} DESC, t.id DESC",
            rank("t")
        )
    };
    let client = state.pool.get().await?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
    let rows = client.query(&sql, &refs).await?;
    let has_more = rows.len() as i64 > limit;
    let mut items = Vec::new();
    let mut last = None;
    for r in rows.iter().take(limit as usize) {
        let rank: f64 = r.get(14);
        let mut item = thread_json(r);
        item["rank"] = if text.is_some() { json!(rank) } else { Value::Null };
        items.push(item);
        last = Some(Cursor {
            s: sort,
            t: matches!(sort, Sort::Latest | Sort::Unanswered).then(|| r.get(8)),
            n: match sort {
                Sort::Top => Some(f64::from(r.get::<_, i32>(10))),
                Sort::Relevance => Some(rank),
                _ => None,
            },
            id: r.get(0),
        });
    }
    let next_cursor = if has_more { last.map(|c| c.encode()) } else { None };
    Ok(HttpResponse::Ok().json(json!({"items": items, "nextCursor": next_cursor})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewThread {
    category_id: Uuid,
    title: String,
    body: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// The thread's search document: title (A), tags (B), question (C).
pub const SEARCH_VECTOR: &str = "setweight(to_tsvector('english', $1), 'A')
    || setweight(to_tsvector('english', array_to_string($2::text[], ' ')), 'B')
    || setweight(to_tsvector('english', $3), 'C')";

/// `POST /api/boards/threads`: `201` with the thread as `GET` shows it.
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: Json<NewThread>,
) -> Result<HttpResponse, ApiError> {
    state
        .limiter
        .check(Limit::BoardPostPerUser, &user.id.to_string())
        .await?;
    let b = body.into_inner();
    let title = boards::title(&b.title)?;
    let text = boards::body(&b.body)?;
    let tags = boards::tags(&b.tags)?;
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let visibility: String = tx
        .query_opt(
            "SELECT visibility FROM board_categories WHERE id = $1",
            &[&b.category_id],
        )
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| ApiError::new(ErrorCode::CategoryNotFound, "no such category"))?;
    if !boards::may_read(&visibility, Some(&user)) {
        return Err(ApiError::new(ErrorCode::CategoryNotFound, "no such category"));
    }
    boards::not_banned(&tx, user.id, b.category_id).await?;
    let moderator = boards::moderates(&tx, &user, b.category_id).await?;
    // A new account's first posts wait for a moderator (boards.hold_first_posts).
    let held = boards::should_hold(&tx, state.hold_first_posts, &user, moderator).await?;
    let rendered = render(&text);
    let (thread, post) = (Uuid::new_v4(), Uuid::new_v4());
    tx.execute(
        &format!(
            "INSERT INTO board_threads (id, category_id, author_id, title, tags, first_post_id, search, hidden, held)
             VALUES ($4, $5, $6, $1, $2, $7, {SEARCH_VECTOR}, $8, $8)"
        ),
        &[&title, &tags, &text, &thread, &b.category_id, &user.id, &post, &held],
    )
    .await?;
    tx.execute(
        "INSERT INTO board_posts (id, thread_id, author_id, body, body_html, hidden, review)
         VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $6 THEN 'held' END)",
        &[&post, &thread, &user.id, &text, &rendered.html, &held],
    )
    .await?;
    let ctx = ThreadCtx {
        id: thread,
        category: b.category_id,
        author: user.id.0,
        title,
        locked: false,
        hidden: held,
        first_post: Some(post),
        moderator,
        held,
    };
    let mut stored = Vec::new();
    let by = actor_json(&tx, &user).await?;
    if !held {
        notify_mentions(
            &tx,
            &rendered.mentions,
            user.id.0,
            &[],
            &ctx,
            post,
            &by,
            state.email_notifications,
            &mut stored,
        )
        .await?;
    }
    tx.commit().await?;
    notify::push(state.realtime.services.fanout.as_ref(), stored);
    let client = state.pool.get().await?;
    let page = thread_page(&client, &ctx, Some(&user), None, DEFAULT_POSTS).await?;
    Ok(HttpResponse::Created().json(page))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PageQuery {
    cursor: Option<String>,
    limit: Option<i64>,
}

/// The thread's summary and one page of its posts, oldest first (the
/// question first of all).
async fn thread_page(
    client: &impl deadpool_postgres::GenericClient,
    t: &ThreadCtx,
    viewer: Option<&AuthUser>,
    after: Option<i64>,
    limit: i64,
) -> Result<Value, ApiError> {
    let viewer_id = viewer.map(|v| v.id);
    let posts_sql = format!(
        "SELECT {POST_COLUMNS} FROM board_posts p JOIN users u ON u.id = p.author_id
          WHERE p.thread_id = $2 AND p.n > $3 ORDER BY p.n LIMIT $4"
    );
    let (after, page_limit) = (after.unwrap_or(0), limit + 1);
    let category_args: &[&(dyn ToSql + Sync)] = &[&t.category];
    let posts_args: &[&(dyn ToSql + Sync)] = &[&viewer_id, &t.id, &after, &page_limit];
    // Three independent reads, sent together on the one connection
    // (pipelined): the page waits for the slowest, not for the sum.
    let (mut thread, category, rows) = futures_util::try_join!(
        load_thread_summary(client, t.id),
        client
            .query_one(
                "SELECT id, slug, name, visibility FROM board_categories WHERE id = $1",
                category_args,
            )
            .map_err(ApiError::from),
        client.query(&posts_sql, posts_args).map_err(ApiError::from),
    )?;
    let accepted: Option<Uuid> = thread["acceptedPostId"].as_str().and_then(|s| s.parse().ok());
    thread["category"] = json!({"id": category.get::<_, Uuid>(0), "slug": category.get::<_, String>(1),
                                "name": category.get::<_, String>(2), "visibility": category.get::<_, String>(3)});
    thread["youModerate"] = json!(t.moderator);
    thread["held"] = json!(t.held);
    let has_more = rows.len() as i64 > limit;
    let page: Vec<&tokio_postgres::Row> = rows.iter().take(limit as usize).collect();
    let next_cursor = if has_more {
        page.last().map(|r| r.get::<_, i64>(13).to_string())
    } else {
        None
    };
    let posts: Vec<Value> = page
        .iter()
        .filter(|r| super::post_visible(r, t.moderator))
        .map(|r| post_json(r, t.first_post, accepted, t.moderator))
        .collect();
    Ok(json!({"thread": thread, "posts": {"items": posts, "nextCursor": next_cursor}}))
}

/// `GET /api/boards/threads/{id}`.
pub async fn get(
    state: web::Data<AppState>,
    viewer: MaybeUser,
    id: web::Path<Uuid>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_limit(q.limit, DEFAULT_POSTS, MAX_POSTS)?;
    let after = id_cursor(q.cursor.as_deref())?;
    let client = state.pool.get().await?;
    let t = thread_for(&client, id.into_inner(), viewer.0.as_ref(), false).await?;
    Ok(HttpResponse::Ok().json(thread_page(&client, &t, viewer.0.as_ref(), after, limit).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewReply {
    body: String,
    parent_id: Option<Uuid>,
}

/// `409 thread_locked` for a locked thread.
pub fn not_locked(t: &ThreadCtx) -> Result<(), ApiError> {
    if t.locked {
        return Err(ApiError::new(
            ErrorCode::ThreadLocked,
            "this thread is locked: no replies or edits",
        ));
    }
    Ok(())
}

/// `POST /api/boards/threads/{id}/replies`: `201` with the post.
pub async fn reply(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: Json<NewReply>,
) -> Result<HttpResponse, ApiError> {
    state
        .limiter
        .check(Limit::BoardPostPerUser, &user.id.to_string())
        .await?;
    let b = body.into_inner();
    let text = boards::body(&b.body)?;
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let t = thread_for(&tx, id.into_inner(), Some(&user), true).await?;
    not_locked(&t)?;
    boards::not_banned(&tx, user.id, t.category).await?;
    let parent_author: Option<Uuid> = match b.parent_id {
        None => None,
        Some(p) => Some(
            tx.query_opt(
                "SELECT author_id FROM board_posts WHERE id = $1 AND thread_id = $2 AND deleted_at IS NULL",
                &[&p, &t.id],
            )
            .await?
            .map(|r| r.get(0))
            .ok_or_else(|| ApiError::new(ErrorCode::InvalidPost, "parentId is not a post of this thread"))?,
        ),
    };
    let held = boards::should_hold(&tx, state.hold_first_posts, &user, t.moderator).await?;
    let rendered = render(&text);
    let post = Uuid::new_v4();
    tx.execute(
        "INSERT INTO board_posts (id, thread_id, author_id, parent_id, body, body_html, hidden, review)
         VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $7 THEN 'held' END)",
        &[&post, &t.id, &user.id, &b.parent_id, &text, &rendered.html, &held],
    )
    .await?;
    let mut stored: Vec<Stored> = Vec::new();
    // A held reply counts, and tells anyone, only once approved.
    if !held {
        tx.execute(
            "UPDATE board_threads SET reply_count = reply_count + 1, last_activity_at = now() WHERE id = $1",
            &[&t.id],
        )
        .await?;
        let by = actor_json(&tx, &user).await?;
        let reply = Published {
            post,
            parent: b.parent_id,
            parent_author,
            author: user.id.0,
            mentions: &rendered.mentions,
        };
        notify_reply(&tx, &t, &reply, &by, state.email_notifications, &mut stored).await?;
    }
    let shown = load_post(&tx, post, Some(&user), t.moderator).await?;
    tx.commit().await?;
    notify::push(state.realtime.services.fanout.as_ref(), stored);
    if !t.hidden && !held {
        tell_watchers(&state, t.id, "reply", shown.clone());
    }
    Ok(HttpResponse::Created().json(shown))
}

/// A reply as published (at once, or when a moderator approves it).
pub struct Published<'a> {
    pub post: Uuid,
    pub parent: Option<Uuid>,
    pub parent_author: Option<Uuid>,
    pub author: Uuid,
    pub mentions: &'a [String],
}

/// Tells of a published reply: the thread's author and the author of the
/// post answered, once each (one key per post: a user who is both is told
/// once), then the users it mentions.
pub async fn notify_reply(
    tx: &impl deadpool_postgres::GenericClient,
    t: &ThreadCtx,
    reply: &Published<'_>,
    by: &Value,
    mail: bool,
    stored: &mut Vec<Stored>,
) -> Result<(), ApiError> {
    let post = reply.post;
    let mut told = Vec::new();
    for to in [Some(t.author), reply.parent_author].into_iter().flatten() {
        if to == reply.author || told.contains(&to) {
            continue;
        }
        told.push(to);
        let note = Note {
            user: UserId(to),
            kind: "board_reply",
            key: format!("board_reply:{post}"),
            payload: json!({"threadId": t.id, "postId": post, "parentId": reply.parent, "title": t.title, "by": by}),
            mail,
        };
        stored.extend(notify::store(tx, note).await?);
    }
    notify_mentions(tx, reply.mentions, reply.author, &told, t, post, by, mail, stored).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Accept {
    post_id: Option<Uuid>,
}

/// `POST /api/boards/threads/{id}/accept`: only the thread's author; a
/// reply of this thread, or `null` to accept none. `200` with the thread's
/// summary.
pub async fn accept(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: Json<Accept>,
) -> Result<HttpResponse, ApiError> {
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let t = thread_for(&tx, id.into_inner(), Some(&user), true).await?;
    if t.author != user.id.0 {
        return Err(ApiError::forbidden(
            "only the thread's author chooses its accepted answer",
        ));
    }
    let mut stored = Vec::new();
    if let Some(p) = body.post_id {
        let author: Uuid = tx
            .query_opt(
                "SELECT author_id FROM board_posts WHERE id = $1 AND thread_id = $2 AND deleted_at IS NULL AND NOT hidden",
                &[&p, &t.id],
            )
            .await?
            .map(|r| r.get(0))
            .ok_or_else(|| ApiError::new(ErrorCode::PostNotFound, "no such post in this thread"))?;
        if Some(p) == t.first_post {
            return Err(ApiError::new(
                ErrorCode::InvalidPost,
                "the question cannot be its own answer",
            ));
        }
        if author != user.id.0 {
            let by = actor_json(&tx, &user).await?;
            let note = Note {
                user: UserId(author),
                kind: "board_answer_accepted",
                key: format!("board_answer_accepted:{p}"),
                payload: json!({"threadId": t.id, "postId": p, "title": t.title, "by": by}),
                mail: state.email_notifications,
            };
            stored.extend(notify::store(&tx, note).await?);
        }
    }
    tx.execute(
        "UPDATE board_threads SET accepted_post_id = $2 WHERE id = $1",
        &[&t.id, &body.post_id],
    )
    .await?;
    let summary = load_thread_summary(&tx, t.id).await?;
    tx.commit().await?;
    notify::push(state.realtime.services.fanout.as_ref(), stored);
    if !t.hidden {
        tell_watchers(
            &state,
            t.id,
            "accepted",
            json!({"postId": body.post_id, "thread": summary}),
        );
    }
    Ok(HttpResponse::Ok().json(summary))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Moderate {
    action: String,
    category_id: Option<Uuid>,
    reason: Option<String>,
}

/// `POST /api/boards/threads/{id}/moderate` (the category's moderators,
/// admins): `lock`, `unlock`, `hide`, `unhide`, `move` (with `categoryId`).
/// Audited; the thread's author is notified.
pub async fn moderate(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: Json<Moderate>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let reason = boards::reason(b.reason.as_deref(), false)?;
    let mut client = state.pool.get().await?;
    let tx = client.transaction().await?;
    let t = thread_for(&tx, id.into_inner(), Some(&user), true).await?;
    if !t.moderator {
        return Err(ApiError::forbidden(
            "only this category's moderators and admins may moderate",
        ));
    }
    let mut details = json!({"threadId": t.id, "categoryId": t.category, "reason": reason});
    let act = match b.action.as_str() {
        "lock" | "unlock" => {
            let lock = b.action == "lock";
            tx.execute("UPDATE board_threads SET locked = $2 WHERE id = $1", &[&t.id, &lock])
                .await?;
            if lock {
                action::BOARD_THREAD_LOCKED
            } else {
                action::BOARD_THREAD_UNLOCKED
            }
        }
        "hide" | "unhide" => {
            let hide = b.action == "hide";
            tx.execute("UPDATE board_threads SET hidden = $2 WHERE id = $1", &[&t.id, &hide])
                .await?;
            if hide {
                action::BOARD_THREAD_HIDDEN
            } else {
                action::BOARD_THREAD_UNHIDDEN
            }
        }
        "move" => {
            let to = b
                .category_id
                .ok_or_else(|| ApiError::new(ErrorCode::InvalidModeration, "move needs categoryId"))?;
            tx.query_opt("SELECT 1 FROM board_categories WHERE id = $1", &[&to])
                .await?
                .ok_or_else(|| ApiError::new(ErrorCode::CategoryNotFound, "no such category"))?;
            tx.execute("UPDATE board_threads SET category_id = $2 WHERE id = $1", &[&t.id, &to])
                .await?;
            details["toCategoryId"] = json!(to);
            action::BOARD_THREAD_MOVED
        }
        _ => {
            return Err(ApiError::new(
                ErrorCode::InvalidModeration,
                "action is lock, unlock, hide, unhide or move",
            ))
        }
    };
    record_board_action(&tx, &state, &req, user.id, Some(UserId(t.author)), act, details.clone()).await?;
    let stored = notify_moderated(&tx, &user, t.author, act, &t, None, &reason, state.email_notifications).await?;
    let summary = load_thread_summary(&tx, t.id).await?;
    tx.commit().await?;
    notify::push(state.realtime.services.fanout.as_ref(), stored.into_iter().collect());
    tell_watchers(&state, t.id, "thread", json!({"action": act, "thread": summary}));
    Ok(HttpResponse::Ok().json(summary))
}

/// Tells an author that a moderator acted on their thread or post (not
/// when they acted on their own). Each action is its own event.
#[allow(clippy::too_many_arguments)]
pub async fn notify_moderated(
    client: &impl deadpool_postgres::GenericClient,
    moderator: &AuthUser,
    author: Uuid,
    act: &str,
    t: &ThreadCtx,
    post: Option<Uuid>,
    reason: &str,
    mail: bool,
) -> Result<Option<Stored>, ApiError> {
    if author == moderator.id.0 {
        return Ok(None);
    }
    let note = Note {
        user: UserId(author),
        kind: "board_moderation",
        key: format!("board_moderation:{}", Uuid::new_v4()),
        payload: json!({"action": act, "threadId": t.id, "postId": post, "title": t.title, "reason": reason}),
        mail,
    };
    Ok(notify::store(client, note).await?)
}
